"""``hub ui``: the server on loopback, and the page opened in the browser only once the server answers."""

from __future__ import annotations

import stat
import sys
import time
from pathlib import Path

import httpx
import pytest

from adapterhub.registry import Registry
from tests.inference.helpers import publish_adapter
from tests.serving.test_process import _server


@pytest.fixture
def opened(registry_dir: Path, tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registry with one adapter, and a stand-in browser (Python's webbrowser runs $BROWSER) that writes the
    URL it was given and the status the page answered at that moment to the returned file."""
    publish_adapter(Registry(registry_dir), tiny_bert, "sentiment", seed=1)
    seen = tmp_path / "opened.txt"
    script = tmp_path / "browser.py"
    script.write_text(
        "import os, sys, urllib.request\n"
        "status = urllib.request.urlopen(sys.argv[1], timeout=10).status\n"
        f"open({str(seen)!r} + '.part', 'w').write(f'{{sys.argv[1]}} {{status}}')\n"
        f"os.replace({str(seen)!r} + '.part', {str(seen)!r})\n"  # whole, or not there: the test polls for it
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("BROWSER", f"{sys.executable} {script} %s")
    return seen


def test_hub_ui_serves_the_page_and_opens_it_once_the_server_answers(registry_dir: Path, opened: Path) -> None:
    command = [sys.executable, "-m", "adapterhub", "ui", "--port"]
    with _server(Registry(registry_dir), key=None, command=command) as (_, url):
        assert httpx.get(f"{url}/ui", timeout=10).status_code == 200
        deadline = time.monotonic() + 30
        while not opened.exists():
            assert time.monotonic() < deadline, "the browser was never opened"
            time.sleep(0.1)
        assert opened.read_text() == f"{url}/ui 200"  # opened on the page, after the server answered


def test_hub_ui_no_browser_opens_nothing(registry_dir: Path, opened: Path) -> None:
    command = [sys.executable, "-m", "adapterhub", "ui", "--no-browser", "--port"]
    with _server(Registry(registry_dir), key=None, command=command) as (_, url):
        assert httpx.get(f"{url}/ui", timeout=10).status_code == 200
        time.sleep(1.5)
    assert not opened.exists()


def test_hub_ui_says_so_when_no_browser_can_be_opened(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    from adapterhub.cli import ui_command

    class Healthy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Healthy)
    Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(ui_command.webbrowser, "open", lambda url: False)  # what webbrowser does with no browser
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        ui_command._open_when_ready(f"{base}/ui", f"{base}/health")
    finally:
        server.shutdown()
    assert capsys.readouterr().err == f"no web browser to open here; open {base}/ui in one yourself\n"

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


def _browser(tmp_path: Path) -> tuple[str, Path]:
    """A stand-in browser (Python's webbrowser runs $BROWSER): it records the URL and whether the page answered
    at that moment."""
    seen = tmp_path / "opened.txt"
    script = tmp_path / "browser.py"
    script.write_text(
        "import sys, urllib.request\n"
        "status = urllib.request.urlopen(sys.argv[1], timeout=10).status\n"
        f"open({str(seen)!r}, 'w').write(f'{{sys.argv[1]}} {{status}}')\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return f"{sys.executable} {script} %s", seen


def test_hub_ui_serves_the_page_and_opens_it_once_the_server_answers(
    registry_dir: Path, tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = Registry(registry_dir)
    publish_adapter(registry, tiny_bert, "sentiment", seed=1)
    command, seen = _browser(tmp_path)
    monkeypatch.setenv("BROWSER", command)
    with _server(registry, key=None, command=[sys.executable, "-m", "adapterhub", "ui", "--port"]) as (_, url):
        assert httpx.get(f"{url}/ui", timeout=10).status_code == 200
        deadline = time.monotonic() + 30
        while not seen.exists():
            assert time.monotonic() < deadline, "the browser was never opened"
            time.sleep(0.1)
        assert seen.read_text() == f"{url}/ui 200"  # opened on the page, after the server answered


def test_hub_ui_no_browser_opens_nothing(
    registry_dir: Path, tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = Registry(registry_dir)
    publish_adapter(registry, tiny_bert, "sentiment", seed=1)
    command, seen = _browser(tmp_path)
    monkeypatch.setenv("BROWSER", command)
    with _server(registry, key=None, command=[sys.executable, "-m", "adapterhub", "ui", "--no-browser", "--port"]) as (
        _,
        url,
    ):
        assert httpx.get(f"{url}/ui", timeout=10).status_code == 200
        time.sleep(1.5)
    assert not seen.exists()

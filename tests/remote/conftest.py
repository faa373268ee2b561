"""A real S3 HTTP server (moto's server mode) on a loopback port, run as a separate process, and remotes on it
or in a plain folder; a proxy process in front of it that tests kill, restart, or use to hold a transfer at a
chosen request."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from adapterhub.registry import BaseInfo, Registry
from adapterhub.remote import Remote, RemoteRegistry
from tests.cli.conftest import hub  # noqa: F401 - the command-line fixture (`hub(*args)` -> code, out, err), shared
from tests.registry.helpers import CARD, fake_adapter
from tests.serving.test_process import _free_port as free_port

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


PROXY = Path(__file__).with_name("proxy.py")


def wait_for_port(port: int, process: subprocess.Popen, what: str) -> None:
    """Return once ``port`` accepts connections; fail the test when ``process`` dies or a minute passes."""
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"{what} did not start on port {port}")
            time.sleep(0.1)


class Proxy:
    """``proxy.py`` as a process between S3 clients and the S3 server, on one port across restarts, so that a
    remote added with :attr:`endpoint` sees the server vanish (``kill``) and come back (``start``)."""

    def __init__(self, server: str, folder: Path) -> None:
        self.server_port = int(server.rsplit(":", 1)[1])
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None
        self.log = folder / "proxy-0.log"
        self.starts = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *rules: str) -> None:
        """Start (again) on the same port with a fresh request log; ``rules`` are ``--stall``/``--gather``."""
        self.starts += 1
        self.log = self.folder / f"proxy-{self.starts}.log"
        self.log.touch()
        command = [sys.executable, str(PROXY), str(self.port), str(self.server_port), "--log", str(self.log), *rules]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.process, "the proxy")

    def kill(self) -> None:
        """SIGKILL: every connection through the proxy dies at once, mid-request or not."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait(timeout=10)

    def requests(self) -> list[str]:
        """``METHOD PATH`` of every request forwarded since the last start (``STALLED ...`` for the held one)."""
        return self.log.read_text().splitlines()

    def wait_until_stalled(self) -> str:
        """Block until the ``--stall`` rule holds a request (the transfer is mid-way); that request's line."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            stalled = [line for line in self.requests() if line.startswith("STALLED ")]
            if stalled:
                return stalled[0].removeprefix("STALLED ")
            time.sleep(0.05)
        pytest.fail(f"no request stalled; forwarded: {self.requests()}")


@pytest.fixture
def proxy(s3_endpoint: str, tmp_path: Path) -> Iterator[Proxy]:
    """A proxy in front of the S3 server, not started (call ``start``), killed when the test ends."""
    folder = tmp_path / "proxy"
    folder.mkdir()
    proxy = Proxy(s3_endpoint, folder)
    yield proxy
    proxy.kill()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a moto S3 server process, stopped when the session ends."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, server, "moto's S3 server")
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test credentials in the environment, the standard chain's first link (no profile file is read)."""
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, **{k.lower(): v for k, v in CREDENTIALS.items() if "KEY" in k})


@pytest.fixture(params=["s3", "file"])
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> Remote:
    """A fresh, empty remote: a new bucket on the S3 server, or a new folder."""
    if request.param == "file":
        folder = tmp_path / "team-adapters"
        folder.mkdir()
        return Remote("origin", f"file://{folder}")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"team-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=bucket)
    return Remote("origin", f"s3://{bucket}/adapters", endpoint_url=endpoint)


def corrupt_object(remote: Remote, key: str, change) -> None:
    """Replace the object ``key`` of ``remote`` with ``change(its bytes)``, behind the remote's back."""
    store = remote.store()
    data = store.read(key)
    assert data is not None, key
    if store.scheme == "file":
        Path(store.location, key).write_bytes(change(data))
    else:
        bucket, _, prefix = store.location.partition("/")
        s3_client(remote.endpoint_url).put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=change(data))


def catalog(remote: Remote) -> RemoteRegistry:
    """A reader of ``remote`` with its own client (as another machine would have)."""
    return RemoteRegistry(remote)


def base_folder(tmp_path: Path) -> Path:
    """A base on this machine for :data:`CARD`'s adapters (a pull refuses one whose base is not here): a model
    folder with only the config.json that the card's checks read."""
    folder = tmp_path / "tiny-base"
    if not (folder / "config.json").is_file():
        folder.mkdir(exist_ok=True)
        (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    return folder


def publish(registry: Registry, name: str, tmp_path: Path, fill: int, size: int = 64):
    """Publish a small valid adapter whose weights are ``fill`` bytes, as the next version of ``name``."""
    source = fake_adapter(tmp_path / f"src-{name}-{fill}-{uuid.uuid4().hex[:6]}", size=size, fill=fill)
    card = replace(CARD, base=BaseInfo(str(base_folder(tmp_path)), CARD.base.fingerprint))
    return registry.publish(name, source, card)

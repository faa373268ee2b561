"""A real S3 HTTP server (moto's server mode) on a loopback port, run as a separate process, and remotes on it
or in a plain folder."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapterhub.registry import Registry
from adapterhub.remote import Remote, RemoteRegistry
from tests.cli.conftest import hub  # noqa: F401 - the command-line fixture (`hub(*args)` -> code, out, err), shared
from tests.registry.helpers import CARD, fake_adapter

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a moto S3 server process, stopped when the session ends."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"moto's S3 server did not start on port {port}")
            time.sleep(0.1)
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


def publish(registry: Registry, name: str, tmp_path: Path, fill: int, size: int = 64):
    """Publish a small valid adapter whose weights are ``fill`` bytes, as the next version of ``name``."""
    source = fake_adapter(tmp_path / f"src-{name}-{fill}-{uuid.uuid4().hex[:6]}", size=size, fill=fill)
    return registry.publish(name, source, CARD)

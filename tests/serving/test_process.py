"""The real ``hub serve`` process on a free loopback port, spoken to over HTTP; SIGTERM drains it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from adapterhub.inference import Hub
from adapterhub.registry import Registry


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _server(
    registry: Registry, *args: str, key: str | None = "k", command: list[str] | None = None
) -> Iterator[tuple[subprocess.Popen, str]]:
    """``hub serve ARGS`` (or ``command`` with the port appended) until the block ends."""
    port = _free_port()
    env = {**os.environ, "ADAPTERHUB_REGISTRY": str(registry.root), "ADAPTERHUB_API_KEY": key or ""}
    process = subprocess.Popen(
        [*command, str(port)] if command else [sys.executable, "-m", "adapterhub", "serve", "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"hub serve exited with {process.returncode}: {process.stdout.read()}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("hub serve did not answer /health within 90 s")
            time.sleep(0.2)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()  # SIGTERM, as a supervisor would: workers must go with it
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        process.wait(10)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_hub_serve_answers_over_http_and_drains_on_sigterm(registry: Registry) -> None:
    auth = {"Authorization": "Bearer k"}
    with _server(registry, "--adapter", "sentiment", "--max-wait-ms", "1500") as (process, url):
        assert httpx.get(f"{url}/v1/adapters", timeout=10).status_code == 401
        adapters = httpx.get(f"{url}/v1/adapters", headers=auth, timeout=10).json()["adapters"]
        assert {a["ref"]: a["resident"] for a in adapters}["sentiment@1"] == "hot"
        metrics = httpx.get(f"{url}/metrics", headers=auth, timeout=10).text
        loads = [line for line in metrics.splitlines() if line.startswith("adapterhub_adapter_loads_total{")]
        labels = 'adapter="sentiment",kind="cold",task="sentiment",version="1"'
        assert loads == [f"adapterhub_adapter_loads_total{{{labels}}} 1.0"]  # the preload counts as a cold load

        outcome: dict[str, httpx.Response] = {}

        def call() -> None:  # waits 1.5 s in the batching window: in flight when SIGTERM arrives
            outcome["r"] = httpx.post(
                f"{url}/v1/predict", json={"adapter": "sentiment", "inputs": ["a fine day"]}, headers=auth, timeout=30
            )

        thread = threading.Thread(target=call)
        thread.start()
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        thread.join(30)
        response = outcome["r"]
        assert response.status_code == 200
        want = Hub(registry, device="cpu").predict("a fine day", adapter="sentiment")
        assert abs(response.json()["results"][0]["score"] - want.score) < 1e-6
        assert process.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has drained
        log = process.stdout.read()
        assert "loaded sentiment@1" in log
        assert log.index("Waiting for application shutdown") < log.index("Application shutdown complete")


def test_hub_serve_with_two_workers_leaves_none_behind(registry: Registry) -> None:
    auth = {"Authorization": "Bearer k"}
    with _server(registry, "--workers", "2") as (process, url):
        for _ in range(4):
            response = httpx.post(
                f"{url}/v1/predict", json={"adapter": "ner", "inputs": ["anna in paris"]}, headers=auth, timeout=30
            )
            assert response.status_code == 200 and response.json()["adapter"] == "ner@1"
        workers = [c for c in _children(process.pid) if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()]
        assert len(workers) == 2
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(w) for w in workers)  # SIGTERM to `hub serve` ends its workers too


def test_hub_serve_refuses_an_unknown_preload_with_one_line(registry: Registry) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "adapterhub", "serve", "--adapter", "nope", "--port", str(_free_port())],
        env={**os.environ, "ADAPTERHUB_REGISTRY": str(registry.root)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "no adapter named 'nope'" in result.stderr and "available: ner, poet, sentiment, topic" in result.stderr


def _local_port(response: httpx.Response) -> int | None:
    """The client-side port of the TCP connection a response came over; None once that connection is closed."""
    try:
        return response.extensions["network_stream"].get_extra_info("client_addr")[1]
    except OSError:
        return None


BROKEN_ROUTE = """
import sys
import uvicorn
from adapterhub.inference import Hub
from adapterhub.serving import ServeConfig, create_app

config = ServeConfig(registry=sys.argv[1], port=int(sys.argv[2]), api_key="k")
app = create_app(Hub(config.registry, device="cpu"), config)


def broken():  # a fault no request can cause on purpose: this route exists only in this test's server
    raise RuntimeError("DatabaseError: secret detail at /srv/private")


app.add_api_route("/v1/broken", broken)
uvicorn.run(app, host="127.0.0.1", port=config.port, log_level="info")
"""


def test_an_unexpected_error_is_a_generic_500_and_the_connection_stays_usable(registry: Registry, tmp_path) -> None:
    script = tmp_path / "serve_broken.py"
    script.write_text(BROKEN_ROUTE)
    auth = {"Authorization": "Bearer k"}
    command = [sys.executable, str(script), str(registry.root)]
    with _server(registry, command=command) as (process, url), httpx.Client(base_url=url, headers=auth) as http:
        assert http.get("/v1/adapters").status_code == 200
        broken = http.get("/v1/broken")
        ports = [_local_port(broken)]
        after = http.get("/health")
        ports.append(_local_port(after))
    assert after.status_code == 200
    assert ports[0] is not None and ports[0] == ports[1]  # the same keep-alive connection: uvicorn kept it open
    assert broken.status_code == 500 and broken.headers["content-type"] == "application/json"
    error = broken.json()["error"]
    assert error["type"] == "internal_error" and "secret" not in broken.text and error["id"] in error["message"]
    log = process.stdout.read()
    assert f"unexpected error {error['id']} on GET /v1/broken" in log and "secret detail" in log


def test_workers_never_hold_the_api_key_in_their_environment(registry: Registry) -> None:
    key = "key-" + os.urandom(8).hex()
    with _server(registry, "--workers", "2", key=key) as (process, url):
        assert httpx.get(f"{url}/v1/adapters", timeout=10).status_code == 401
        for _ in range(4):  # requests spread over both workers
            response = httpx.get(f"{url}/v1/adapters", headers={"Authorization": f"Bearer {key}"}, timeout=10)
            assert response.status_code == 200
        workers = [c for c in _children(process.pid) if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()]
        assert len(workers) == 2
        for worker in workers:
            environ = Path(f"/proc/{worker}/environ").read_bytes()
            assert key.encode() not in environ and b"ADAPTERHUB_API_KEY=" not in environ
            assert b"ADAPTERHUB_SERVE_CONFIG=" in environ  # the settings, with the key's salted digest only


def test_hub_serve_refuses_a_request_limit_above_its_queue_at_start_up(registry: Registry) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "adapterhub", "serve", "--max-queue", "8", "--port", str(_free_port())],
        env={**os.environ, "ADAPTERHUB_REGISTRY": str(registry.root)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and time.monotonic() - started < 10  # refused before torch is imported
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "--max-inputs 64 is more than --max-queue 8" in result.stderr

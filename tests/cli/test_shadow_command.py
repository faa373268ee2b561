"""``hub serve --shadow`` refusals (one line, before torch) and ``hub shadow report`` against a real server."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from adapterhub.registry import Registry
from tests.cli.test_fast_refusals import assert_refused_before_torch
from tests.inference.helpers import publish_adapter
from tests.serving.test_process import _free_port, _server


def test_serve_refuses_a_shadow_that_cannot_be_compared_in_one_line_before_torch(
    registry_dir: Path, tiny_bert: Path, other_tiny_bert: Path, tmp_path: Path
) -> None:
    registry = Registry(registry_dir)
    publish_adapter(registry, tiny_bert, "sentiment", seed=1)
    publish_adapter(registry, tiny_bert, "sentiment", seed=2)
    publish_adapter(registry, tiny_bert, "topic", task="classify", labels=("a", "b", "c"), seed=3)
    publish_adapter(registry, tiny_bert, "topic", task="classify", labels=("x", "y", "z"), seed=4)
    publish_adapter(registry, other_tiny_bert, "elsewhere", seed=5)
    cases = {
        ("--shadow", "sentiment@1=topic"): (2, "topic@2 is a classify adapter but sentiment@1"),
        ("--shadow", "topic@1=topic@2"): (2, "topic@2 has labels x, y, z but topic@1 has a, b, c"),
        ("--shadow", "sentiment=elsewhere"): (4, "a shadow must share its primary's base"),
        ("--shadow", "sentiment=sentiment@9"): (3, "sentiment has no version 9"),
        ("--shadow", "sentiment=sentiment@2"): (2, "sentiment@2 is 'sentiment' itself"),
        ("--shadow", "sentiment"): (2, "--shadow 'sentiment' is not PRIMARY=SHADOW"),
        ("--shadow", "sentiment@1=sentiment@2", "--shadow", "sentiment@01=topic"): (2, "names sentiment@01 twice"),
        ("--shadow", "sentiment@1=sentiment@2", "--max-adapters", "1"): (2, "--shadow needs --max-adapters 2"),
        ("--shadow-samples", "-1"): (2, "--shadow-samples must not be negative"),
        ("--shadow", "sentiment@1=sentiment@2", "--shadow-share", "0"): (2, "--shadow-share must be above 0 and at"),
        ("--shadow", "sentiment@1=sentiment@2", "--shadow-share", "1.5"): (2, "most 1 (got 1.5); e.g. 0.25 runs"),
    }
    assert_refused_before_torch({("serve", *c): v for c, v in cases.items()}, registry_dir, tmp_path)


def test_shadow_report_prints_the_agreement_of_a_running_server(hub, registry_dir: Path, tiny_bert: Path) -> None:
    registry = Registry(registry_dir)
    publish_adapter(registry, tiny_bert, "sentiment", seed=1)
    publish_adapter(registry, tiny_bert, "sentiment", seed=2)
    registry.tag("sentiment@1", "prod")
    texts = ["a fine film", "dull and long", "never again"]
    flags = ("--adapter", "sentiment:prod", "--shadow", "sentiment:prod=sentiment@2", "--shadow-samples", "5")
    with _server(registry, *flags, key="k") as (_, url):
        auth = {"Authorization": "Bearer k"}
        answer = httpx.post(f"{url}/v1/predict", headers=auth, json={"adapter": "sentiment:prod", "inputs": texts})
        assert answer.status_code == 200 and answer.json()["adapter"] == "sentiment@1"
        deadline = time.monotonic() + 30  # the shadow is compared after the primary has answered
        while httpx.get(f"{url}/health").json()["queue"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        expected = httpx.get(f"{url}/v1/shadows/sentiment:prod", headers=auth).json()

        code, out, err = hub("shadow", "report", "sentiment:prod", "--url", url, "--api-key", "k")
        assert (code, err) == (0, "")
        header, row = out.splitlines()[:2]
        assert header.split()[:6] == ["PRIMARY", "VERSION", "SHADOW", "STATUS", "SHARE", "COMPARED"]
        assert row.split()[:8] == [
            "sentiment:prod",
            "sentiment@1",
            "sentiment@2",
            "running",
            "100%",
            "3",
            str(expected["disagreements"]),
            f"{expected['disagreements'] / 3:.2%}",
        ]
        assert f"{expected['mean_probability_difference']:.4f}" in row

        code, out, _ = hub("shadow", "report", "sentiment:prod", "--url", url, "--api-key", "k", "--json")
        assert code == 0 and json.loads(out) == expected

        code, out, err = hub("shadow", "report", "sentiment@2", "--url", url, "--api-key", "k")
        assert (code, out) == (3, "") and err.count("\n") == 1
        assert err.startswith("error: 'sentiment@2' has no shadow (primaries with one: sentiment:prod)")

        code, _, err = hub("shadow", "report", "sentiment:prod", "--url", url)
        assert code == 2 and err == (
            f"error: the server at {url} wants an API key: pass --api-key KEY or set ADAPTERHUB_API_KEY\n"
        )


def test_shadow_report_says_in_one_line_that_no_server_answers(hub) -> None:
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    code, out, err = hub("shadow", "report", "sentiment:prod", "--url", url)
    assert (code, out) == (8, "")
    assert err.startswith(f"error: no hub serve answers at {url} (") and err.count("\n") == 1
    code, _, err = hub("shadow", "report", "Bad Name", "--url", url)
    assert code == 2 and "invalid adapter name 'Bad Name'" in err


class _KeyedStub(BaseHTTPRequestHandler):
    """Answers every GET as a keyed server does when the key is missing or wrong: 401 in the JSON error shape."""

    def do_GET(self) -> None:
        body = b'{"error": {"message": "missing or wrong API key", "type": "unauthorized", "param": null, "code": 401}}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep the test's output clean
        pass


def test_shadow_report_tells_a_wrong_key_from_a_missing_one(hub, monkeypatch) -> None:
    monkeypatch.delenv("ADAPTERHUB_API_KEY", raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeyedStub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        code, out, err = hub("shadow", "report", "sentiment:prod", "--url", url, "--api-key", "wrong")
        assert (code, out) == (2, "") and err == (
            f"error: the server at {url} refused the API key (from --api-key or ADAPTERHUB_API_KEY); "
            "pass the key the server was started with\n"
        )
        monkeypatch.setenv("ADAPTERHUB_API_KEY", "wrong")
        code, _, err = hub("shadow", "report", "sentiment:prod", "--url", url)
        assert code == 2 and "refused the API key" in err
        monkeypatch.delenv("ADAPTERHUB_API_KEY")
        code, _, err = hub("shadow", "report", "sentiment:prod", "--url", url)
        assert code == 2 and err == (
            f"error: the server at {url} wants an API key: pass --api-key KEY or set ADAPTERHUB_API_KEY\n"
        )
    finally:
        server.shutdown()

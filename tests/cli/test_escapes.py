"""Text hub did not write (a client's input, a server's answer, a card's fields) reaches the operator's terminal
with its control characters shown as escapes, as ``git`` and ``ls`` show them, never raw; ``--json`` stays
valid JSON that holds the text as it was."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from adapterhub.cli import formatting as fmt
from adapterhub.registry import Registry
from adapterhub.serving.prediction_log import Prediction, PredictionLog, log_folder
from tests.registry.helpers import CARD, fake_adapter, plant_version

Run = Callable[..., tuple[int, str, str]]
TITLE = "\x1b]0;owned\x07"  # xterm: set the window title (OSC ... BEL)
CLEAR = "\x9b2J"  # C1 CSI: clear the screen on terminals that take 8-bit controls
SHOWN = "\\x1b]0;owned\\x07"


def _raw_controls(text: str) -> list[str]:
    """The control characters of ``text`` that a terminal would act on (newlines and tabs lay out the output)."""
    return [c for c in text if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F]


def test_visible_escapes_control_characters_and_keeps_the_layout() -> None:
    assert fmt.visible("a\tb\nc é ✓") == "a\tb\nc é ✓"
    assert fmt.visible("\x00\x07\x08\r\x1b[2J\x7f\x85\x9b") == "\\x00\\x07\\x08\\r\\x1b[2J\\x7f\\x85\\x9b"
    assert fmt.visible("a\tb\nc", one_line=True) == "a\\tb\\nc"  # one line: a table cell, an error
    assert fmt.visible("\ud800") == "\\ud800"  # a lone surrogate cannot be printed: shown, not a crash
    assert fmt.table(("A", "B"), [("x\ny", TITLE)]) == f"A     B\nx\\ny  {SHOWN}"


def test_logs_shows_logged_inputs_with_their_control_characters_escaped(hub: Run, registry_dir: Path) -> None:
    text = f"{TITLE}a fine film{CLEAR}"
    log = PredictionLog(log_folder(registry_dir), max_bytes=2**30)
    registry_dir.mkdir()
    log.start()
    row = Prediction(time.time(), "r", "sentiment", 1, "sentiment", 0.01, len(text), "positive", 0.9, input=text)
    log.add([row, replace(row, label=None, score=None, error=f"Bad{TITLE}")])
    log.close()
    code, out, err = hub("logs")
    assert code == 0, err
    assert _raw_controls(out) == [] and f"{SHOWN}a fine film\\x9b2J" in out and f"error: Bad{SHOWN}" in out
    code, out, _ = hub("logs", "--json")
    assert code == 0 and _raw_controls(out) == []
    assert [r["input"] for r in json.loads(out)] == [text, text]  # the text as it was logged


class _Stub(BaseHTTPRequestHandler):
    """A server whose answers carry control characters: a shadow report, or a 404 for any other primary."""

    report: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        if self.path == "/v1/shadows/sentiment:prod":
            status, body = 200, self.report
        else:
            status, body = 404, {"error": {"message": f"no shadow{TITLE}\nsecond line", "type": "not_found"}}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _stub(report: dict[str, Any]) -> Iterator[str]:
    handler = type("Stub", (_Stub,), {"report": report})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_shadow_report_shows_a_servers_control_characters_escaped(hub: Run) -> None:
    sample = {"input": f"{TITLE}great{CLEAR}", "primary": "positive", "shadow": f"negative{TITLE}", "difference": 0.5}
    report = {
        "primary": "sentiment:prod",
        "primary_version": "sentiment@1",
        "shadow": "sentiment@2",
        "task": "sentiment",
        "share": 1.0,
        "status": "failed",
        "failure": f"sentiment@2 failed{TITLE}",
        "total": 1,
        "disagreements": 1,
        "disagreement_rate": 1.0,
        "mean_probability_difference": 0.5,
        "errors": 0,
        "samples": [sample],
    }
    with _stub(report) as url:
        code, out, err = hub("shadow", "report", "sentiment:prod", "--url", url)
        assert code == 0, err
        assert _raw_controls(out) == [] and f"{SHOWN}great\\x9b2J" in out and f"sentiment@2 failed{SHOWN}" in out
        code, out, _ = hub("shadow", "report", "sentiment:prod", "--url", url, "--json")
        assert code == 0 and json.loads(out)["samples"] == [sample]
        code, out, err = hub("shadow", "report", "sentiment:other", "--url", url)  # the server's own error text
    assert (code, out) == (3, "") and err == f"error: no shadow{SHOWN}\\nsecond line\n"  # one line, escaped


def test_list_shows_a_cards_control_characters_escaped(hub: Run, registry_dir: Path, tmp_path: Path) -> None:
    metric = f"{TITLE}accuracy"
    card = replace(CARD, metrics={metric: 0.9}, headline_metric=metric)  # as a card pulled from a remote may hold
    plant_version(Registry(registry_dir), "sentiment", fake_adapter(tmp_path / "a"), card)
    code, out, err = hub("list")
    assert code == 0, err
    assert _raw_controls(out) == [] and f"{SHOWN}accuracy=0.9" in out
    code, out, _ = hub("list", "--json")
    assert code == 0 and json.loads(out)[0]["metrics"] == {metric: 0.9}

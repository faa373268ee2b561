"""What users see from real `hub` processes, run as a shell runs them: no library warnings on stderr, one log event
per line when piped, progress bars on a terminal only.

The commands run in subprocesses because pytest's own warning filters (pyproject's filterwarnings) would hide
exactly what users see; the environment is a user's (no PYTHONWARNINGS, no forced terminal, no COLUMNS), on a CPU
with AVX512-BF16 as far as bitsandbytes can tell (see tests/cli/avx512_bf16), where it logs the most.
"""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.training.conftest import write_classification, write_instructions

HUB = Path(sys.executable).with_name("hub")  # the installed entry point
AS_AVX512_BF16 = Path(__file__).with_name("avx512_bf16")  # a sitecustomize: bitsandbytes takes that CPU's path
# Lines users should not see: Python warnings ("...: FutureWarning: ..."), transformers' logger ("[transformers]
# ..."), deprecations, tracebacks, tqdm bars ("12.3it/s]"), libraries' notes on paths they skip or fall back from
# (bitsandbytes' "Failed to load CPU gemm_4bit_forward ...", kernels' "Skipping publisher trust check ...").
NOISE = re.compile(r"warning|deprecat|\[transformers\]|traceback|it/s\]|failed to load|skipping", re.IGNORECASE)
OWN_WARNING = "warning: "  # our own line for a headline metric at or below chance, meant for users
USER_ENV = ("PYTHONWARNINGS", "COLUMNS", "LINES", "FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR", "ADAPTERHUB_DEBUG")
EVAL_LINE = re.compile(
    r"eval @ step \d+ \(epoch \d+\.\d\d\): accuracy \d\.\d{4}, macro_f1 \d\.\d{4}, loss \d+\.\d{4}, "
    r"train_loss \d+\.\d{4}"
)


def _noise(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if NOISE.search(line) and not line.startswith(OWN_WARNING)]


class Runs:
    """A registry trained by real `hub train` runs, and what each command printed."""

    def __init__(self, root: Path, tiny_bert: Path, tiny_gpt2: Path) -> None:
        self.root, self.tiny_bert = root, tiny_bert
        self.env = {k: v for k, v in os.environ.items() if k not in USER_ENV}
        paths = os.pathsep.join([str(AS_AVX512_BF16), *filter(None, [os.environ.get("PYTHONPATH")])])
        self.env.update(ADAPTERHUB_REGISTRY=str(root / "registry"), HF_HUB_OFFLINE="1", PYTHONPATH=paths)
        self.reviews = write_classification(root / "reviews.csv", n=48)
        self.pairs = write_instructions(root / "pairs.jsonl", n=16)
        self.inputs = root / "inputs.jsonl"
        rows = ["a fine film", {"text": "a dull film", "adapter": "pre"}, {"text": "the sea", "adapter": "poet"}]
        self.inputs.write_text("".join(json.dumps(row) + "\n" for row in rows))
        train = ("train", "--max-length", "24")
        self.results = {
            "train lora": self.hub(
                *train,
                "--base",
                tiny_bert,
                "--data",
                self.reviews,
                "--name",
                "lo",
                "--epochs",
                "2",
                "--batch-size",
                "8",
                "--eval-every",
                "3",
            ),
            "train prefix": self.hub(
                *train,
                "--base",
                tiny_bert,
                "--data",
                self.reviews,
                "--name",
                "pre",
                "--method",
                "prefix",
                "--prefix-tokens",
                "4",
                "--epochs",
                "1",
            ),
            "train generate prefix": self.hub(
                *train,
                "--task",
                "generate",
                "--base",
                tiny_gpt2,
                "--data",
                self.pairs,
                "--name",
                "poet",
                "--method",
                "prefix",
                "--prefix-tokens",
                "4",
                "--epochs",
                "1",
                "--batch-size",
                "8",
            ),
            "predict --file": self.hub("predict", "lo", "--file", self.inputs, "--max-new-tokens", "4"),
            "eval": self.hub("eval", "pre", "--data", self.reviews, "--no-record"),
            "export --merged": self.hub("export", "lo", "--merged", "merged"),
        }

    def hub(self, *args: Any) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(HUB), *map(str, args)], env=self.env, capture_output=True, text=True, timeout=600, cwd=self.root
        )
        assert result.returncode == 0, f"hub {' '.join(map(str, args))}: {result.stderr[-3000:]}"
        return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, tiny_bert: Path, tiny_gpt2: Path) -> Runs:
    return Runs(tmp_path_factory.mktemp("output"), tiny_bert, tiny_gpt2)


def test_no_library_warning_reaches_users(runs: Runs) -> None:
    for command, result in runs.results.items():
        assert _noise(result.stderr) == [], command
    assert json.loads(runs.hub("show", "poet").stdout)["method"] == "prefix"


def test_serve_prints_no_library_warning(runs: Runs) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = ["serve", "--port", str(port), "--adapter", "lo", "--adapter", "pre", "--adapter", "poet"]
    process = subprocess.Popen(
        [str(HUB), *args], env=runs.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.communicate()[1][-3000:]
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "hub serve did not answer /health within 120 s"
            time.sleep(0.2)
        for adapter in ("lo", "pre"):
            reply = httpx.post(f"{url}/v1/predict", json={"adapter": adapter, "inputs": ["a fine film"]}, timeout=60)
            assert reply.status_code == 200, reply.text
        body = {"model": "poet", "prompt": "the sea", "max_tokens": 3, "stream": True}
        reply = httpx.post(f"{url}/v1/completions", json=body, timeout=60)
        assert reply.status_code == 200 and "[DONE]" in reply.text, reply.text
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert "loaded poet@1 (generate, prefix)" in stderr and "Application shutdown complete" in stderr
    assert _noise(stderr) == []


def test_piped_training_log_keeps_one_event_per_line(runs: Runs) -> None:
    lines = runs.results["train lora"].stderr.splitlines()
    evals = [line for line in lines if line.startswith("eval @ step")]
    assert len(evals) == 4 and all(EVAL_LINE.fullmatch(line) for line in evals), evals
    assert max(map(len, evals)) > 80  # longer than the width rich would have wrapped them at
    assert all(line.startswith(("data: ", "eval @ step", OWN_WARNING)) for line in lines), lines


def test_piped_output_carries_no_progress(runs: Runs) -> None:
    results = runs.results
    for command in ("predict --file", "eval", "export --merged"):
        assert results[command].stderr == "", command  # no bar, no carriage return, nothing
        assert "\r" not in results[command].stdout and "\x1b" not in results[command].stdout, command
    rows = results["predict --file"].stdout.splitlines()
    assert rows[0].split() == ["#", "ADAPTER", "INPUT", "RESULT"] and [r.split()[1] for r in rows[1:]] == [
        "lo@1",
        "pre@1",
        "poet@1",
    ]
    assert results["eval"].stdout.splitlines()[0] == f"pre@1 on {runs.reviews} (48 examples)"
    assert results["export --merged"].stdout == f"exported lo@1 merged into {runs.tiny_bert} to merged\n"


def test_a_terminal_shows_progress_and_the_output_stays_as_piped(runs: Runs) -> None:
    """stderr on a pseudo-terminal, stdout piped: the bar is drawn on stderr; stdout is what a pipe gets."""
    main, child = pty.openpty()
    args = ["eval", "pre", "--data", str(runs.reviews), "--no-record"]
    process = subprocess.Popen([str(HUB), *args], env=runs.env, stdout=subprocess.PIPE, stderr=child, cwd=runs.root)
    os.close(child)
    drawn = b""
    while True:  # read as it comes, so that the terminal's buffer never blocks the command
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the command exited and closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    os.close(main)
    stdout = process.stdout.read().decode()
    assert process.wait(60) == 0, drawn[-2000:]
    assert stdout == runs.results["eval"].stdout
    screen = drawn.decode(errors="replace")
    assert "pre@1" in screen and " 0/48" in screen and "━" in screen, screen[-2000:]

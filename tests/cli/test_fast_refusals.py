"""Refusals that need no model come before torch, transformers and PEFT are imported; a missing base is one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from adapterhub.export.peft import export_adapter
from adapterhub.registry import Registry
from tests.inference.helpers import publish_adapter

# Runs each command line through the real entry point in one fresh interpreter and reports, after each, its
# exit code, what it printed on stderr and which heavy libraries had been imported by then.
DRIVER = """
import contextlib, io, json, sys
from adapterhub.cli import main

report = []
for argv in json.loads(sys.argv[1]):
    sys.argv = ["hub", *argv]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code
    heavy = [m for m in ("torch", "transformers", "peft") if m in sys.modules]
    report.append({"argv": argv, "code": code, "err": err.getvalue(), "heavy": heavy})
print(json.dumps(report))
"""


def assert_refused_before_torch(
    cases: dict[tuple[str, ...], tuple[int, str]], registry_dir: Path, tmp_path: Path
) -> None:
    """Run every ``hub`` argument list of ``cases`` in one process and check each exits with its code and one
    ``error:`` line holding its text, with no heavy module (torch, transformers, ...) imported."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ADAPTERHUB_REGISTRY": str(registry_dir)}
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps([list(c) for c in cases])],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    for row, (code, text) in zip(json.loads(done.stdout), cases.values(), strict=True):
        shown = " ".join(row["argv"])
        assert (row["code"], row["heavy"]) == (code, []), f"hub {shown}: {row}"
        assert row["err"].startswith("error: ") and text in row["err"], f"hub {shown}: {row['err']}"
        assert row["err"].count("\n") == 1, f"hub {shown}: {row['err']}"


def test_refusals_that_need_no_model_come_before_torch(registry_dir: Path, tiny_bert: Path, tmp_path: Path) -> None:
    registry = Registry(registry_dir)
    publish_adapter(registry, tiny_bert, "sentiment")
    export_adapter(registry, "sentiment", tmp_path / "exported")
    (tmp_path / "d.txt").write_text("1 good film\n0 bad film\n1 nice one\n0 awful one\n1 great\n0 poor\n")
    (tmp_path / "bad.yaml").write_text("lr: abc\n")
    cases = {
        ("train", "--task", "clasify"): (2, "unknown task 'clasify' (did you mean 'classify'?)"),
        ("train", "--method", "lroa", "--data", "d.txt"): (2, "(got 'lroa') (did you mean 'lora'?)"),
        ("train", "--data", "missing.txt"): (2, "data file or folder missing.txt does not exist"),
        ("train", "--config", "bad.yaml", "--data", "d.txt"): (2, "bad.yaml: lr: 'abc' is not a number"),
        ("train", "--name", "Bad Name", "--data", "d.txt"): (2, "invalid adapter name 'Bad Name'"),
        ("train", "--precision", "fp64"): (2, "--precision: 'fp64' is not one of auto, fp32, bf16, fp16"),
        ("train", "--schedule", "cosin"): (2, "(did you mean 'cosine'?)"),
        ("train", "--task", "ner", "--labels", "a,b"): (2, "--labels names the classes of sentiment and classify"),
        ("train", "--labels", "a,b,c", "--task", "classify", "--data", "d.txt"): (2, "--labels names 3 classes"),
        ("train", "--min-metric", "2", "--data", "d.txt"): (2, "--min-metric 2 can never be met"),
        ("train", "--base", "./models/my-bert", "--data", "d.txt"): (3, "base './models/my-bert' does not exist"),
        ("train", "--base", "bert-base-uncasd", "--data", "d.txt"): (3, "not in the local Hugging Face cache"),
        ("predict", "nope", "text"): (3, "no adapter named 'nope'"),
        ("predict", "sentiment", "--file", "missing.jsonl"): (2, "--file missing.jsonl does not exist"),
        ("predict", "sentiment,nope", "text", "--combine", "mean"): (3, "no adapter named 'nope'"),
        ("eval", "nope", "--data", "d.txt"): (3, "no adapter named 'nope'"),
        ("eval", "sentiment", "--data", "missing.txt"): (2, "data file or folder missing.txt does not exist"),
        ("compare", "sentiment", "nope", "--data", "d.txt"): (3, "no adapter named 'nope'"),
        ("serve", "--adapter", "nope"): (3, "no adapter named 'nope'"),
        ("serve", "--max-batch", "0"): (2, "max_batch must be at least 1"),
        ("export", "nope", "--merged", "out"): (3, "no adapter named 'nope'"),
        ("merge", "sentiment", "nope", "--name", "m"): (3, "no adapter named 'nope'"),
        ("import", "exported", "--name", "x", "--base", "./models/my-bert"): (3, "does not exist"),
    }
    assert_refused_before_torch(cases, registry_dir, tmp_path)


def test_every_command_that_loads_a_base_refuses_a_missing_one_in_one_line(
    hub, registry_dir: Path, tiny_bert: Path, tmp_path: Path
) -> None:
    base = tmp_path / "my-bert"
    shutil.copytree(tiny_bert, base)
    registry = Registry(registry_dir)
    publish_adapter(registry, base, "sentiment", seed=0)
    publish_adapter(registry, base, "sentiment", seed=1)
    export_adapter(registry, "sentiment@1", tmp_path / "exported")
    (tmp_path / "d.txt").write_text("1 a fine film\n0 a dull film\n")
    shutil.rmtree(base)  # the base the adapters were trained on is gone
    for argv in (
        ("predict", "sentiment", "a fine film"),
        ("eval", "sentiment", "--data", str(tmp_path / "d.txt")),
        ("compare", "sentiment@1", "sentiment@2", "--data", str(tmp_path / "d.txt")),
        ("export", "sentiment", "--merged", str(tmp_path / "merged")),
        ("merge", "sentiment@1", "sentiment@2", "--name", "both"),
        ("import", str(tmp_path / "exported"), "--name", "again"),
    ):
        code, _, err = hub(*argv)
        assert code == 3, f"hub {' '.join(argv)}: {err}"
        assert err == f"error: base {str(base)!r} does not exist; " + err.split("; ", 1)[1], err
        assert err.count("\n") == 1
    assert not (tmp_path / "merged").exists() and [r.ref for r in registry.list()] == ["sentiment@2", "sentiment@1"]


def test_a_version_of_other_digits_is_refused_in_one_line_by_every_command(registry_dir: Path, tmp_path: Path) -> None:
    from adapterhub.serving.prediction_log import Prediction, PredictionLog, log_folder

    registry_dir.mkdir()
    log = PredictionLog(log_folder(registry_dir), max_bytes=2**20)  # hub logs reads the reference once a log exists
    log.start()
    log.add([Prediction(1.0, "r", "sentiment", 2, "sentiment", 0.01, 4, "positive", 0.9)])
    log.close()
    bad = "sentiment@²"  # str.isdigit() takes '²', int() does not
    refused = (2, f"invalid version in '{bad}': a version is a positive integer of ASCII digits")
    commands = (
        ("show", bad),
        ("rm", bad),
        ("tag", bad, "prod"),
        ("predict", bad, "a fine film"),
        ("eval", bad, "--data", "d.txt"),
        ("compare", bad, "sentiment", "--data", "d.txt"),
        ("export", bad, "out"),
        ("merge", bad, "sentiment", "--name", "m"),
        ("serve", "--adapter", bad),
        ("serve", "--shadow", f"sentiment={bad}"),
        ("shadow", "report", bad),
        ("logs", "--adapter", bad),
    )
    cases = dict.fromkeys(commands, refused)
    cases[("logs", "--adapter", "sentiment@0")] = (2, "invalid version in 'sentiment@0'")
    cases[("logs", "--adapter", "Bad Name")] = (2, "invalid adapter name 'Bad Name'")
    assert_refused_before_torch(cases, registry_dir, tmp_path)

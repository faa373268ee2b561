"""Distributed training under torchrun (2 CPU processes, gloo), data parallel and sharded (FSDP): the published
adapter equals a one-process run with the same global batch, and exactly one version is published."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from adapterhub import Registry, train
from tests.tiny import save_tiny_bert
from tests.training.conftest import write_classification

ROOT = Path(__file__).resolve().parents[2]
RUN = """
import json, os, sys
import torch
from adapterhub import train
settings = json.loads(sys.argv[1])
result = train(**settings)
print(f"rank-result {result.record.ref} main={result.main_process}", flush=True)
torch.distributed.destroy_process_group()  # as torchrun scripts end
os._exit(0)  # as `hub train` ends, and the README advises: no interpreter teardown with gloo threads alive
"""


@pytest.mark.parametrize("fsdp", [False, True], ids=["ddp", "fsdp"])
def test_two_processes_publish_what_one_process_publishes(tmp_path: Path, fsdp: bool) -> None:
    data = write_classification(tmp_path / "reviews.csv", n=60)
    # dropout off (in the base too): the runs would draw different random masks, and this compares weights
    base = save_tiny_bert(tmp_path / "bert", seed=0, dropout=0.0)
    settings = dict(
        base=str(base), data=str(data), epochs=2, batch_size=9, lr=1e-2, max_length=32, dropout=0.0,
        lora_dropout=0.0, eval_every=3, patience=0, name="dist", fsdp=fsdp,
    )  # fmt: skip
    single = train(**settings, registry=tmp_path / "one")

    script = tmp_path / "run.py"
    script.write_text(RUN)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "ADAPTERHUB_REGISTRY": str(tmp_path / "two")}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    done = subprocess.run(
        [*command, str(script), json.dumps(settings)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # the two processes share the pipe and their lines can interleave mid-line: find each report in the text
    lines = sorted(re.findall(r"rank-result \S+ main=(?:True|False)", done.stdout))
    assert lines == ["rank-result dist@1 main=False", "rank-result dist@1 main=True"]

    registry = Registry(tmp_path / "two")
    assert registry.versions("dist") == [1]  # published once, by the main process
    card, one = registry.get("dist").card, single.record.card
    assert card.hyperparameters["processes"] == 2 and card.hyperparameters["sharded"] is fsdp
    # sums reduced across processes differ from one process's in the last bits: compare floats with a tolerance
    assert card.metrics.keys() == one.metrics.keys()
    for key, value in card.metrics.items():
        assert value == pytest.approx(one.metrics[key], rel=1e-4, abs=1e-5), key
    assert card.hyperparameters["best_step"] == one.hyperparameters["best_step"]
    assert [h["step"] for h in card.history] == [h["step"] for h in one.history]
    for h2, h1 in zip(card.history, one.history, strict=True):
        assert abs(h2["train_loss"] - h1["train_loss"]) < 1e-4
    ours, theirs = registry.load("dist").tensors, Registry(tmp_path / "one").load("dist").tensors
    assert ours.keys() == theirs.keys()
    for key in ours:
        torch.testing.assert_close(ours[key], theirs[key], rtol=1e-4, atol=1e-5, msg=key)


@pytest.mark.parametrize(
    ("config", "overrides", "sharded"),
    [
        ("multi_cpu.yaml", [], False),
        # the GPU recipe, run on CPU processes: accelerate says FSDP to every process, adapterhub shards with gloo
        ("fsdp.yaml", ["--num_processes", "2", "--mixed_precision", "no"], True),
    ],
)
def test_hub_train_runs_unchanged_under_accelerate_launch(
    tmp_path: Path, config: str, overrides: list[str], sharded: bool
) -> None:
    data = write_classification(tmp_path / "reviews.csv", n=40)
    base = save_tiny_bert(tmp_path / "bert", seed=0)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "ADAPTERHUB_REGISTRY": str(tmp_path / "r")}
    launch = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(ROOT / "configs" / "accelerate" / config),
    ]
    args = ["train", "--base", str(base), "--data", str(data), "--epochs", "1", "--batch-size", "8"]
    done = subprocess.run(
        [*launch, *overrides, "-m", "adapterhub", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("published sentiment@1:") == 1  # one process speaks, one version
    registry = Registry(tmp_path / "r")
    assert registry.versions("sentiment") == [1]
    card = registry.get("sentiment").card
    assert card.hyperparameters["processes"] == 2 and card.hyperparameters["sharded"] is sharded

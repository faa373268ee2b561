"""``hub train`` through the real entry point, on a tiny model."""

import json
import sys
from pathlib import Path

import pytest

from adapterhub.cli import main
from tests.training.conftest import write_classification


def _hub(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["hub", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def test_hub_train_publishes_and_lists(monkeypatch, capsys, tiny_bert: Path, tmp_path: Path) -> None:
    data = write_classification(tmp_path / "reviews.csv")
    config = tmp_path / "run.yaml"
    config.write_text("epochs: 1\nbatch_size: 8\nmax_length: 32\n")
    code, out, err = _hub(
        monkeypatch,
        capsys,
        "train",
        "--task",
        "sentiment",
        "--base",
        str(tiny_bert),
        "--data",
        str(data),
        "--config",
        str(config),
        "--epochs",
        "2",
        "--name",
        "reviews",
        "--lora-r",
        "4",
        "--tag",
        "cli",
    )
    assert code == 0, err
    assert out.startswith("published reviews@1: accuracy ")
    assert "data: 58 train / 6 eval examples; labels: negative, positive" in err
    card = json.loads(_hub(monkeypatch, capsys, "show", "reviews")[1])
    assert (card["hyperparameters"]["epochs"], card["method_config"]["r"], card["tags"]) == (2, 4, ["cli"])
    assert "reviews" in _hub(monkeypatch, capsys, "list")[1]


def test_hub_train_errors_are_one_line(monkeypatch, capsys, tmp_path: Path) -> None:
    code, _, err = _hub(monkeypatch, capsys, "train", "--task", "generate")
    assert code == 2 and err.startswith("error: --task generate needs --base: a causal LM") and err.count("\n") == 1
    code, _, err = _hub(monkeypatch, capsys, "train", "--data", str(tmp_path / "missing.csv"))
    assert code == 2 and err.startswith("error: ") and "missing.csv" in err and err.count("\n") == 1

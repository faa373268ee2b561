"""``hub train`` through the real entry point, on a tiny model."""

import json
from pathlib import Path

from tests.training.conftest import write_classification


def test_hub_train_publishes_and_lists(hub, tiny_bert: Path, tmp_path: Path) -> None:
    data = write_classification(tmp_path / "reviews.csv")
    config = tmp_path / "run.yaml"
    config.write_text("epochs: 1\nbatch_size: 8\nmax_length: 32\n")
    code, out, err = hub(
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
    card = json.loads(hub("show", "reviews")[1])
    assert (card["hyperparameters"]["epochs"], card["method_config"]["r"], card["tags"][0]) == (2, 4, "cli")
    assert "reviews" in hub("list")[1]


def test_hub_train_errors_are_one_line(hub, tmp_path: Path) -> None:
    code, _, err = hub("train", "--task", "generate")
    assert code == 2 and err.startswith("error: --task generate needs --base: a causal LM") and err.count("\n") == 1
    code, _, err = hub("train", "--data", str(tmp_path / "missing.csv"))
    assert code == 2 and err.startswith("error: ") and "missing.csv" in err and err.count("\n") == 1

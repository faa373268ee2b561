"""``hub train`` through the real entry point, on a tiny model."""

import json
from pathlib import Path

import pytest

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


def test_hub_train_json_prints_the_published_record_alone_on_stdout(hub, tiny_bert: Path, tmp_path: Path) -> None:
    data = write_classification(tmp_path / "reviews.csv")
    args = ("--base", str(tiny_bert), "--data", str(data), "--epochs", "1", "--batch-size", "8", "--max-length", "32")
    code, out, err = hub("train", *args, "--json")
    assert code == 0, err
    assert json.loads(out) == json.loads(hub("show", "sentiment@1")[1])  # the record `hub show` prints
    assert "published sentiment@1: accuracy " in err and "data: 58 train / 6 eval examples" in err


def test_hub_train_warns_below_chance_and_min_metric_refuses(
    hub, tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapterhub.tasks.classification import SequenceClassification

    def evaluate(self, model, batches, labels) -> dict[str, float]:
        for _ in batches:
            pass
        return {"accuracy": 0.5, "macro_f1": 0.4, "loss": 1.0}

    monkeypatch.setattr(SequenceClassification, "evaluate", evaluate)
    data = write_classification(tmp_path / "reviews.csv")
    args = ("--base", str(tiny_bert), "--data", str(data), "--epochs", "1", "--batch-size", "8", "--max-length", "32")
    code, out, err = hub("train", *args)
    assert code == 0 and out.startswith("published sentiment@1: accuracy 0.5000")
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        "warning: sentiment@1 scored accuracy 0.5000, at or below chance (0.5000: 1/2 for 2 balanced labels), so it "
        "learned nothing useful and is tagged below-chance; train longer (--epochs), try another --lr, check the "
        "data's labels, or pass --min-metric to refuse such an adapter"
    ]
    assert "below-chance" in json.loads(hub("show", "sentiment@1")[1])["tags"]

    code, out, err = hub("train", *args, "--min-metric", "0.8")
    assert (
        code == 7
        and out == ""
        and err.endswith("\n")
        and [e for e in err.splitlines() if "error" in e] == [err.splitlines()[-1]]
    )
    assert err.splitlines()[-1].startswith(
        "error: sentiment scored accuracy 0.5000, below --min-metric 0.8; nothing was published"
    )
    assert json.loads(hub("list", "--json")[1])[0]["version"] == 1  # still one version


def test_hub_train_labels_names_integer_classes(hub, tiny_bert: Path, tmp_path: Path) -> None:
    (tmp_path / "topics.txt").write_text("".join(f"{i % 3} film {'xyz'[i % 3]} {i}\n" for i in range(30)))
    args = ("--task", "classify", "--base", str(tiny_bert), "--data", str(tmp_path / "topics.txt"), "--epochs", "1")
    code, _, err = hub("train", *args, "--labels", "world, sports ,business")
    assert code == 0, err
    assert "labels: world, sports, business" in err
    assert json.loads(hub("show", "classify")[1])["labels"] == ["world", "sports", "business"]
    code, _, err = hub("train", *args, "--labels", "world,sports")
    assert code == 2 and err.startswith("error: --labels names 2 classes, 0..1, but ") and err.count("\n") == 1


def test_target_modules_take_commas_and_repeats_and_the_singular_name_still_works(
    hub, tiny_bert: Path, tmp_path: Path
) -> None:
    data = write_classification(tmp_path / "reviews.csv")
    args = ("--base", str(tiny_bert), "--data", str(data), "--epochs", "1", "--max-length", "16")
    code, _, err = hub("train", *args, "--target-modules", "query,value", "--target-module", "dense")
    assert code == 0, err
    assert json.loads(hub("show", "sentiment@1")[1])["method_config"]["target_modules"] == ["dense", "query", "value"]
    code, _, err = hub("train", *args, "--target-modules", "query,qkv")
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1].startswith(
        "error: --target-modules qkv: no such layer in this bert base; its linear layers are dense,"
    )
    helptext = hub("train", "--help")[1]
    assert "--target-modules" in helptext and "--target-module " not in helptext


def test_an_architecture_without_default_targets_is_one_line_naming_the_flag(
    hub, tiny_bert: Path, tmp_path: Path
) -> None:
    import shutil

    from transformers import AutoModel, RoFormerConfig

    base = tmp_path / "roformer"
    shutil.copytree(tiny_bert, base)
    config = RoFormerConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=32, embedding_size=16)  # fmt: skip
    AutoModel.from_config(config).save_pretrained(base)
    data = write_classification(tmp_path / "reviews.csv")
    code, _, err = hub("train", "--base", str(base), "--data", str(data), "--epochs", "1", "--max-length", "16")
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1].startswith(
        "error: no default LoRA target modules for model type 'roformer'; pass --target-modules"
    )
    assert "(dense, key, query, value)" in err
    assert "published" not in err

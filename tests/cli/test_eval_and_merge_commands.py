"""Commands beyond one adapter: eval, compare, predict --combine, merge, export --merged, show --plot."""

from __future__ import annotations

import json
from pathlib import Path

from adapterhub.registry import Registry
from tests.inference.helpers import publish_adapter
from tests.training.conftest import write_classification


def _reviews(tmp_path: Path) -> Path:
    path = tmp_path / "dev.txt"
    path.write_text("1 a fine film\n0 dull and slow\n1 wonderful cast\n0 a mess\n")
    return path


def test_eval_prints_the_tables_and_records_in_the_card(
    hub, registry_dir: Path, tiny_bert: Path, tmp_path: Path
) -> None:
    publish_adapter(Registry(registry_dir), tiny_bert, "sentiment")
    code, out, err = hub("eval", "sentiment", "--data", str(_reviews(tmp_path)))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"sentiment@1 on {tmp_path / 'dev.txt'} (4 examples)"
    assert lines[1].startswith("accuracy ") and "macro_f1 " in lines[1]
    assert any(line.startswith("negative ") for line in lines) and "confusion (rows: true label" in out
    card = json.loads(hub("show", "sentiment")[1])
    assert len(card["evaluations"]) == 1 and card["evaluations"][0]["examples"] == 4

    code, out, _ = hub("eval", "sentiment", "--data", str(_reviews(tmp_path)), "--json", "--no-record")
    assert code == 0 and json.loads(out)["metrics"].keys() == {"accuracy", "macro_f1"}
    assert len(json.loads(hub("show", "sentiment")[1])["evaluations"]) == 1


def test_compare_and_ensembles_from_the_command_line(hub, registry_dir: Path, tiny_bert: Path, tmp_path: Path) -> None:
    registry = Registry(registry_dir)
    publish_adapter(registry, tiny_bert, "sentiment", seed=0)
    publish_adapter(registry, tiny_bert, "sentiment", seed=1)
    publish_adapter(registry, tiny_bert, "other", labels=("bad", "good"))
    data = str(_reviews(tmp_path))

    code, out, err = hub("compare", "sentiment@1", "sentiment@2", "--data", data, "--combine", "mean")
    assert code == 0, err
    assert out.splitlines()[1].split() == ["ADAPTER", "ACCURACY", "MACRO_F1"]
    assert [line.split()[0] for line in out.splitlines()[2:]] == [
        "sentiment@1",
        "sentiment@2",
        "mean(sentiment@1,sentiment@2)",
    ]
    code, out, _ = hub("predict", "sentiment@1,sentiment@2", "a fine film", "--combine", "mean", "--json")
    assert code == 0 and json.loads(out)[0]["adapter"] == "mean(sentiment@1,sentiment@2)"

    code, _, err = hub("predict", "sentiment@1,other", "a fine film", "--combine", "mean")
    assert code == 2 and err.startswith("error: ensemble members disagree on labels") and err.count("\n") == 1
    code, _, err = hub("eval", "sentiment@1", "sentiment@2", "--data", data)
    assert code == 2 and "need combine='mean'" in err


def test_merge_export_and_plot(hub, registry_dir: Path, tiny_bert: Path, tmp_path: Path) -> None:
    data = write_classification(tmp_path / "reviews.csv")
    for seed in ("1", "2"):
        args = ["train", "--base", str(tiny_bert), "--data", str(data), "--epochs", "2", "--eval-every", "3"]
        code, _, err = hub(*args, "--seed", seed, "--batch-size", "8", "--ema", "0.9")
        assert code == 0, err
    card = json.loads(hub("show", "sentiment@1")[1])
    assert card["hyperparameters"]["ema"] == 0.9
    assert [h["step"] for h in card["history"]][:2] == [3, 6] and all("train_loss" in h for h in card["history"])

    code, out, err = hub("merge", "sentiment@1", "sentiment@2", "--weights", "0.6,0.4", "--name", "merged")
    assert code == 0, err
    assert out.startswith("published merged@1 = sentiment@1 x 0.6, sentiment@2 x 0.4 (rank 16)")
    code, _, err = hub("merge", "sentiment@1", "sentiment@2", "--weights", "0.6;0.4", "--name", "m2")
    assert code == 2 and "--weights must be numbers joined by commas" in err

    code, out, err = hub("export", "merged", "--merged", str(tmp_path / "standalone"))
    assert code == 0, err
    assert (tmp_path / "standalone" / "model.safetensors").is_file()
    code, _, err = hub("export", "merged")
    assert code == 2 and "use `hub export REF DEST`" in err

    code, _, err = hub("show", "sentiment@2", "--plot-file", str(tmp_path / "curves.png"))
    assert code == 0 and "learning curves of sentiment@2 written to" in err
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, err = hub("show", "merged", "--plot")
    assert code == 2 and "merged@1 has no training history to plot" in err


def test_eval_of_a_generate_adapter_prints_its_perplexity(
    hub, registry_dir: Path, tiny_gpt2: Path, tmp_path: Path
) -> None:
    publish_adapter(Registry(registry_dir), tiny_gpt2, "poet", task="generate")
    data = tmp_path / "pairs.jsonl"
    data.write_text('{"instruction": "write about the sea", "output": "the sea is wide"}\n')
    code, out, err = hub("eval", "poet", "--data", str(data))
    assert code == 0, err
    assert out.splitlines()[1].startswith("perplexity ") and "PRECISION" not in out

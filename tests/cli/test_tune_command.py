"""``hub tune`` through the real entry point: the trial table, the best adapter published, one-line errors."""

from pathlib import Path

from tests.training.conftest import write_classification


def test_hub_tune_prints_every_trial_and_publishes_the_best(hub, tiny_bert: Path, tmp_path: Path) -> None:
    data = write_classification(tmp_path / "reviews.csv", n=40)
    args = ["tune", "--base", str(tiny_bert), "--data", str(data), "--epochs", "1", "--batch-size", "8"]
    code, out, err = hub(*args, "--trials", "2", "--methods", "lora,prefix", "--name", "tuned")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["TRIAL", "STATE", "METHOD", "LR"] and lines[0].split()[-2:] == ["ACCURACY", "EVALS"]
    assert [line.split()[0] for line in lines[1:3]] == ["0", "1"]
    assert "published as tuned@1" in out and "trial 0: method " in err
    assert "tuned" in hub("list")[1]

    code, _, err = hub(*args, "--trials", "2", "--methods", "lora,bogus")
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("error: --methods takes some of lora, prefix, head, ia3")

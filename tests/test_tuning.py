"""``tune``: an Optuna study of real training runs; pruning, a trial table, the best published, resumable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from adapterhub import ConfigError, Registry, TrainConfig
from adapterhub.training import train as train_module
from adapterhub.tuning import TuneSettings, TuningInterrupted, tune
from tests.training.conftest import write_classification


@pytest.fixture
def config(tiny_bert: Path, tmp_path: Path) -> TrainConfig:
    data = write_classification(tmp_path / "reviews.csv", n=48)
    return TrainConfig(base=str(tiny_bert), data=str(data), epochs=2, batch_size=8, max_length=32, eval_every=2)


def test_search_publishes_the_best_trial_and_resumes(config: TrainConfig, registry_dir: Path) -> None:
    result = tune(config, TuneSettings(trials=4, methods=("lora", "head"), startup_trials=2))
    registry = Registry(registry_dir)
    assert len(result.trials) == 4 and {t.state for t in result.trials} <= {"COMPLETE", "PRUNED"}
    complete = [t for t in result.trials if t.state == "COMPLETE"]
    best = max(complete, key=lambda t: t.value)
    assert result.best_trial == best.number
    card = result.best.card
    assert result.best.ref == "sentiment@1" and card.metrics["accuracy"] == best.value
    assert card.method == best.params["method"] and card.hyperparameters["tune"]["trial"] == best.number
    assert "tuned" in card.tags
    for trial in result.trials:  # every trial names its method, learning rate and warmup
        assert trial.params["method"] in ("lora", "head") and trial.params["lr"] > 0
    assert registry.names() == ["sentiment"]  # trials live in the study's scratch registry, not here

    again = tune(config, TuneSettings(trials=4, methods=("lora", "head"), startup_trials=2))
    assert [t.number for t in again.trials] == [0, 1, 2, 3]  # nothing re-run
    assert again.best.ref == "sentiment@1" and registry.versions("sentiment") == [1]  # not published twice
    more = tune(config, TuneSettings(trials=5, methods=("lora", "head"), startup_trials=2))
    assert len(more.trials) == 5

    with pytest.raises(ConfigError, match=r"searched other settings \(methods differ"):
        tune(config, TuneSettings(trials=5, methods=("lora",)))


def test_weak_trials_are_pruned_at_an_evaluation(config: TrainConfig, monkeypatch) -> None:
    """With a median pruner and one finished trial, a trial scoring below it at its first checked evaluation stops."""
    real_fit = train_module.fit
    calls = {"n": 0}

    def fit(model, task, train, evaluation, labels, cfg, pad_id, report):
        calls["n"] += 1
        if calls["n"] > 1:  # later trials report a hopeless metric at every evaluation

            def worse(event, values):
                report(event, {**values, "accuracy": 0.0} if event == "eval" else values)

            return real_fit(model, task, train, evaluation, labels, cfg, pad_id, worse)
        return real_fit(model, task, train, evaluation, labels, cfg, pad_id, report)

    monkeypatch.setattr(train_module, "fit", fit)
    result = tune(config, TuneSettings(trials=2, startup_trials=1))
    states = [t.state for t in result.trials]
    assert states == ["COMPLETE", "PRUNED"]
    assert result.trials[1].evaluations < result.trials[0].evaluations


def test_ctrl_c_keeps_finished_trials_for_the_next_run(config: TrainConfig, registry_dir: Path, monkeypatch) -> None:
    real_fit = train_module.fit
    calls = {"n": 0}

    def fit(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(train_module, "fit", fit)
    with pytest.raises(TuningInterrupted, match=r"1 finished trial\(s\) are kept .* run the same command to resume"):
        tune(config, TuneSettings(trials=2))
    assert Registry(registry_dir).names() == []
    with sqlite3.connect(registry_dir / ".tune" / "sentiment" / "study.db") as db:
        assert db.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 2

    result = tune(config, TuneSettings(trials=2))
    assert [t.state for t in result.trials].count("COMPLETE") + [t.state for t in result.trials].count("PRUNED") == 2
    assert result.best.ref == "sentiment@1"


def test_a_search_with_prefix_on_a_family_without_a_cache_is_refused_before_any_trial(
    family_base, tmp_path: Path, registry_dir: Path
) -> None:
    """The refusal comes before the study starts, not at the first trial that happens to draw prefix."""
    import json
    import time

    base = tmp_path / "albert"
    base.mkdir()
    (base / "config.json").write_text((family_base("albert") / "config.json").read_text())
    assert json.loads((base / "config.json").read_text())["model_type"] == "albert"
    config = TrainConfig(task="sentiment", base=str(base), data=str(write_classification(tmp_path / "s.csv")))
    start = time.monotonic()
    with pytest.raises(
        ConfigError, match=r"^--method prefix does not work on ALBERT bases .*; drop prefix from --methods"
    ):
        tune(config, TuneSettings(trials=2, methods=("lora", "prefix")))
    assert time.monotonic() - start < 5
    assert not (registry_dir / ".tune").exists()

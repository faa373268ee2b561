"""FSDP settings: what the sharded path refuses, at once and by name, before any data is read. (Sharded runs
themselves are compared with one-process runs in test_distributed.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from adapterhub import train
from adapterhub.errors import ConfigError
from adapterhub.training.sharding import fsdp_requested


def test_an_fsdp_accelerate_config_turns_sharding_on(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not fsdp_requested(False)
    assert fsdp_requested(True)
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")  # what accelerate launch sets for distributed_type: FSDP
    assert fsdp_requested(False)


@pytest.mark.parametrize(
    ("env", "settings", "message"),
    [
        ({}, {"quantize": "4bit"}, "--quantize and FSDP do not combine"),
        ({"FSDP_OFFLOAD_PARAMS": "true"}, {}, "fsdp_offload_params is not supported"),
        ({"FSDP_ACTIVATION_CHECKPOINTING": "true"}, {}, "fsdp_activation_checkpointing is not supported"),
        ({"FSDP_VERSION": "1"}, {}, "set fsdp_version: 2"),
    ],
)
def test_what_sharding_does_not_do_is_refused_before_reading_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], settings: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=message):  # the data file does not exist: it was never opened
        train(task="sentiment", fsdp=True, data=str(tmp_path / "missing.csv"), registry=tmp_path / "r", **settings)


def test_fsdp_in_one_process_says_that_nothing_is_sharded(tiny_bert: Path, sentiment_csv: Path) -> None:
    notes = []
    result = train(
        task="sentiment", base=str(tiny_bert), data=str(sentiment_csv), epochs=1, batch_size=8, fsdp=True,
        report=lambda event, values: notes.append(values["text"]) if event == "note" else None,
    )  # fmt: skip
    assert any("one process, so nothing is sharded" in n for n in notes)
    assert "processes" not in result.record.card.hyperparameters  # an ordinary one-process run

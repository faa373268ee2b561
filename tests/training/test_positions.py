"""Training refuses, before its first step, a sequence longer than the base has positions for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapterhub import ConfigError, Registry, train

LONG = " ".join(["the sea is blue and wide"] * 80)  # far more tokens than the tiny GPT-2's 128 positions


def _long_instructions(path: Path) -> Path:
    rows = [{"instruction": "write about the sea", "input": "", "output": LONG}] * 8
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    ("method", "max_length", "said"),
    [
        ("lora", 300, "the longest example is 300 tokens at --max-length 300, which needs 300 positions, but the base "
         "has 128; pass --max-length 128 or less"),
        ("prefix", 128, "the longest example is 128 tokens at --max-length 128 after the prefix's 20 virtual tokens, "
         "which needs 148 positions, but the base has 128; pass --max-length 108 or less"),
    ],
)  # fmt: skip
def test_a_sequence_past_the_base_positions_is_refused_in_one_line(
    method: str, max_length: int, said: str, tiny_gpt2: Path, tmp_path: Path
) -> None:
    data = _long_instructions(tmp_path / "long.jsonl")
    with pytest.raises(ConfigError) as caught:
        train(task="generate", base=str(tiny_gpt2), data=str(data), method=method, max_length=max_length, epochs=1)
    assert str(caught.value) == said
    assert not Registry().exists()  # nothing published


def test_short_examples_train_at_a_max_length_past_the_base_positions(tiny_gpt2: Path, tmp_path: Path) -> None:
    data = tmp_path / "short.jsonl"
    data.write_text((json.dumps({"instruction": "sea", "input": "", "output": "blue and wide"}) + "\n") * 8)
    result = train(task="generate", base=str(tiny_gpt2), data=str(data), max_length=300, epochs=1, batch_size=8)
    assert result.record.ref == "generate@1"  # only sequences that really need the positions are refused

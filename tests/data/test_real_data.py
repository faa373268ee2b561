"""The real data sets in ../shared/data (slow)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapterhub.data import label_counts, load_data, read_examples
from tests.data.helpers import fails, shared, write


@pytest.mark.slow
def test_real_sst2() -> None:
    path = shared("sst/stsa.binary.train")
    split = load_data("text", str(path))
    assert split.labels == ("0", "1")
    assert len(split.train) + len(split.eval) == 6920 and len(split.eval) == 692
    assert split.description == f"{path} (6920 examples); eval: 10% seeded split (seed 13)"
    assert set(label_counts(split.eval)) == {"0", "1"}


@pytest.mark.slow
def test_real_wnut17() -> None:
    split = load_data(
        "tokens", str(shared("wnut17/wnut17train.conll")), eval_data=str(shared("wnut17/emerging.dev.conll"))
    )
    assert len(split.train) == 3394 and len(split.eval) == 1009
    assert split.labels[0] == "O" and len(split.labels) == 13
    bio = re.compile(r"O|[BI]-(person|location|group|corporation|product|creative-work)")
    for example in split.train + split.eval:
        assert len(example.tokens) == len(example.tags) > 0
        assert all(bio.fullmatch(tag) for tag in example.tags)


@pytest.mark.slow
def test_real_self_instruct() -> None:
    examples = read_examples("generation", shared("self-instruct/seed_tasks.jsonl"))
    assert len(examples) >= 175
    assert all(ex.prompt and ex.response for ex in examples)


@pytest.mark.slow
def test_real_rt_polarity_is_cp1252(tmp_path: Path) -> None:
    path = shared("rt-polarity/rt-polarity.all")
    message = fails(re.escape(f"{path}:") + r"\d+: byte 0x[0-9a-f]{2} .*not UTF-8.*iconv", "text", path)
    assert "re-encode" in message
    converted = write(tmp_path / "rt-polarity.utf8.all", path.read_bytes().decode("cp1252").encode())
    split = load_data("text", str(converted))  # 0x85 is now U+2026 and splits nothing
    assert len(split.train) + len(split.eval) == 10662 and split.labels == ("0", "1")

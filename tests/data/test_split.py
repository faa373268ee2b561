"""The seeded, stratified eval split, eval data, and the fingerprint of the examples."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import pytest

from adapterhub.data import TextExample, label_counts, load_data, read_examples
from tests.data.helpers import balanced, fails, sst, write

# ---------------------------------------------------------------------------------------------- split


def test_seeded_split_is_reproducible(tmp_path: Path) -> None:
    path = str(sst(tmp_path, balanced(100)))
    first, again, other = load_data("text", path), load_data("text", path), load_data("text", path, seed=14)
    assert first == again
    assert first.eval != other.eval
    assert len(first.eval) == 10 and len(first.train) == 90
    assert Counter(first.train + first.eval) == Counter(read_examples("text", path))
    order = {ex: i for i, ex in enumerate(read_examples("text", path))}
    assert [order[ex] for ex in first.eval] == sorted(order[ex] for ex in first.eval)  # file order kept
    assert first.description == f"{path} (100 examples); eval: 10% seeded split (seed 13)"


def test_split_is_stratified(tmp_path: Path) -> None:
    rows = [("a", f"x{i}") for i in range(90)] + [("b", f"y{i}") for i in range(10)] + [("c", "only one")]
    split = load_data("text", str(sst(tmp_path, rows)), eval_fraction=0.2)
    assert label_counts(split.eval) == {"a": 18, "b": 2}
    assert label_counts(split.train) == {"a": 72, "b": 8, "c": 1}  # the single "c" stays in train
    assert split.labels == ("a", "b", "c")


def test_split_holds_out_at_least_one(tmp_path: Path) -> None:
    split = load_data("text", str(sst(tmp_path, [("0", "a"), ("1", "b"), ("1", "c")])))
    assert len(split.eval) == 1 and split.eval[0].label == "1"
    split = load_data("generation", str(write(tmp_path / "g.txt", "one\ntwo\n")), eval_fraction=0.5)
    assert len(split.train) == len(split.eval) == 1


@pytest.mark.parametrize("fraction", [0, 0.0, -0.1, 0.51, 1, float("nan"), True])
def test_eval_fraction_bounds(tmp_path: Path, fraction: float) -> None:
    fails(re.escape("--eval-fraction must be in (0, 0.5]"), "text", sst(tmp_path, balanced()), eval_fraction=fraction)


def test_eval_fraction_half_is_allowed(tmp_path: Path) -> None:
    split = load_data("text", str(sst(tmp_path, balanced(40))), eval_fraction=0.5)
    assert len(split.eval) == 20 and label_counts(split.eval) == {"0": 10, "1": 10}


def test_too_few_to_split(tmp_path: Path) -> None:
    fails("every label has one example.*--eval-data", "text", sst(tmp_path, [("0", "a"), ("1", "b")]))
    fails("only one example, too few.*--eval-data", "generation", write(tmp_path / "g.txt", "one\n"))


def test_eval_data(tmp_path: Path) -> None:
    train, dev = sst(tmp_path, balanced(20)), sst(tmp_path, [("1", "held out"), ("0", "also")], "dev.txt")
    split = load_data("text", str(train), eval_data=str(dev))
    assert len(split.train) == 20 and split.eval == (TextExample("held out", "1"), TextExample("also", "0"))
    assert split.description == f"{train} (20 examples); eval: {dev} (2 examples)"


def test_eval_labels_unseen_in_train(tmp_path: Path) -> None:
    train = sst(tmp_path, balanced(10))
    dev = sst(tmp_path, [("1", "a"), ("7", "b"), ("3", "c")], "dev.txt")
    message = fails(
        re.escape(f"labels in {dev} that the training data never has: '3', '7'"), "text", train, eval_data=str(dev)
    )
    assert "add training examples" in message


# ---------------------------------------------------------------------------------------------- fingerprint


def test_fingerprint(tmp_path: Path) -> None:
    rows = balanced(20)
    dev = str(sst(tmp_path, [("0", "held out"), ("1", "also held out")], "dev.txt"))
    split = load_data("text", str(sst(tmp_path, rows)), eval_data=dev)
    payload = {"train": [asdict(e) for e in split.train], "eval": [asdict(e) for e in split.eval]}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    assert split.fingerprint == f"sha256:{digest}"
    assert load_data("text", str(sst(tmp_path, rows, "same.txt")), eval_data=dev).fingerprint == split.fingerprint
    changed = [*rows[:-1], ("0" if rows[-1][0] == "1" else "1", rows[-1][1])]
    assert load_data("text", str(sst(tmp_path, changed, "changed.txt")), eval_data=dev).fingerprint != split.fingerprint
    reordered = load_data("text", str(sst(tmp_path, rows[::-1], "reversed.txt")), eval_data=dev)
    assert sorted(reordered.train, key=str) == sorted(split.train, key=str)
    assert reordered.fingerprint != split.fingerprint  # the same examples in another order


def test_the_ner_split_never_holds_out_a_tag_training_lacks(tmp_path: Path) -> None:
    common = "".join(f"Paris\tB-location\nis\tO\nnice{i}\tO\n\n" for i in range(19))
    rare = "Acme\tB-corporation\nCorp\tI-corporation\nsells\tO\n\n"
    for seed in range(30):  # whichever sentences the seed draws, the one with the rare tags trains
        split = load_data("tokens", str(write(tmp_path / "d.conll", rare + common)), eval_fraction=0.5, seed=seed)
        assert any("I-corporation" in ex.tags for ex in split.train)
        assert split.eval and all(set(ex.tags) <= {"O", "B-location"} for ex in split.eval)
        assert len(split.train) + len(split.eval) == 20


def test_the_ner_split_refuses_when_every_sentence_has_its_own_tag(tmp_path: Path) -> None:
    text = "Acme\tB-corporation\n\nParis\tB-location\n\n"
    fails(
        "every sentence the split would hold out has a tag no other sentence has.*--eval-data",
        "tokens",
        write(tmp_path / "d.conll", text),
    )

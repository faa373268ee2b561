"""Token data: CoNLL files, token JSON lines and BIO tag checks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from adapterhub.data import TokenExample, load_data, read_examples
from tests.data.helpers import fails, write


def test_conll(tmp_path: Path) -> None:
    text = (
        "-DOCSTART- -X- O O\n\n"
        "Empire\tB-location\nState\tI-location\n\t\n"  # a break holding a single TAB, as in WNUT-17
        "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n   \n"  # CoNLL-2003: the token first, the tag last
        "it   O\nwas\tI-group\n"  # spaces; an I- after O is kept; no break at the end of the file
    )
    split = load_data(
        "tokens", str(write(tmp_path / "d.conll", text)), eval_data=str(write(tmp_path / "e.bio", "x\tO\n"))
    )
    assert split.train == (
        TokenExample(("Empire", "State"), ("B-location", "I-location")),
        TokenExample(("EU", "rejects"), ("B-ORG", "O")),
        TokenExample(("it", "was"), ("O", "I-group")),
    )
    assert split.labels == ("O", "B-ORG", "B-location", "I-group", "I-location")


@pytest.mark.parametrize("name", ["train.txt", "train", "train.tsv", "train.iob2"])
def test_any_extension_is_conll_for_tokens(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, "a\tO\nb\tB-x\n\nc\tO\n")
    assert read_examples("tokens", path) == (TokenExample(("a", "b"), ("O", "B-x")), TokenExample(("c",), ("O",)))


def test_tokens_jsonl(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", json.dumps({"tokens": ["New", "York"], "ner_tags": ["B-loc", "I-loc"]}) + "\n")
    assert read_examples("tokens", path) == (TokenExample(("New", "York"), ("B-loc", "I-loc")),)


@pytest.mark.parametrize("tag", ["PER", "B_PER", "X-PER", "B-", "o"])
def test_non_bio_tag(tmp_path: Path, tag: str) -> None:
    path = write(tmp_path / "d.conll", f"a\tO\n\nb\t{tag}\n")
    message = fails(re.escape(f"{path}:3: tag {tag!r} is not BIO"), "tokens", path)
    assert "B-TYPE" in message


def test_token_without_tag(tmp_path: Path) -> None:
    path = write(tmp_path / "d.conll", "a\tO\nlonely\n")
    message = fails(re.escape(f"{path}:2: token 'lonely' has no tag"), "tokens", path)
    assert "token<TAB>TAG" in message


def test_token_tag_count_mismatch(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", json.dumps({"tokens": ["a", "b", "c"], "tags": ["O", "O"]}) + "\n")
    fails(re.escape(f"{path}:1: 3 tokens but 2 tags") + ".*exactly one tag", "tokens", path)


def test_eval_tags_unseen_in_train(tmp_path: Path) -> None:
    train = write(tmp_path / "t.conll", "a\tB-per\nb\tO\n")
    dev = write(tmp_path / "d.conll", "a\tB-org\nb\tI-org\n")
    message = fails(
        "tags in .*d.conll that the training data never has: 'B-org', 'I-org'", "tokens", train, eval_data=str(dev)
    )
    assert "add training examples" in message


def test_conll_is_not_text(tmp_path: Path) -> None:
    path = write(tmp_path / "d.conll", "a\tO\n")
    fails(re.escape(f"{path} is a CoNLL token file") + ".*reads .csv", "text", path)

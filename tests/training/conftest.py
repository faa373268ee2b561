"""Small data files for training tests: easy enough for a tiny random model to learn something."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

POSITIVE = ["great", "good", "lovely", "superb", "fine"]
NEGATIVE = ["awful", "bad", "poor", "dull", "weak"]
FILLER = ["film", "book", "song", "meal", "show", "phone"]


def write_classification(
    path: Path, n: int = 64, labels: tuple[str, ...] = ("negative", "positive"), seed: int = 0
) -> Path:
    rng = random.Random(seed)
    words = {"negative": NEGATIVE, "positive": POSITIVE, "neutral": FILLER}
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        for i in range(n):
            label = labels[i % len(labels)]
            writer.writerow([f"{rng.choice(FILLER)} {rng.choice(words[label])} {rng.choice(FILLER)}", label])
    return path


def write_conll(path: Path, n: int = 40, seed: int = 0) -> Path:
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        lines += [f"{rng.choice(FILLER)}\tO", "paris\tB-location", "city\tI-location", f"{rng.choice(POSITIVE)}\tO"]
        lines += ["anna\tB-person", "smith\tI-person", "\t"]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_instructions(path: Path, n: int = 24) -> Path:
    rows = [{"instruction": "write a short poem about the sea", "input": "", "output": "the sea is blue and wide"}] * n
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def sentiment_csv(tmp_path: Path) -> Path:
    return write_classification(tmp_path / "sentiment.csv")


@pytest.fixture
def topics_csv(tmp_path: Path) -> Path:
    return write_classification(tmp_path / "topics.csv", n=60, labels=("negative", "neutral", "positive"))


@pytest.fixture
def ner_conll(tmp_path: Path) -> Path:
    return write_conll(tmp_path / "ner.conll")


@pytest.fixture
def instructions_jsonl(tmp_path: Path) -> Path:
    return write_instructions(tmp_path / "instructions.jsonl")

"""Fixtures for evaluation tests: small labelled files."""

from __future__ import annotations

from pathlib import Path

import pytest

REVIEWS = [
    ("1", "a fine and moving film"),
    ("0", "dull , slow and far too long"),
    ("1", "the cast is wonderful"),
    ("0", "i would not watch it again"),
    ("1", "funny from start to end"),
    ("0", "a mess of a script"),
    ("0", "boring"),
]

SENTENCES = [
    [("anna", "B-person"), ("went", "O"), ("to", "O"), ("paris", "B-location")],
    [("rome", "B-location"), ("is", "O"), ("warm", "O")],
    [("mary", "B-person"), ("ann", "I-person"), ("smiled", "O")],
]


@pytest.fixture
def reviews(tmp_path: Path) -> Path:
    path = tmp_path / "reviews.txt"  # the SST format: <label> <text>
    path.write_text("".join(f"{label} {text}\n" for label, text in REVIEWS))
    return path


@pytest.fixture
def sentences(tmp_path: Path) -> Path:
    path = tmp_path / "dev.conll"
    path.write_text("\n".join("".join(f"{w}\t{t}\n" for w, t in s) for s in SENTENCES))
    return path

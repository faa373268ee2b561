"""Every problem is one line that names the file, the line and the fix."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.data.helpers import fails, sst, write


def test_empty_files(tmp_path: Path) -> None:
    for name in ("e.csv", "e.txt", "e.jsonl"):
        path = write(tmp_path / name, "\n  \n")
        fails(re.escape(f"{path} is empty") + ".*give a file with examples", "text", path)
    path = write(tmp_path / "h.csv", "text,label\n")
    fails(re.escape(f"{path} has a header row but no examples"), "text", path)
    path = write(tmp_path / "d.conll", "-DOCSTART- O\n\n")
    fails(re.escape(f"{path} holds no sentences"), "tokens", path)


def test_missing_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "body,sentiment\nnice,1\n")
    message = fails(re.escape(f"{path}: no text column (looked for text, sentence, review, content)"), "text", path)
    assert "its columns are 'body', 'sentiment'" in message and "--text-column" in message
    assert "no label column" in message and "--label-column" in message  # both problems, one message
    message = fails(re.escape("no label column"), "text", path, text_column="body")
    assert "--label-column COLUMN" in message and "header" in message
    fails(
        re.escape(f"{path}: no column 'stars' (from --label-column); its columns are 'body', 'sentiment'"),
        "text",
        path,
        text_column="body",
        label_column="stars",
    )


def test_empty_text_and_label_are_collected(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "text,label\ngood,1\n,0\n  ,1\nok,\nfine,0\n")
    message = fails(re.escape(f"{path}:3: empty text in column 'text'"), "text", path)
    assert f"{path}:4: empty text" in message and f"{path}:5: empty label in column 'label'" in message
    assert "fill in or delete those lines" in message
    path = write(tmp_path / "d.jsonl", "\n".join(json.dumps({"text": f"t{i}", "label": None}) for i in range(8)))
    fails(re.escape(f"{path}:5: empty label") + r".*\(and 3 more\)", "text", path)


def test_sst_line_without_text(tmp_path: Path) -> None:
    path = write(tmp_path / "d.txt", "1 good\n0\n")
    fails(re.escape(f"{path}:2: expected '<label> <text>'"), "text", path)


def test_only_one_class(tmp_path: Path) -> None:
    path = sst(tmp_path, [("1", "a"), ("1", "b"), ("1", "c")])
    message = fails(re.escape(f"{path}: every training example has the label '1'"), "text", path)
    assert "two classes" in message and "--label-column" in message


def test_bad_json(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", '{"text": "a", "label": 1}\n{"text": "b", label: 0}\n[1, 2]\n')
    message = fails(re.escape(f"{path}:2: not valid JSON"), "text", path)
    assert f"{path}:3: a JSON array, not an object" in message and "one JSON object a line" in message


def test_multi_label_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", '{"text": "a", "label": ["x", "y"]}\n')
    fails(re.escape(f"{path}:1: label is a JSON array, not one value (column 'label')") + ".*multi-label", "text", path)


def test_cells_that_are_not_text(tmp_path: Path) -> None:
    path = write(tmp_path / "d.jsonl", '{"text": {"a": 1}, "label": 1}\n')
    fails(re.escape(f"{path}:1: column 'text' is a JSON object, not text"), "text", path)
    path = write(tmp_path / "g.jsonl", '{"instruction": "Do.", "input": ["x"], "output": "ok"}\n')
    fails(re.escape(f"{path}:1: column 'input' is a JSON array, not text"), "generation", path)
    path = write(tmp_path / "s.jsonl", '{"instruction": "Do.", "instances": [{"input": 3, "output": ""}, "x"]}\n')
    message = fails(re.escape(f"{path}:1 instance 1: empty 'output'"), "generation", path)
    assert f"{path}:1 instance 2: not an object" in message


def test_csv_row_with_wrong_field_count(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "text,label\ngood, really,1\nok,0\n")
    fails(re.escape(f"{path}:2: 3 fields but the header has 2") + ".*in quotes", "text", path)


def test_tokens_from_csv_is_refused(tmp_path: Path) -> None:
    fails("token data is read as CoNLL", "tokens", write(tmp_path / "d.csv", "token,tag\na,O\n"))

"""Text data formats: SST lines, CSV, TSV, JSON lines and arrays, column detection and labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapterhub.data import TextExample, TokenExample, label_counts, load_data, read_examples
from tests.data.helpers import sst, write


def test_sst_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "stsa.train", "1 a gripping film\r\n0\tdull , flat\n\n  \n1 fine  \n")
    examples = read_examples("text", str(path))
    assert examples == (
        TextExample("a gripping film", "1"),
        TextExample("dull , flat", "0"),
        TextExample("fine", "1"),
    )
    assert read_examples("text", str(write(tmp_path / "x.txt", path.read_text()))) == examples


def test_csv_default_columns_and_quoting(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", 'id,sentence,category\n1,"good, really",pos\n2,"bad ""very""",neg\n')
    assert read_examples("text", path) == (TextExample("good, really", "pos"), TextExample('bad "very"', "neg"))


@pytest.mark.parametrize(
    ("header", "text", "label"),
    [
        ("text,label", "text", "label"),
        ("review,labels", "review", "labels"),
        ("content,class", "content", "class"),
        ("Text,Label", "Text", "Label"),  # case is ignored when no exact name matches
        ("label,sentence,text", "text", "label"),  # the first candidate wins, not the first column
    ],
)
def test_column_detection(tmp_path: Path, header: str, text: str, label: str) -> None:
    columns = header.split(",")
    row = ",".join("hello" if c == text else "1" if c == label else "other" for c in columns)
    path = write(tmp_path / "d.csv", f"{header}\n{row}\n")
    assert read_examples("text", path) == (TextExample("hello", "1"),)


def test_tsv_has_no_quoting(tmp_path: Path) -> None:
    path = write(tmp_path / "d.tsv", "sentence\tlabel\n\" a quoted start\t1\nit 's , fine\t0\n")
    assert read_examples("text", path) == (TextExample('" a quoted start', "1"), TextExample("it 's , fine", "0"))


def test_jsonl_labels_become_strings(tmp_path: Path) -> None:
    lines = [
        {"text": "a", "label": 1},
        {"text": "b", "label": "1"},
        {"text": "c", "label": 1.0},
        {"text": "d", "label": "0.0"},
    ]
    path = write(
        tmp_path / "d.jsonl",
        "\n".join(json.dumps(x) for x in lines[:2]) + "\n\n   \n" + "\n".join(json.dumps(x) for x in lines[2:]),
    )
    assert [ex.label for ex in read_examples("text", path)] == ["1", "1", "1", "0"]


def test_json_array(tmp_path: Path) -> None:
    path = write(tmp_path / "d.json", json.dumps([{"text": "a", "label": "x"}, {"text": "b", "label": "y"}], indent=2))
    assert read_examples("text", path) == (TextExample("a", "x"), TextExample("b", "y"))


def test_column_overrides(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "body,stars,text\nnice,5,ignored\nmeh,2,ignored\n")
    assert read_examples("text", path, text_column="body", label_column="stars") == (
        TextExample("nice", "5"),
        TextExample("meh", "2"),
    )


def test_label_order(tmp_path: Path) -> None:
    rows = [(str(i), f"t{i}") for i in (10, 2, -1, 0, 2, 1)]
    assert load_data("text", str(sst(tmp_path, rows * 3))).labels == ("-1", "0", "1", "2", "10")
    named = [("pos", "a"), ("neg", "b"), ("Neutral", "c")] * 3
    assert load_data("text", str(sst(tmp_path, named, "n.txt"))).labels == ("Neutral", "neg", "pos")


def test_label_counts() -> None:
    examples = [TextExample("a", "10"), TextExample("b", "9"), TextExample("c", "10")]
    assert label_counts(examples) == {"9": 1, "10": 2}
    assert list(label_counts(examples)) == ["9", "10"]
    with pytest.raises(TypeError):
        label_counts([TokenExample(("a",), ("O",))])

"""Generation data: instruction/input/output, Self-Instruct, plain text and their errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

from adapterhub.data import GenerationExample, read_examples
from tests.data.helpers import fails, write


def test_generation_instruction_input_output(tmp_path: Path) -> None:
    rows = [
        {"instruction": "Translate.", "input": "Hallo", "output": "Hello"},
        {"instruction": "Say hi.", "input": "", "output": "hi"},
        {"instruction": "Count.", "output": "1 2 3", "extra": None},
    ]
    path = write(tmp_path / "d.jsonl", "\n".join(json.dumps(r) for r in rows))
    assert read_examples("generation", path) == (
        GenerationExample("Translate.\n\nHallo", "Hello"),
        GenerationExample("Say hi.", "hi"),
        GenerationExample("Count.", "1 2 3"),
    )


def test_generation_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", 'instruction,response\n"Name a color.",blue\n')
    assert read_examples("generation", path) == (GenerationExample("Name a color.", "blue"),)


def test_generation_self_instruct(tmp_path: Path) -> None:
    task = {
        "id": "seed_task_0",
        "instruction": "Add the numbers.",
        "instances": [{"input": "1 2", "output": "3"}, {"input": "", "output": "nothing to add"}],
        "is_classification": False,
    }
    path = write(tmp_path / "seed.jsonl", json.dumps(task) + "\n")
    assert read_examples("generation", path) == (
        GenerationExample("Add the numbers.\n\n1 2", "3"),
        GenerationExample("Add the numbers.", "nothing to add"),
    )


def test_generation_plain_text(tmp_path: Path) -> None:
    assert read_examples("generation", write(tmp_path / "d.jsonl", '{"text": "once upon"}\n')) == (
        GenerationExample("", "once upon"),
    )
    assert read_examples("generation", write(tmp_path / "d.txt", "line one\n\nline \u0085two\n")) == (
        GenerationExample("", "line one"),
        GenerationExample("", "line \u0085two"),
    )


def test_generation_column_overrides(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "question,answer\nWhy?,Because.\n")
    assert read_examples("generation", path, text_column="question", label_column="answer") == (
        GenerationExample("Why?", "Because."),
    )
    path = write(tmp_path / "s.csv", "story\nOnce.\n")
    assert read_examples("generation", path, text_column="story") == (GenerationExample("", "Once."),)


def test_generation_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "question,answer\nWhy?,Because.\n")
    message = fails(re.escape(f"{path}: no generation columns"), "generation", path)
    assert "'question', 'answer'" in message and "--text-column" in message and "--label-column" in message
    fails(re.escape("no column 'reply' (from --label-column)"), "generation", path, label_column="reply")
    path = write(tmp_path / "e.jsonl", '{"instruction": "Do.", "output": " "}\n')
    fails(re.escape(f"{path}:1: empty 'output'"), "generation", path)
    path = write(tmp_path / "f.jsonl", '{"instruction": "Do.", "instances": []}\n')
    fails(re.escape(f"{path}:1: 'instances' must be a non-empty list"), "generation", path)

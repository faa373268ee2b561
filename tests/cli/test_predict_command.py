"""``hub predict``: a table or JSON in input order, texts from arguments or a JSONL file, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from adapterhub.registry import Registry
from tests.inference.helpers import publish_adapter


def test_predict_prints_a_table_and_json_in_input_order(hub, registry_dir: Path, tiny_bert: Path) -> None:
    publish_adapter(Registry(registry_dir), tiny_bert, "sentiment")
    code, out, err = hub("predict", "sentiment", "a fine day", "an awful day")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["#", "ADAPTER", "INPUT", "RESULT"]
    assert lines[1].startswith("0  sentiment@1  a fine day") and lines[2].startswith("1  sentiment@1  an awful day")
    code, out, _ = hub("predict", "sentiment", "a fine day", "an awful day", "--json")
    rows = json.loads(out)
    assert [r["input"] for r in rows] == ["a fine day", "an awful day"]
    assert {"adapter", "label", "score", "scores"} <= set(rows[0])
    assert rows[0]["label"] in ("negative", "positive")


def test_predict_reads_a_jsonl_file_with_per_line_adapters(hub, registry_dir: Path, tiny_bert: Path, tmp_path) -> None:
    registry = Registry(registry_dir)
    publish_adapter(registry, tiny_bert, "sentiment")
    publish_adapter(registry, tiny_bert, "ner", task="ner")
    lines = ['"plain string"', '{"text": "anna in paris", "adapter": "ner"}', '{"text": "third"}']
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    code, out, err = hub("predict", "sentiment", "--file", str(tmp_path / "in.jsonl"), "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["adapter"] for r in rows] == ["sentiment@1", "ner@1", "sentiment@1"]
    assert rows[1]["words"] == ["anna", "in", "paris"] and "entities" in rows[1]


def test_predict_errors_are_one_line(hub, registry_dir: Path, tiny_bert: Path, tmp_path) -> None:
    publish_adapter(Registry(registry_dir), tiny_bert, "sentiment")
    code, _, err = hub("predict", "nope", "text")
    assert code == 3 and err.startswith("error: no adapter named 'nope'") and len(err.splitlines()) == 1
    (tmp_path / "bad.jsonl").write_text('"ok"\n{broken\n')
    code, _, err = hub("predict", "sentiment", "--file", str(tmp_path / "bad.jsonl"))
    assert code == 2 and "line 2 is not JSON" in err
    code, _, err = hub("predict", "sentiment")
    assert code == 2 and "give texts to predict" in err

"""Reading training data: every format, the seeded split, the fingerprint and every error, before any training."""

from __future__ import annotations

import hashlib
import json
import re
import sys
import types
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from adapterhub.data import (
    GenerationExample,
    TextExample,
    TokenExample,
    label_counts,
    load_data,
    read_examples,
)
from adapterhub.errors import ConfigError

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def fails(match: str, kind: Any, data: Any, **kwargs: Any) -> str:
    """The one-line ConfigError message of ``load_data(kind, data, **kwargs)``, checked against ``match``."""
    with pytest.raises(ConfigError, match=match) as info:
        load_data(kind, None if data is None else str(data), **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def sst(tmp_path: Path, rows: list[tuple[str, str]], name: str = "train.txt") -> Path:
    return write(tmp_path / name, "".join(f"{label} {text}\n" for label, text in rows))


def balanced(n: int = 40) -> list[tuple[str, str]]:
    return [(str(i % 2), f"review number {i}") for i in range(n)]


# ---------------------------------------------------------------------------------------------- text formats


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


# ---------------------------------------------------------------------------------------------- bytes


def test_lines_split_on_newline_only(tmp_path: Path) -> None:
    # U+0085 (NEL), U+2028 and a lone \r inside a line would each split it under str.splitlines()
    path = write(tmp_path / "d.txt", "1 wait\u0085 what\n0 one\u2028two\rthree\r\n".encode())
    assert read_examples("text", path) == (TextExample("wait\u0085 what", "1"), TextExample("one\u2028two\rthree", "0"))


def test_utf8_bom_is_dropped(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", b"\xef\xbb\xbftext,label\nhi,1\n")
    assert read_examples("text", path) == (TextExample("hi", "1"),)


def test_undecodable_byte_names_file_line_and_iconv(tmp_path: Path) -> None:
    path = write(tmp_path / "mr.all", b"1 fine\n0 the action clich\xe9s pile up\n1 ok\n0 more \x85 bad\n")
    message = fails(re.escape(f"{path}:2:"), "text", path)
    assert "0xe9" in message and "not UTF-8" in message and "1 more line" in message
    assert "iconv -f cp1252 -t utf-8" in message


# ---------------------------------------------------------------------------------------------- tokens


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


# ---------------------------------------------------------------------------------------------- generation


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


# ---------------------------------------------------------------------------------------------- sources


def test_folder_concatenates_sorted_data_files(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    write(folder / "b.csv", "text,label\nfrom b,1\n")
    write(folder / "a.txt", "0 from a\n")
    write(folder / "README.md", "# not data\n")
    write(folder / ".hidden.csv", "junk")
    (folder / "sub").mkdir()
    assert read_examples("text", folder) == (TextExample("from a", "0"), TextExample("from b", "1"))
    split = load_data("text", str(folder), eval_data=str(folder))
    assert split.description.startswith(f"{folder} (2 files, 2 examples); eval:")


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    write(tmp_path / "empty" / "README", "docs only")
    fails(re.escape(f"folder {tmp_path / 'empty'} holds no data files"), "text", tmp_path / "empty")


def test_default_fallback(tmp_path: Path) -> None:
    default = write(
        tmp_path / "embedded" / "reviews.csv", "text,label\n" + "".join(f"r{i},{i % 2}\n" for i in range(10))
    )
    split = load_data("text", None, default=str(default))
    assert len(split.train) + len(split.eval) == 10
    assert split.description.startswith("built-in reviews.csv (10 examples)")
    given = load_data("text", str(sst(tmp_path, balanced(10))), default=str(default))
    assert given.train[0].text.startswith("review")  # --data wins over the default


def test_data_required() -> None:
    fails("^--data is required for this task", "text", None)


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    fails(re.escape(f"data file or folder {missing} does not exist") + ".*--data", "text", missing)
    train = sst(tmp_path, balanced())
    fails(re.escape(f"{missing} does not exist") + ".*--eval-data", "text", train, eval_data=str(missing))


def test_unknown_kind(tmp_path: Path) -> None:
    fails("unknown data kind 'image'", "image", sst(tmp_path, balanced()))


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


# ---------------------------------------------------------------------------------------------- errors


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


# ---------------------------------------------------------------------------------------------- hf:


def test_hf_needs_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets raises ImportError
    fails(
        re.escape("--data hf:imdb needs the Hugging Face datasets library") + ".*pip install datasets",
        "text",
        "hf:imdb",
    )
    fails("names no data set", "text", "hf:")


def test_hf_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    def load_dataset(name: str, config: str | None = None) -> Any:
        raise ConnectionError(f"Couldn't reach '{name}' on the Hub\n(offline)")

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    message = fails(
        re.escape("cannot load Hugging Face data set hf:nope:cfg (ConnectionError: Couldn't reach 'nope'"),
        "text",
        "hf:nope:cfg",
    )
    assert "online" in message


class FakeSplit(list):
    """Just enough of a ``datasets.Dataset``: rows as dicts, ``column_names`` and ``features``."""

    def __init__(self, rows: list[dict[str, Any]], features: dict[str, Any] | None = None) -> None:
        super().__init__(rows)
        self.column_names = list(rows[0])
        self.features = features or {}


def test_hf_splits_with_a_fake_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    class_label = types.SimpleNamespace(names=["neg", "pos"])
    loaded = {
        "train": FakeSplit([{"sentence": f"s{i}", "label": i % 2} for i in range(10)], {"label": class_label}),
        "validation": FakeSplit([{"sentence": "v", "label": 1}], {"label": class_label}),
        "test": FakeSplit([{"sentence": "t", "label": -1}], {"label": class_label}),
    }
    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=lambda name, config=None: loaded))
    split = load_data("text", "hf:glue:sst2")
    assert len(split.train) == 10 and split.eval == (TextExample("v", "1"),) and split.labels == ("0", "1")
    assert (
        split.description == "hf:glue:sst2 train split (10 examples); eval: hf:glue:sst2 validation split (1 examples)"
    )
    del loaded["validation"]  # an unlabelled test split (label -1) leaves a seeded split
    assert load_data("text", "hf:glue:sst2").description.endswith("eval: 10% seeded split (seed 13)")
    tags = types.SimpleNamespace(feature=types.SimpleNamespace(names=["O", "B-per", "I-per"]))
    loaded.clear()
    loaded["train"] = FakeSplit([{"tokens": ["Ann", "Lee", "ran"], "ner_tags": [1, 2, 0]}] * 2, {"ner_tags": tags})
    assert load_data("tokens", "hf:wnut").train[0] == TokenExample(("Ann", "Lee", "ran"), ("B-per", "I-per", "O"))


# ---------------------------------------------------------------------------------------------- real data sets


def shared(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real data set {relative} is not at {SHARED_DATA} (../shared/data next to the project)")
    return path


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

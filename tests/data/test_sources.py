"""Sources: folders, the built-in default, missing paths and unknown kinds."""

from __future__ import annotations

import re
from pathlib import Path

from adapterhub.data import TextExample, load_data, read_examples
from tests.data.helpers import balanced, fails, sst, write


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

"""``hub train --method prefix`` on a family whose model takes no key/value cache: one line, exit 2, at once."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.training.conftest import write_classification


def test_prefix_on_distilbert_is_one_line_and_exit_2(
    hub: Callable[..., tuple[int, str, str]],
    family_base: Callable[[str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = tmp_path / "distilbert"
    base.mkdir()
    shutil.copy(family_base("distilbert") / "config.json", base / "config.json")  # no weights: none are read
    data = write_classification(tmp_path / "reviews.csv")
    capsys.readouterr()  # what saving the base printed
    code, out, err = hub("train", "--method", "prefix", "--base", str(base), "--data", str(data))
    assert code == 2 and out == ""
    assert err == (
        "error: --method prefix does not work on DistilBERT bases (model_type distilbert): their attention takes no "
        "key/value cache, so a prefix has nowhere to go; use --method lora (or --method head)\n"
    )

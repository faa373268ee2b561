"""Bytes: lines split on \\n only, a UTF-8 BOM dropped, undecodable bytes named with the iconv fix."""

from __future__ import annotations

import re
from pathlib import Path

from adapterhub.data import TextExample, read_examples
from tests.data.helpers import fails, write


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

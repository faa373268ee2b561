"""Data files on disk: the data files of a folder, and the lines of one file decoded as strict UTF-8."""

from __future__ import annotations

import codecs
import re
import shlex
from pathlib import Path

from adapterhub.errors import ConfigError

_NOT_DATA = re.compile(r"(readme|licen[cs]e|copying|notice|sha\d*sums|md5sums)(\..*)?|.*\.md", re.IGNORECASE)


def data_files(data: str | Path, flag: str) -> list[Path]:
    path = Path(data).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(
            (
                p
                for p in path.iterdir()
                if p.is_file() and not p.name.startswith(".") and not _NOT_DATA.fullmatch(p.name)
            ),
            key=lambda p: p.name,
        )
        if not files:
            raise ConfigError(
                f"folder {data} holds no data files; put .csv, .tsv, .jsonl, .conll or .txt files in it, "
                f"or give one file with {flag}"
            )
        return files
    if path.exists():
        raise ConfigError(f"{data} is neither a file nor a folder; give a data file or folder with {flag}")
    raise ConfigError(
        f"data file or folder {data} does not exist (relative to {Path.cwd()}); check the path given to {flag}"
    )


def read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 file, split on ``\\n`` only (a trailing ``\\r`` dropped), a leading BOM dropped."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}; check that it is readable") from exc
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        text = raw.decode("utf-8")  # strict; b"\n" never occurs inside a UTF-8 sequence, so lines split the same
    except UnicodeDecodeError as exc:
        raise ConfigError(_encoding_message(path, raw, exc)) from None
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def _encoding_message(path: Path, raw: bytes, exc: UnicodeDecodeError) -> str:
    line = raw.count(b"\n", 0, exc.start) + 1
    column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
    bad = 0
    for chunk in raw.split(b"\n"):
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            bad += 1
    others = f" ({bad - 1} more lines are not UTF-8 either)" if bad > 1 else ""
    target = f"{path.stem}.utf8{path.suffix}"  # in the working directory: the data folder may be read-only
    return (
        f"{path}:{line}: byte 0x{raw[exc.start]:02x} at column {column} is not UTF-8{others}; re-encode the file "
        f"to UTF-8, e.g. iconv -f cp1252 -t utf-8 {shlex.quote(str(path))} > {shlex.quote(target)}"
    )

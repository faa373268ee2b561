"""What a card from a remote must be before anything it names is read or written.

A remote is trusted for nothing (until versions are signed): whoever can write to its bucket or folder can put
any card there. :func:`check_card` is the one check that every pull, every server pulling from a remote and
every remote listing runs on a card, before a blob is read or a byte is written. It checks what
:meth:`~adapterhub.registry.Registry.publish` checks of a card, and what only a card from elsewhere can get
wrong: each digest 64 lower-case hex digits (a digest names a file in the download cache, so a path there
would delete or read anything), each size a count of bytes a file of its kind can have (so a claim bounds what
a download may take), exactly the files a version holds (so no code or pickle rides along), names and version
numbers as the registry writes them, a base id that is a hub id or an absolute folder, and no control
character anywhere or markup in a field shown as a name (so nothing the remote wrote can drive a terminal or
a page). :func:`base_problem` adds, for a version about to be pulled, that its base is on this machine and
that its card records the weights this registry's versions on that base record.

A refusal is one line: :class:`~adapterhub.errors.RegistryCorrupt` naming the version, the field and the value
(escaped, shortened), or :class:`~adapterhub.errors.IncompatibleAdapter` for a base.
"""

from __future__ import annotations

import json
import re
import reprlib
from pathlib import Path
from typing import Any, NoReturn

from adapterhub.base import _looks_like_path, resolve_base
from adapterhub.cards.card import Card
from adapterhub.errors import RegistryCorrupt
from adapterhub.names import MAX_VERSION, is_valid_name
from adapterhub.registry import Registry
from adapterhub.registry.validation import (
    CONFIG_FILE,
    README_FILE,
    WEIGHTS_FILE,
    card_problems,
    version_file_problems,
)

# the most bytes each file of a version may take: a config or a README is text of a few kB; weights of a
# LoRA on the largest bases take a few GB
MAX_FILE_BYTES = {CONFIG_FILE: 16 << 20, README_FILE: 16 << 20, WEIGHTS_FILE: 64 << 30}
_DIGEST = re.compile(r"[0-9a-f]{64}")
# C0 controls but tab and newline, DEL, C1 controls (ESC and CSI start terminal sequences), and the bidi
# controls that make text display other than it reads
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_MARKUP = re.compile(r"[<>\n\t]")  # in a field shown as a name: markup, or a break in a table's row
_KINDS = {str: "string", int: "integer", dict: "JSON object", list: "JSON list"}
_TYPES: dict[str, type] = {
    "name": str,
    "version": int,
    "task": str,
    "method": str,
    "task_type": str,
    "headline_metric": str,
    "created": str,
    "adapterhub_version": str,
    "base": dict,
    "files": dict,
    "data": dict,
    "inference": dict,
    "method_config": dict,
    "hyperparameters": dict,
    "metrics": dict,
    "labels": list,
    "tags": list,
    "history": list,
    "evaluations": list,
    "lineage": list,
    "size_bytes": int,
    "trainable_params": int,
    "format": int,
}


def check_card(data: bytes, name: str, version: int, remote: str) -> Card:
    """The card ``data`` that remote ``remote`` holds as ``name@version``, once it passes every check (see the
    module); :class:`RegistryCorrupt` naming the first problem otherwise."""
    where = f"{name}@{version} from remote {remote}"

    def refuse(problem: str) -> NoReturn:
        raise RegistryCorrupt(f"refusing {where}: {problem}")

    if not is_valid_name(name) or not 1 <= version <= MAX_VERSION:
        refuse(f"a version is NAME@1 to NAME@{MAX_VERSION}")

    try:
        raw = json.loads(data)
    except (ValueError, RecursionError) as exc:
        refuse(f"unreadable card ({_line(exc)}); the remote is damaged")
    if not isinstance(raw, dict):
        refuse("unreadable card (not a JSON object); the remote is damaged")
    if (problem := _control_characters(raw)) is not None:
        refuse(problem)
    if raw.get("name") != name or _int(raw.get("version")) != version:
        said, number = raw.get("name"), raw.get("version")
        said = said if isinstance(said, str) and is_valid_name(said) else _show(said)
        refuse(f"card.json says {said}@{number if _int(number) is not None else _show(number)}; the remote is damaged")
    for field, kind in _TYPES.items():
        if field in raw and (not isinstance(raw[field], kind) or isinstance(raw[field], bool)):
            refuse(f"{field} is {_show(raw[field])}, not a {_KINDS[kind]}")
    for problem in _file_problems(raw):
        refuse(problem)
    for problem in _field_problems(raw):
        refuse(problem)
    try:
        card = Card.from_dict(raw)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        refuse(f"unreadable card ({_line(exc)})")
    problems = card_problems(card)
    if problems:
        refuse(f"its card would not be published here: {'; '.join(problems)}")
    return card


def card_too_large(name: str, version: int, remote: str, limit: int) -> RegistryCorrupt:
    """The refusal of a card object larger than ``limit`` bytes (never read past that)."""
    return RegistryCorrupt(
        f"refusing {name}@{version} from remote {remote}: its card.json is larger than {limit} bytes, and a card "
        "takes a few kB; the remote is damaged"
    )


def base_problem(card: Card, registry: Registry) -> str | None:
    """Why ``card`` cannot be pulled into ``registry`` for its base, or None: the base must be on this machine
    (a model folder, the embedded default, or in the Hugging Face cache: a remote never makes this machine
    fetch a model), and when the registry holds versions on that base id, the card must record the weights
    they record (one id, one set of weights)."""
    base = card.base
    if not _on_this_machine(base.id):
        return (
            f"its base {_show(base.id)} is not on this machine (no such model folder, and not in the Hugging Face "
            "cache), so the card cannot be checked against it and nothing should fetch what a remote names; get "
            "the base first (`hf download ID` or the folder), then pull again"
        )
    if registry.exists():
        recorded = {r.card.base.fingerprint for r in registry.list(base=base.id)}
        if recorded and base.fingerprint not in recorded:
            seen = ", ".join(f"{f[:19]}…" for f in sorted(recorded))
            return (
                f"its card names base {_show(base.id)} with the weights {base.fingerprint[:19]}…, but this "
                f"registry's versions on that base record {seen}: another base under the same id"
            )
    return None


def _on_this_machine(base_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache  # huggingface_hub: loaded on first use
    from huggingface_hub.utils import HFValidationError, validate_repo_id  # huggingface_hub: loaded on first use

    path = Path(resolve_base(base_id))
    if path.is_dir():
        return (path / "config.json").is_file()
    if _looks_like_path(base_id):
        return False
    try:
        validate_repo_id(base_id)
    except HFValidationError:
        return False
    return isinstance(try_to_load_from_cache(base_id, "config.json"), str)


def _file_problems(raw: dict[str, Any]) -> list[str]:
    """The files the card lists: plain names, exactly a version's set, a digest and a sane size each."""
    files = raw.get("files")
    if not isinstance(files, dict) or not files:
        return ["card.json lists no files"]
    for filename in files:
        if not _plain(filename):
            return [f"card.json lists the file {_show(filename)}, which is not a plain name"]
    problems = version_file_problems(str(raw.get("method", "")), files)
    if problems:
        return [f"card.json: {problems[0]}"]
    for filename, info in sorted(files.items()):
        if not isinstance(info, dict) or set(info) != {"sha256", "bytes"}:
            return [f"{filename}: its entry is {_show(info)}, not {{sha256, bytes}}"]
        digest, size = info["sha256"], info["bytes"]
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            return [f"{filename}: sha256 {_show(digest)} is not 64 lower-case hex digits"]
        limit = MAX_FILE_BYTES[filename]
        if _int(size) is None or not 0 <= size <= limit:
            return [f"{filename}: {_show(size)} bytes is not a size this file can have (0 to {limit})"]
    total = sum(info["bytes"] for info in files.values())
    if "size_bytes" in raw and raw["size_bytes"] != total:
        return [f"size_bytes is {raw['size_bytes']} but its files take {total}"]
    if _int(raw.get("trainable_params", 0)) is None or raw.get("trainable_params", 0) < 0:
        return [f"trainable_params is {_show(raw.get('trainable_params'))}"]
    return []


def _field_problems(raw: dict[str, Any]) -> list[str]:
    """The fields shown as names (in `hub list`, the web page, predictions): strings without markup; metric
    values numbers; the base id a hub id or an absolute folder."""
    base = raw.get("base")
    if not isinstance(base, dict) or not all(isinstance(base.get(k), str) for k in ("id", "fingerprint")):
        return [f"base is {_show(base)}, not {{id, fingerprint}} as strings"]
    inference = raw.get("inference") or {}
    shown: list[tuple[str, Any]] = [(f, raw.get(f, "")) for f in ("task", "method", "task_type", "headline_metric")]
    shown += [("base.id", base["id"]), ("inference.pooling", inference.get("pooling"))]
    shown += [("inference.quantize", inference.get("quantize"))]
    shown += [(f"{f}[{i}]", v) for f in ("labels", "tags") for i, v in enumerate(raw.get(f) or ())]
    shown += [(f"metrics key {k!r}", k) for k in raw.get("metrics") or {}]
    for field, value in shown:
        if value is not None and not isinstance(value, str):
            return [f"{field} is {_show(value)}, not a string"]
        if value and _MARKUP.search(value):
            return [f"{field} {_show(value)} holds markup or a line break (<, >, tab, newline), which no name holds"]
    for key, value in (raw.get("metrics") or {}).items():
        if _int(value) is None and not isinstance(value, float):
            return [f"metrics[{key!r}] is {_show(value)}, not a number"]
    base_id = base["id"]
    if base_id.startswith(("./", "../", "~")) or base_id in (".", "..") or "/../" in f"{base_id}/":
        return [f"base.id {_show(base_id)} is a relative path; a base is a hub id or an absolute folder"]
    return []


def _control_characters(raw: Any) -> str | None:
    """Where a string of the card (a key or a value, at any depth) holds a control character, or None."""
    stack: list[tuple[str, Any]] = [("", raw)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if _CONTROL.search(value):
                return f"{path or 'the card'} holds control characters ({_show(value)}), which no card holds"
        elif isinstance(value, dict):
            for key, item in value.items():
                if _CONTROL.search(key):
                    return f"{path or 'the card'} has a key with control characters ({_show(key)})"
                inner = key if not path else f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]"
                stack.append((inner, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return None


def _plain(filename: str) -> bool:
    """A file name as a version folder holds it: one path component, not hidden, not the card."""
    return (
        0 < len(filename) <= 255
        and "/" not in filename
        and "\\" not in filename
        and not filename.startswith(".")
        and filename != "card.json"
    )


def _int(value: Any) -> int | None:
    """``value`` when it is an int (a JSON integer, not true or false), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _show(value: Any) -> str:
    """``value`` as a message shows what a remote wrote: escaped (repr) and short."""
    return _SHORT.repr(value)


def _short() -> reprlib.Repr:
    short = reprlib.Repr()
    short.maxstring = short.maxother = 80
    short.maxlist = short.maxdict = 4
    short.maxlevel = 2
    return short


_SHORT = _short()


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__

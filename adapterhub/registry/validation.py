"""What publishing and ``verify`` check: the card against itself, against the adapter's files and, where it is
cheap (a local base folder's ``config.json``), against the base.

A card that disagrees with its tensors breaks every bare-name use of the adapter once it is the newest
version, so a disagreement is refused when publishing and reported by ``verify``. Nothing here imports torch:
tensors are known by the shapes in the safetensors header.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from adapterhub.base import resolve_base
from adapterhub.cards.card import CARD_FILE, Card
from adapterhub.cards.records import Problem
from adapterhub.errors import ConfigError, IncompatibleAdapter, RegistryCorrupt
from adapterhub.methods import METHODS, for_peft_type
from adapterhub.methods.lora import LORA_KEY
from adapterhub.methods.method import Tensor
from adapterhub.registry.files import safetensors_header, sha256_file
from adapterhub.registry.paths import link_target
from adapterhub.tasks import HEAD_KINDS, TASK_TYPES

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
REQUIRED_FILES = (CONFIG_FILE, WEIGHTS_FILE)
README_FILE = "README.md"  # a model card a person wrote, kept beside the adapter (PEFT's empty template is not)
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")

HEAD_TASK_TYPES = tuple(HEAD_KINDS)  # the PEFT task types whose adapters carry a classification head
# PEFT saves a classification head under one of these modules (its modules_to_save for SEQ_CLS / TOKEN_CLS).
HEAD_MODULES = ("classifier", "score")
_FINGERPRINT = re.compile(r"sha256:[0-9a-f]{64}")
_KEY_PREFIXES = ("base_model.model.", "base_model.")
_DIGITS = re.compile(r"(\d+)")


def source_files(source: Path) -> list[Path]:
    """The files of a PEFT adapter folder to publish; :class:`ConfigError` naming every reason it cannot be."""
    if not source.is_dir():
        raise ConfigError(f"{source} is not a directory; give the folder that PEFT's save_pretrained wrote")
    entries = sorted(source.iterdir())
    problems = []
    missing = [f for f in REQUIRED_FILES if not (source / f).is_file()]
    if missing:
        found = ", ".join(p.name for p in entries) or "nothing"
        hint = " (convert .bin weights to safetensors first)" if (source / "adapter_model.bin").exists() else ""
        problems.append(f"{source} lacks {', '.join(missing)}{hint}; it holds {found}")
    pickles = [p.name for p in entries if p.suffix in PICKLE_SUFFIXES]
    if pickles:
        problems.append(f"refusing pickle files {pickles}: adapterhub stores safetensors only")
    folders = [p.name for p in entries if p.is_dir()]
    if folders:
        problems.append(f"unexpected sub-folders {folders}: save the adapter under the name 'default'")
    if problems:
        raise ConfigError("; ".join(problems))
    read_config(source / CONFIG_FILE)
    safetensors_header(source / WEIGHTS_FILE)
    return [
        p
        for p in entries
        if p.is_file() and p.name != CARD_FILE and not p.name.startswith(".") and not is_peft_template_readme(p)
    ]


def read_config(path: Path) -> dict[str, Any]:
    """A PEFT ``adapter_config.json`` as a dict; :class:`ConfigError` when it is not one."""
    try:
        config = json.loads(path.read_text())
        if not isinstance(config, dict) or "peft_type" not in config:
            raise ValueError("no peft_type")
    except ValueError as exc:
        raise ConfigError(f"{path} is not a PEFT adapter config ({exc})") from exc
    return config


def check_publishable(name: str, source: Path, card: Card) -> None:
    """Refuse, in one line, a card that contradicts itself (:class:`ConfigError`) or that disagrees with the
    files in ``source`` or with the base (:class:`IncompatibleAdapter`)."""
    problems = card_problems(card)
    if problems:
        raise ConfigError(f"refusing to publish {name}: {'; '.join(problems)}; nothing was published")
    config = read_config(source / CONFIG_FILE)
    header = safetensors_header(source / WEIGHTS_FILE)
    problems = file_problems(card, config, header, base_config(card.base.id))
    if problems:
        raise IncompatibleAdapter(
            f"refusing to publish {name}: its card disagrees with its files: {'; '.join(problems)}; "
            "nothing was published"
        )


def stored_file_problems(where: str, directory: Path, card: Card) -> list[Problem]:
    """A version folder's files against its card: each listed file present (not a symlink), of the recorded
    size and sha256, and nothing unlisted."""
    problems = []
    for filename in REQUIRED_FILES:
        if filename not in card.files:
            problems.append(Problem(where, filename, "missing from the card"))
    for filename, info in sorted(card.files.items()):
        path = directory / filename
        if (target := link_target(path)) is not None:
            problems.append(Problem(where, filename, f"a symlink (to {target}); a registry holds none"))
        elif not path.is_file():
            problems.append(Problem(where, filename, "missing"))
        elif path.stat().st_size != info.bytes:
            problems.append(Problem(where, filename, f"size {path.stat().st_size} bytes, card says {info.bytes}"))
        elif sha256_file(path) != info.sha256:
            problems.append(Problem(where, filename, "sha256 does not match the card (corrupt or tampered)"))
    for path in sorted(directory.iterdir()):
        if path.name != CARD_FILE and path.name not in card.files:
            problems.append(Problem(where, path.name, "not listed in the card"))
    return problems


def version_file_problems(method: str, filenames: Iterable[str]) -> list[str]:
    """What is wrong with the file set of a version of ``method`` whose card lists ``filenames``: a version holds
    the adapter's config and weights, and may hold a README.md, and nothing else (no code, no pickle, no
    folder). Pulls refuse any other set; adoption refuses it too."""
    names = sorted(filenames)
    allowed = (*REQUIRED_FILES, README_FILE)
    problems = []
    if method not in METHODS:
        problems.append(f"method {method!r} is not one adapterhub stores ({', '.join(METHODS)})")
    missing = [f for f in REQUIRED_FILES if f not in names]
    if missing:
        problems.append(f"it lacks {', '.join(missing)}")
    extra = [f for f in names if f not in allowed]
    if extra:
        listed = ", ".join(repr(f[:80]) for f in extra[:5]) + (" …" if len(extra) > 5 else "")
        problems.append(
            f"it lists {listed}, which no version holds (a version holds {CONFIG_FILE}, {WEIGHTS_FILE} and "
            f"optionally {README_FILE})"
        )
    return problems


def content_problems(directory: Path, card: Card, bases: dict[str, dict[str, Any] | None]) -> list[str]:
    """What :func:`check_publishable` would refuse in a stored version (its files already verified);
    ``bases`` caches each base's ``config.json`` across versions."""
    if card.base.id not in bases:
        bases[card.base.id] = base_config(card.base.id)
    try:
        config = read_config(directory / CONFIG_FILE)
        header = safetensors_header(directory / WEIGHTS_FILE)
    except (ConfigError, RegistryCorrupt) as exc:
        return [str(exc)]
    return card_problems(card) + file_problems(card, config, header, bases[card.base.id])


def card_problems(card: Card) -> list[str]:
    """What is wrong with the card on its own (empty fields, a task type that contradicts the task, labels, the
    types of its inference settings)."""
    problems = []
    for field, value in (("task", card.task), ("method", card.method), ("base.id", card.base.id)):
        if not value:
            problems.append(f"the card has no {field}")
    if not _FINGERPRINT.fullmatch(card.base.fingerprint):
        problems.append(
            f"the card's base fingerprint {card.base.fingerprint[:24]!r} is not sha256:<64 hex digits> "
            "(take it with adapterhub.base.fingerprint)"
        )
    expected = TASK_TYPES.get(card.task)
    if expected and card.task_type != expected:
        problems.append(f"task {card.task} needs task_type {expected}, the card says {card.task_type or 'none'!r}")
    classifies = card.task_type or expected or ""
    if classifies in HEAD_TASK_TYPES:
        if not card.labels:
            problems.append(f"a {classifies} card needs its label names (labels), in class-index order")
        elif len(set(card.labels)) != len(card.labels):
            repeated = sorted({x for x in card.labels if card.labels.count(x) > 1})
            problems.append(f"the card repeats labels {repeated}")
        elif not all(isinstance(x, str) and x for x in card.labels):
            problems.append("every label must be a non-empty string")
    elif card.labels:
        problems.append(
            f"the card lists {len(card.labels)} labels but a {classifies or 'task-less'} adapter has no "
            "classification head (labels belong to SEQ_CLS and TOKEN_CLS adapters)"
        )
    return problems + card.inference.problems()


def file_problems(
    card: Card, config: dict[str, Any], header: dict[str, Any], base_config: dict[str, Any] | None = None
) -> list[str]:
    """Where the card disagrees with ``adapter_config.json`` (``config``), the tensors (the safetensors
    ``header``) or the base's ``config.json`` (``base_config``, when known)."""
    tensors = _tensors(header)
    peft_type = str(config.get("peft_type") or "")
    problems = []
    method = METHODS.get(card.method)
    want = method.peft_type if method else card.method.upper()
    if peft_type != want:
        problems.append(f"the card's method {card.method} is a {want} adapter, but adapter_config.json has {peft_type}")
    config_task_type = config.get("task_type") or ""
    if card.task_type != config_task_type:
        problems.append(
            f"the card's task_type {card.task_type or 'none'!r} differs from adapter_config.json's "
            f"{config_task_type or 'none'!r}"
        )
    problems += _head_problems(card, tensors, base_config)
    checks = method if method and method.peft_type == peft_type else for_peft_type(peft_type)
    if checks is not None:
        body = [t for t in tensors if not _is_head(t.key)]
        problems += checks.file_problems(card.method_config, config, body, base_config)
    return problems


def base_config(base_id: str) -> dict[str, Any] | None:
    """The base's ``config.json`` when the base is a local folder (or the embedded default), else None."""

    path = Path(resolve_base(base_id)) / "config.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_peft_template_readme(path: Path) -> bool:
    """True for the README.md that PEFT's ``save_pretrained`` writes on its own: the empty model-card template
    (every field ``[More Information Needed]``, ``base_model`` an absolute path). It describes nothing, so the
    registry does not store it; a README a person wrote is kept."""
    if path.name != "README.md" or not path.is_file():
        return False
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return False
    front, _, body = text.removeprefix("---\n").partition("\n---\n")
    return (
        text.startswith("---\n")
        and re.search(r"^library_name: peft$", front, re.M) is not None
        and "# Model Card for Model ID" in body
        and "[More Information Needed]" in body
    )


def _tensors(header: dict[str, Any]) -> list[Tensor]:
    out = []
    for key, info in header.items():
        if key == "__metadata__" or not isinstance(info, dict):
            continue
        for prefix in _KEY_PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix) :]
                break
        out.append(Tensor(key, tuple(int(d) for d in info.get("shape") or ())))
    return out


def _is_head(key: str) -> bool:
    return any(part in HEAD_MODULES for part in key.split(".")[:-1]) and not LORA_KEY.match(key)


def _natural(key: str) -> list[Any]:
    return [int(x) if x.isdigit() else x for x in _DIGITS.split(key)]


def _head_problems(card: Card, tensors: list[Tensor], base: dict[str, Any] | None) -> list[str]:
    head = [t for t in tensors if _is_head(t.key)]
    if card.task_type not in HEAD_TASK_TYPES:
        if head:
            return [
                f"the tensors hold a classification head ({', '.join(t.key for t in head[:2])}) but the card's "
                f"task_type is {card.task_type or 'none'!r}; a head belongs to a SEQ_CLS or TOKEN_CLS card"
            ]
        return []
    weights = sorted(
        (t for t in head if t.key.endswith(".weight") and len(t.shape) == 2), key=lambda t: _natural(t.key)
    )
    if not weights:
        return [
            f"a {card.task_type} card needs its classification head in the weights file (a modules_to_save "
            f"such as classifier), and it holds none"
        ]
    out = next((t for t in weights if t.key.endswith("out_proj.weight")), weights[-1])  # the head's last layer
    problems = []
    if out.shape[0] != len(card.labels):
        problems.append(
            f"the head's last layer {out.key} has {out.shape[0]} rows but the card lists {len(card.labels)} "
            f"labels ({', '.join(card.labels[:6])}{', …' if len(card.labels) > 6 else ''})"
        )
    bias = next((t for t in head if t.key == out.key.removesuffix("weight") + "bias"), None)
    if bias is not None and bias.shape != (out.shape[0],):
        problems.append(f"{bias.key} has shape {list(bias.shape)}, its weight {out.key} {list(out.shape)}")
    hidden = _first(base, "hidden_size", "n_embd", "d_model")
    if hidden is not None and out.shape[1] != hidden:
        problems.append(f"the head {out.key} reads {out.shape[1]} features but the base's hidden size is {hidden}")
    return problems


def _first(config: dict[str, Any] | None, *keys: str) -> int | None:
    for key in keys:
        if config and isinstance(config.get(key), int):
            return config[key]
    return None

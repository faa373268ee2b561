"""``hub export NAME DIR``: a registry version rewritten as a folder that plain transformers + PEFT load.

The contract, by what the adapter is:

* ``generate`` (and every adapter imported from PEFT): the version's own PEFT files, which
  ``PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(BASE), DIR)`` (or the task type's auto class)
  already loads.
* Classifiers and taggers ``hub train`` made (``sentiment``, ``classify``, ``ner``; lora, prefix and head): these
  run on adapterhub's task model, a bare transformers body plus a head on states pooled as the base was trained
  (mean pooling for sentence-transformers bases), which no ``AutoModelFor*Classification`` class reproduces. The
  export splits them in two: a PEFT adapter for the bare body (``FEATURE_EXTRACTION``, keys re-rooted from
  ``body.`` to the model itself, LoRA targets named exactly, no ``modules_to_save``) that
  ``PeftModel.from_pretrained(AutoModel.from_pretrained(BASE), DIR)`` loads, and the head in
  ``head.safetensors`` (``weight`` (C, H), ``bias`` (C,)) with ``head.json`` (labels, pooling, max_length).

Every export also holds ``card.json`` and a ``README.md`` model card whose Python block loads the folder and
predicts what :class:`adapterhub.Hub` predicts. An export for the Hugging Face Hub (:class:`HubTarget`, ``hub export
--for hf``) is the same folder made ready for ``hf upload``: its README loads the adapter by repo id, the base is named
by its hub id everywhere (``base_model``, ``base_model_name_or_path``, ``card.json``), and no file holds a path of
this machine. Tensors are renamed in the safetensors header and their bytes
copied unchanged, so the export is bit-exact and needs no torch. :func:`registry_layout` undoes the split, so
``hub import`` of an export publishes the original files again.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from adapterhub.cards.card import CARD_FILE, Card
from adapterhub.errors import ConfigError, RegistryCorrupt
from adapterhub.export.settings import export_settings
from adapterhub.names import Ref
from adapterhub.registry import AdapterRecord, Registry
from adapterhub.registry.files import check_new_directory, disk_error, new_directory
from adapterhub.registry.validation import is_peft_template_readme
from adapterhub.tasks import HEAD_KINDS

CONFIG_FILE, WEIGHTS_FILE = "adapter_config.json", "adapter_model.safetensors"
HEAD_WEIGHTS, HEAD_CONFIG = "head.safetensors", "head.json"
# what `hub train` writes for a classifier: the body under `body.`, the head as `classifier.1`
# (``base_model.model.`` for LoRA, ``base_model.`` for prompt learning, where PEFT wraps the task model directly)
_OUR_LAYOUT = re.compile(r"^base_model\.(model\.)?(body\.|classifier\.1\.)")
_BODY = re.compile(r"^base_model\.model\.body\.")
_BODY_ROOT = re.compile(r"^base_model\.model\.")
_HEAD = re.compile(r"^base_model\.(model\.)?classifier\.1\.(weight|bias)$")


@dataclass(frozen=True)
class HubTarget:
    """Where an export for the Hugging Face Hub goes: ``repo`` (ORG/NAME) is what its README loads, and
    ``base_model`` the hub id of the base when the version was trained on a local folder (None: the card's id)."""

    repo: str
    base_model: str | None = None


def export_adapter(
    registry: Registry, ref: str | Ref, dest: str | os.PathLike[str], *, hub: HubTarget | None = None
) -> AdapterRecord:
    """Write the version ``ref`` names to the new folder ``dest`` as transformers + PEFT load it, with its card and
    a README model card (the layout by task is above); with ``hub``, as the Hugging Face Hub repo it names will
    hold it (no path of this machine in any file).

    Every file is checked against the sha256 on the card before it is written, and ``dest`` appears complete or
    not at all.

    Raises:
        ConfigError: ``ref`` is a weighted alias (name one version), or ``hub`` cannot be resolved by the Hub.
        RegistryConflict: ``dest`` exists and is not an empty folder.
        RegistryCorrupt: a file of the version does not match its card.
        AdapterHubError: writing failed (a full disk, say); the registry is unchanged.
    """
    record = registry.get_one(ref)
    dest = Path(dest)
    check_new_directory(dest)
    files = {filename: registry.read_verified(record, filename) for filename in record.card.files}
    try:
        with new_directory(dest) as tmp:
            write_export(record.card, files, tmp, dest.resolve(), hub)
            if hub is None:  # the Hub's export writes its own card.json
                shutil.copyfile(record.path / CARD_FILE, tmp / CARD_FILE)
    except OSError as exc:
        raise disk_error(exc, f"exporting {record.ref}") from exc
    return record


# a path of this machine inside a card's text: "/" then no spaces or quotes, not part of a URL or a word
_ABSOLUTE = re.compile(r"(?<![\w./:~-])/[^\s'\",;()\[\]{}]+")


def hub_card(card: Card, target: HubTarget, ref: str) -> Card:
    """``card`` as the Hub export records it: the base by its hub id, every absolute path of this machine in its
    text cut to the file's name; refuses a target the Hub cannot resolve.

    Raises:
        ConfigError: ``repo`` is not ORG/NAME, ``base_model`` is not a hub id or contradicts the card, or the base
            is a local folder and no ``base_model`` names its hub id.
    """
    name = ref.split("@")[0]
    _check_hub_id("--repo", target.repo, f"ORG/NAME, the repo you will upload to, e.g. my-org/{name}", owner=True)
    if target.base_model is not None:
        _check_hub_id("--base-model", target.base_model, "the base's hub id, e.g. bert-base-cased or ORG/NAME")
    local = Path(card.base.id).is_absolute()
    if local and target.base_model is None:
        raise ConfigError(
            f"{ref} was trained on the local folder {card.base.id}, which the Hub cannot resolve; name the hub id of "
            "the model it holds with --base-model ORG/NAME"
        )
    if not local and target.base_model not in (None, card.base.id):
        raise ConfigError(
            f"{ref} was trained on {card.base.id!r}, not {target.base_model!r}; drop --base-model (it is only for a "
            "base that is a local folder)"
        )
    base = replace(card.base, id=target.base_model or card.base.id)
    return Card.from_dict({**_without_local_paths(card.to_dict()), "base": {**vars(base)}})


def _check_hub_id(flag: str, value: str, what: str, *, owner: bool = False) -> None:
    from huggingface_hub.utils import HFValidationError, validate_repo_id  # huggingface_hub: loaded on first use

    try:
        validate_repo_id(value)
        valid = value.count("/") == 1 if owner else not value.startswith(".")
    except HFValidationError:
        valid = False
    if not valid:
        raise ConfigError(f"{flag} {value!r} is not a Hugging Face repo id; give {what}")


def _without_local_paths(value: Any) -> Any:
    """``value`` (a card's JSON) with each absolute path of this machine in its strings cut to the file's name."""
    if isinstance(value, dict):
        return {key: _without_local_paths(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_local_paths(item) for item in value]
    if isinstance(value, str):
        return _ABSOLUTE.sub(_local_name, value)
    return value


def _local_name(match: re.Match[str]) -> str:
    path = match.group(0)
    first = path.split("/")[1]
    return Path(path).name if first and os.path.exists("/" + first) else path


def is_task_model_layout(task_type: str, keys: Any) -> bool:
    """True for a classifier or tagger saved from adapterhub's task model (``body`` + ``classifier.1``)."""
    return task_type in HEAD_KINDS and any(_OUR_LAYOUT.search(key) for key in keys)


def write_export(card: Card, files: Mapping[str, bytes], out: Path, folder: Path, hub: HubTarget | None = None) -> None:
    """Write the export of a version (``files``: its verified PEFT files by name) into the empty folder ``out``,
    which becomes ``folder`` (the README names that one, or the repo ``hub`` names, which also gets ``card.json``
    as :func:`hub_card` writes it)."""
    from adapterhub.export.card import model_card  # imports torch (adapterhub.models): not when `hub` starts

    source = card
    if hub is not None:
        card = hub_card(card, hub, f"{card.name}@{card.version}")

    config = json.loads(files[CONFIG_FILE])
    weights = files[WEIGHTS_FILE]
    config["base_model_name_or_path"] = card.base.id  # the card's id, not the folder the base was loaded from
    settings = export_settings(source)
    head = None
    if is_task_model_layout(config.get("task_type") or "", read_header(weights)):
        weights, head = _split_head(weights)
        config = _body_config(config, read_header(weights))
        (out / HEAD_WEIGHTS).write_bytes(head)
        info = {
            "kind": HEAD_KINDS[card.task_type],
            "labels": list(card.labels),
            "max_length": settings.max_length,
            "pooling": settings.pooling,
            "task_type": card.task_type,
        }
        (out / HEAD_CONFIG).write_text(json.dumps(info, indent=2) + "\n")
    for name, data in files.items():
        if name not in (CONFIG_FILE, WEIGHTS_FILE):
            (out / name).write_bytes(data)
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    (out / WEIGHTS_FILE).write_bytes(weights)
    readme = out / "README.md"
    notes = readme.read_text(errors="replace") if readme.is_file() and not is_peft_template_readme(readme) else ""
    readme.write_text(
        model_card(
            card,
            settings,
            folder,
            split_head=head is not None,
            notes=notes,
            repo=hub.repo if hub else None,
            named_base=source.base.id != card.base.id,
        )
    )
    if hub is not None:
        (out / CARD_FILE).write_text(card.to_json())


def _split_head(weights: bytes) -> tuple[bytes, bytes]:
    """(the body's adapter, the head) from a task model's adapter file; any other key is refused."""
    body: dict[str, str] = {}
    head: dict[str, str] = {}
    for key in read_header(weights):
        if key == "__metadata__":
            continue
        if _HEAD.match(key):
            head[key] = key.rsplit(".", 1)[-1]
        elif _BODY.match(key):
            body[key] = _BODY.sub("base_model.model.", key)
        elif key == "prompt_embeddings":
            body[key] = key
        else:
            raise ConfigError(f"cannot export tensor {key!r}: it is neither the body's adapter nor the task head")
    if sorted(head.values()) != ["bias", "weight"]:
        raise ConfigError(f"the adapter's head is incomplete (found {sorted(head.values())}); it cannot be exported")
    return rename_tensors(weights, body.get), rename_tensors(weights, head.get)


def _body_config(config: dict[str, Any], keys: Mapping[str, Any]) -> dict[str, Any]:
    """The PEFT config of the body's adapter: a feature extractor with no saved modules, LoRA targets exact."""
    config = {**config, "task_type": "FEATURE_EXTRACTION", "modules_to_save": None}
    if config.get("peft_type") == "LORA":
        # the task model's targets may be patterns over `body.` names; name the body's modules themselves (a
        # suffix such as "dense" would also reach the pooler, which the task model drops and AutoModel keeps)
        names = {key[len("base_model.model.") :].split(".lora_")[0] for key in keys if key != "__metadata__"}
        config["target_modules"] = sorted(names)
    return config


def registry_layout(source: Path) -> Path:
    """A folder with the registry's files for the split export in ``source`` (the body's adapter re-rooted under
    ``body.``, the head put back as ``classifier.1``), removed when the process ends; else ``source`` itself."""
    if not all((source / name).is_file() for name in (HEAD_CONFIG, HEAD_WEIGHTS, CONFIG_FILE, WEIGHTS_FILE)):
        return source
    out = Path(tempfile.mkdtemp(prefix=f"{source.name}-registry-layout-"))
    atexit.register(shutil.rmtree, out, True)
    info = json.loads((source / HEAD_CONFIG).read_text())
    config = json.loads((source / CONFIG_FILE).read_text())
    body = (source / WEIGHTS_FILE).read_bytes()
    head = (source / HEAD_WEIGHTS).read_bytes()
    prompt = config.get("peft_type") == "PREFIX_TUNING"
    head_root = "base_model.classifier.1." if prompt else "base_model.model.classifier.1."
    tensors = _raw_tensors(body, lambda k: k if prompt else _BODY_ROOT.sub("base_model.model.body.", k))
    tensors.update(_raw_tensors(head, lambda k: head_root + k))
    config = {**config, "task_type": info["task_type"], "modules_to_save": ["classifier", "score"]}
    if config.get("peft_type") == "LORA":
        config["target_modules"] = [f"body.{name}" for name in config["target_modules"]]
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    (out / WEIGHTS_FILE).write_bytes(_pack(tensors, read_header(body).get("__metadata__")))
    card = source / "card.json"
    if card.is_file():
        (out / card.name).write_bytes(card.read_bytes())
    return out


# ------------------------------------------------------------------------------ safetensors, byte for byte


def read_header(data: bytes) -> dict[str, Any]:
    """The JSON header of a safetensors file held in memory."""
    try:
        (size,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + size])
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise RegistryCorrupt(f"not a valid safetensors file: {exc}") from exc
    return header


def _raw_tensors(data: bytes, rename: Callable[[str], str | None]) -> dict[str, tuple[str, list[int], bytes]]:
    """Tensors kept by ``rename`` (None drops one), as (dtype, shape, raw bytes) under their new names."""
    header = read_header(data)
    start = 8 + struct.unpack("<Q", data[:8])[0]
    out = {}
    for key, entry in header.items():
        new = None if key == "__metadata__" else rename(key)
        if new is not None:
            begin, end = entry["data_offsets"]
            out[new] = (entry["dtype"], entry["shape"], data[start + begin : start + end])
    return out


def _pack(tensors: Mapping[str, tuple[str, list[int], bytes]], metadata: dict[str, str] | None) -> bytes:
    """A safetensors file of raw tensors, laid out in name order as safetensors writes them."""
    header: dict[str, Any] = {"__metadata__": metadata} if metadata else {}
    offset, chunks = 0, []
    for key in sorted(tensors):
        dtype, shape, raw = tensors[key]
        header[key] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def rename_tensors(data: bytes, rename: Callable[[str], str | None]) -> bytes:
    """The safetensors file ``data`` with each tensor renamed by ``rename`` (None drops it), bytes unchanged."""
    return _pack(_raw_tensors(data, rename), read_header(data).get("__metadata__"))

"""Bringing an existing PEFT adapter into the registry, checked against its base: from a directory, or from the
Hugging Face Hub as ``hf://ORG/REPO[@REVISION]`` (through huggingface_hub, so a pre-filled cache serves offline)."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from adapterhub.base import DEFAULT_BASE, fingerprint, load_base, locate_base, resolve_base
from adapterhub.cards.card import CARD_FILE
from adapterhub.errors import AdapterNotFound, ConfigError, IncompatibleAdapter
from adapterhub.export.attach import attach
from adapterhub.export.peft import HEAD_CONFIG, HEAD_WEIGHTS, registry_layout
from adapterhub.methods import for_peft_type
from adapterhub.names import validate_name
from adapterhub.registry import AdapterRecord, BaseInfo, Card, DataInfo, InferenceSettings, LoadedAdapter, Registry
from adapterhub.registry.files import safetensors_header
from adapterhub.registry.validation import CONFIG_FILE, WEIGHTS_FILE, check_publishable
from adapterhub.tasks import find_task, generic_task

_OUR_LAYOUT = re.compile(r"^base_model\.(model\.)?(body\.|classifier\.1\.)")
_NOT_YET_KNOWN = "sha256:" + "0" * 64  # a well-formed placeholder for the checks made before the base loads
HF_SCHEME = "hf://"
# what an import reads from a Hub repo: never a pickle (adapter_model.bin), never more than these
HUB_FILES = [CONFIG_FILE, WEIGHTS_FILE, HEAD_WEIGHTS, HEAD_CONFIG, CARD_FILE, "README.md"]
METHOD_KEYS = ("r", "lora_alpha", "lora_dropout", "target_modules", "num_virtual_tokens", "modules_to_save")


def canonical_base_id(base_id: str) -> str:
    """The id to record for a base: the hub id of the embedded default, else the id or absolute path given."""
    if base_id == DEFAULT_BASE or resolve_base(base_id) == resolve_base(DEFAULT_BASE):
        return DEFAULT_BASE
    path = Path(base_id).expanduser()
    return str(path.resolve()) if path.is_dir() else base_id


def method_summary(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Our method name and its hyper-parameters, from a PEFT adapter config."""
    peft_type = str(config.get("peft_type", ""))
    known = for_peft_type(peft_type)
    method = known.name if known else peft_type.lower()
    summary = {k: config[k] for k in METHOD_KEYS if config.get(k) is not None}
    if isinstance(summary.get("target_modules"), list):
        summary["target_modules"] = sorted(summary["target_modules"])
    return method, summary


def parse_hub_source(text: str) -> tuple[str, str | None]:
    """(repo id, revision or None) of ``hf://ORG/REPO[@REVISION]``; anything else raises :class:`ConfigError`."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id  # huggingface_hub: loaded on first use

    repo, _, revision = text.removeprefix(HF_SCHEME).partition("@")
    try:
        validate_repo_id(repo)
    except HFValidationError:
        raise ConfigError(f"{text!r} names no Hub repo; write hf://ORG/REPO or hf://ORG/REPO@REVISION") from None
    if "@" in text and not revision:
        raise ConfigError(f"{text!r} has an empty revision; write hf://{repo}@REVISION (a branch, tag or commit)")
    return repo, revision or None


def default_name(source: str) -> str:
    """The registry name an import of ``hf://ORG/REPO`` gets without --name: REPO, lower-cased."""
    repo, _ = parse_hub_source(source)
    name = repo.rsplit("/", 1)[-1].lower()
    try:
        return validate_name(name)
    except ValueError as exc:
        raise ConfigError(f"{exc}; pass --name NAME for {source}") from None


def fetch_from_hub(source: str, into: Path) -> str:
    """Copy the adapter files of ``hf://ORG/REPO[@REVISION]`` from huggingface_hub's snapshot (downloaded, or
    from the local cache when offline) into the empty folder ``into``; returns ``hf://ORG/REPO@COMMIT``.

    Raises:
        AdapterNotFound: No such repo or revision on the Hub, or (offline, unreachable) none in the cache.
        ConfigError: The repo holds no ``adapter_model.safetensors`` (a pickled ``.bin`` is never read).
    """
    from huggingface_hub import constants, snapshot_download  # huggingface_hub: loaded on first use
    from huggingface_hub.errors import (  # huggingface_hub: loaded on first use
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo, revision = parse_hub_source(source)
    shown = f"hf://{repo}@{revision or 'main'}"
    try:
        snapshot = Path(snapshot_download(repo, revision=revision, allow_patterns=HUB_FILES))
    except RevisionNotFoundError:
        raise AdapterNotFound(
            f"{repo} on the Hugging Face Hub has no revision {revision!r}; name a branch, tag or commit it has"
        ) from None
    except (RepositoryNotFoundError, GatedRepoError):
        raise AdapterNotFound(
            f"the Hugging Face Hub has no model repo {repo!r} you can read; check the spelling (a private or gated "
            "repo needs `hf auth login`)"
        ) from None
    except LocalEntryNotFoundError:
        if constants.is_offline_mode():
            why, fix = "HF_HUB_OFFLINE is set", "go online (unset HF_HUB_OFFLINE)"
        else:  # HF_HUB_OFFLINE is not the cause here, so unsetting it cannot be the fix
            why, fix = "the Hub cannot be reached", "check the network (or HF_ENDPOINT and the proxy settings)"
        raise AdapterNotFound(
            f"{shown} is not in the local Hugging Face cache ({constants.HF_HUB_CACHE}) and {why}; {fix}, "
            f"or fill the cache with `hf download {repo}"
            f"{f' --revision {revision}' if revision else ''}` where the Hub is reachable"
        ) from None
    origin = f"hf://{repo}@{snapshot.name}"  # the snapshot folder is named by its commit
    if not (snapshot / WEIGHTS_FILE).is_file():
        pickled = " (only a pickled adapter_model.bin, which is never loaded)" if _has_bin(snapshot) else ""
        raise ConfigError(
            f"{origin} holds no {WEIGHTS_FILE}{pickled}: only safetensors adapters can be imported; ask its author "
            "for a safetensors copy"
        )
    for name in HUB_FILES:
        if (snapshot / name).is_file():  # the cache's symlinks into blobs/: the bytes, not the link
            shutil.copyfile(snapshot / name, into / name)
    return origin


def _has_bin(snapshot: Path) -> bool:
    """Whether the snapshot (or its cached file listing) holds adapter_model.bin, which was not fetched."""
    from huggingface_hub import get_cached_repo_tree  # huggingface_hub: loaded on first use

    if (snapshot / "adapter_model.bin").exists():
        return True
    repo = snapshot.parents[1].name.removeprefix("models--").replace("--", "/")
    try:
        return any(f.path == "adapter_model.bin" for f in get_cached_repo_tree(repo, revision=snapshot.name))
    except Exception:  # no listing cached: say nothing more than that the safetensors file is missing
        return False


def import_adapter(
    registry: Registry,
    source: str | Path,
    name: str,
    *,
    base: str | None = None,
    task: str | None = None,
    labels: list[str] | None = None,
    tags: tuple[str, ...] = (),
) -> AdapterRecord:
    """Publish the PEFT adapter in ``source`` (a folder, or ``hf://ORG/REPO[@REVISION]``) as ``name``, after
    loading it onto its base.

    The base (``base`` or the config's ``base_model_name_or_path``) is loaded to take its fingerprint and to
    check that every adapter tensor fits one of its modules; a mismatch raises :class:`IncompatibleAdapter`.
    An adapter from the Hub is fetched through huggingface_hub first, and its card records
    ``hf://ORG/REPO@COMMIT``.
    """
    if isinstance(source, str) and source.startswith(HF_SCHEME):
        validate_name(name)  # before anything is fetched
        with tempfile.TemporaryDirectory(prefix="adapterhub-hf-import-") as staging:
            origin = fetch_from_hub(source, Path(staging))
            return _import_folder(registry, Path(staging), name, base, task, labels, tags, origin)
    return _import_folder(registry, Path(source), name, base, task, labels, tags, None)


def _import_folder(
    registry: Registry,
    folder: Path,
    name: str,
    base: str | None,
    task: str | None,
    labels: list[str] | None,
    tags: tuple[str, ...],
    origin: str | None,
) -> AdapterRecord:
    """:func:`import_adapter` of a folder; ``origin`` names where it came from (messages and the card)."""
    source = registry_layout(folder)  # a split `hub export` of a classifier: its registry files again
    shown = origin or str(folder)
    config_path = source / CONFIG_FILE
    if not config_path.is_file():
        raise ConfigError(f"{shown} holds no {CONFIG_FILE}; give a folder written by PEFT's save_pretrained")
    config = json.loads(config_path.read_text())
    template = (
        Card.from_json((source / CARD_FILE).read_bytes(), str(source)) if (source / CARD_FILE).is_file() else None
    )
    base_id = base or (template.base.id if template else None) or config.get("base_model_name_or_path")
    if not base_id:
        raise ConfigError(f"{shown}'s {CONFIG_FILE} names no base model; pass --base ID_OR_PATH")
    if not (source / WEIGHTS_FILE).is_file():
        raise ConfigError(f"{shown} holds no {WEIGHTS_FILE}: only safetensors adapters can be imported")
    # shapes from the header: every check below runs before torch is imported or the base is loaded
    shapes = {k: v["shape"] for k, v in safetensors_header(source / WEIGHTS_FILE).items() if k != "__metadata__"}
    task_type = config.get("task_type") or ""
    labels = labels or (list(template.labels) if template else None) or _default_labels(config, shapes)
    method, method_config = method_summary(config)
    generic = generic_task(task_type)  # the task a plain PEFT adapter of this task type runs as
    card = Card(
        task=task or (template.task if template else generic.name if generic else "custom"),
        task_type=task_type,
        method=method,
        base=BaseInfo(id=canonical_base_id(base_id), fingerprint=template.base.fingerprint if template else ""),
        labels=tuple(labels),
        method_config=method_config,
        hyperparameters=template.hyperparameters if template else {},
        # a folder `hub export` wrote runs as it did here; one from elsewhere gets the defaults, pooled as its base
        inference=template.inference if template else InferenceSettings(),
        metrics=template.metrics if template else {},
        headline_metric=template.headline_metric if template else "",
        data=_data(template, origin or str(source.resolve())),
        tags=tuple(tags) or (template.tags if template else ()),
    )
    # what publishing will check, at once rather than after loading the base (whose fingerprint is not known yet)
    check_publishable(name, source, replace(card, base=replace(card.base, fingerprint=_NOT_YET_KNOWN)))
    locate_base(base_id)  # a missing or unreachable base is refused before torch is imported
    model = _base_model(base_id, card, shapes)
    card = replace(card, base=replace(card.base, fingerprint=fingerprint(model)))
    if template and template.base.fingerprint != card.base.fingerprint:
        raise IncompatibleAdapter(
            f"{shown} was made for base {template.base.id!r} ({template.base.fingerprint[:19]}…), not for "
            f"{base_id!r} ({card.base.fingerprint[:19]}…); pass the base it was made for with --base"
        )
    from safetensors.torch import load_file  # safetensors: loaded on first use

    tensors = load_file(source / WEIGHTS_FILE)
    provisional = AdapterRecord(name, 0, source, card)
    try:
        attach(model, LoadedAdapter(provisional, config, tensors), base_fingerprint=card.base.fingerprint)
    except IncompatibleAdapter as exc:  # name the folder, not the version it has not become
        raise IncompatibleAdapter(str(exc).replace(provisional.ref, shown, 1)) from exc
    return registry.publish(name, source, card)


def _data(template: Card | None, origin: str) -> DataInfo:
    """The data a folder's card records: its export's (the Hub's source added), else where it was imported from."""
    if template is None:
        return DataInfo(description=f"imported from {origin}")
    if not origin.startswith(HF_SCHEME):
        return template.data
    described = f"{template.data.description}; " if template.data.description else ""
    return replace(template.data, description=f"{described}imported from {origin}")


def _base_model(base_id: str, card: Card, shapes: dict[str, list[int]]) -> Any:
    """The base in the layout the adapter was saved from: its task's model (``body`` + ``classifier``, a head
    ``classifier.1``) for what `hub train` made, else transformers' model with the task type's head."""
    task = find_task(card)
    if task is not None and task.has_head and any(_OUR_LAYOUT.search(key) for key in shapes):
        return task.build_model(base_id, card.labels, 0.0).eval()
    return load_base(base_id, card.task_type, num_labels=len(card.labels) or None)


def _default_labels(config: dict[str, Any], shapes: dict[str, list[int]]) -> list[str]:
    """LABEL_0 … LABEL_{n-1}, with n read from the saved classification head, for classification adapters."""
    task = generic_task(config.get("task_type") or "")
    if task is None or not task.has_head:
        return []
    for module in config.get("modules_to_save") or []:
        for key, shape in shapes.items():
            if key.endswith(f".{module}.weight") or key.endswith(f".{module}.out_proj.weight"):
                return [f"LABEL_{i}" for i in range(shape[0])]
    raise ConfigError("cannot tell how many labels this classification adapter has; pass --labels a,b,…")

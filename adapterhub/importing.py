"""Bringing an existing PEFT adapter directory into the registry, checked against its base."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from adapterhub.attach import attach
from adapterhub.base import DEFAULT_BASE, fingerprint, load_base, locate_base, resolve_base
from adapterhub.errors import ConfigError, IncompatibleAdapter
from adapterhub.peft_export import registry_layout
from adapterhub.registry import AdapterRecord, BaseInfo, Card, DataInfo, InferenceSettings, LoadedAdapter, Registry
from adapterhub.registry.card import CARD_FILE
from adapterhub.registry.files import safetensors_header
from adapterhub.registry.registry import CONFIG_FILE, WEIGHTS_FILE
from adapterhub.registry.validation import check_publishable
from adapterhub.tasks import find_task, generic_task

METHOD_FOR_PEFT_TYPE = {"LORA": "lora", "PREFIX_TUNING": "prefix"}
_OUR_LAYOUT = re.compile(r"^base_model\.(model\.)?(body\.|classifier\.1\.)")
_NOT_YET_KNOWN = "sha256:" + "0" * 64  # a well-formed placeholder for the checks made before the base loads
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
    method = METHOD_FOR_PEFT_TYPE.get(peft_type, peft_type.lower())
    summary = {k: config[k] for k in METHOD_KEYS if config.get(k) is not None}
    if isinstance(summary.get("target_modules"), list):
        summary["target_modules"] = sorted(summary["target_modules"])
    return method, summary


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
    """Publish the PEFT adapter in ``source`` as ``name``, after loading it onto its base.

    The base (``base`` or the config's ``base_model_name_or_path``) is loaded to take its fingerprint and to
    check that every adapter tensor fits one of its modules; a mismatch raises :class:`IncompatibleAdapter`.
    """
    source = registry_layout(Path(source))  # a split `hub export` of a classifier: its registry files again
    config_path = source / CONFIG_FILE
    if not config_path.is_file():
        raise ConfigError(f"{source} holds no {CONFIG_FILE}; give a folder written by PEFT's save_pretrained")
    config = json.loads(config_path.read_text())
    template = (
        Card.from_json((source / CARD_FILE).read_bytes(), str(source)) if (source / CARD_FILE).is_file() else None
    )
    base_id = base or (template.base.id if template else None) or config.get("base_model_name_or_path")
    if not base_id:
        raise ConfigError(f"{config_path} names no base model; pass --base ID_OR_PATH")
    if not (source / WEIGHTS_FILE).is_file():
        raise ConfigError(f"{source} holds no {WEIGHTS_FILE}: only safetensors adapters can be imported")
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
        data=template.data if template else DataInfo(description=f"imported from {source.resolve()}"),
        tags=tuple(tags) or (template.tags if template else ()),
    )
    # what publishing will check, at once rather than after loading the base (whose fingerprint is not known yet)
    check_publishable(name, source, replace(card, base=replace(card.base, fingerprint=_NOT_YET_KNOWN)))
    locate_base(base_id)  # a missing or unreachable base is refused before torch is imported
    model = _base_model(base_id, card, shapes)
    card = replace(card, base=replace(card.base, fingerprint=fingerprint(model)))
    if template and template.base.fingerprint != card.base.fingerprint:
        raise IncompatibleAdapter(
            f"{source} was made for base {template.base.id!r} ({template.base.fingerprint[:19]}…), not for "
            f"{base_id!r} ({card.base.fingerprint[:19]}…); pass the base it was made for with --base"
        )
    from safetensors.torch import load_file

    tensors = load_file(source / WEIGHTS_FILE)
    provisional = AdapterRecord(name, 0, source, card)
    try:
        attach(model, LoadedAdapter(provisional, config, tensors), base_fingerprint=card.base.fingerprint)
    except IncompatibleAdapter as exc:  # name the folder, not the version it has not become
        raise IncompatibleAdapter(str(exc).replace(provisional.ref, str(source), 1)) from exc
    return registry.publish(name, source, card)


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

"""``merge``: several LoRA adapters of one task, base and label set -> one new adapter (PEFT's weighted merge).

The LoRA updates are combined by PEFT's ``add_weighted_adapter``; the default ``cat`` combination is exact:
every module's update is ``sum_i w_i * B_i A_i`` (the merged rank is the sum of the ranks). Task heads are not
LoRA weights, so they are combined here in the same way, ``sum_i w_i * head_i``, after putting every head's
rows in the first adapter's label order. The new card records the lineage: each member's version, content
hash and weight.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from adapterhub.base import fingerprint
from adapterhub.errors import ConfigError
from adapterhub.export.attach import attach
from adapterhub.methods import METHODS
from adapterhub.names import validate_name
from adapterhub.registry import AdapterRecord, Card, DataInfo, LoadedAdapter, Registry
from adapterhub.tasks import get_task

COMBINATIONS = ("cat", "linear", "svd")
_HEAD = re.compile(r"(^|\.)classifier\.1\.(weight|bias)$")


def merge(
    adapters: Sequence[str],
    name: str,
    *,
    weights: Sequence[float] | None = None,
    combination: str = "cat",
    registry: Registry | str | None = None,
) -> AdapterRecord:
    """Publish the weighted merge of ``adapters`` as the next version of ``name``.

    Example:
        >>> merge(["sentiment@2", "sentiment@3"], "sentiment-merged", weights=[0.6, 0.4])  # doctest: +SKIP
    """
    registry = registry if isinstance(registry, Registry) else Registry(registry)
    validate_name(name)
    if isinstance(adapters, str) or len(adapters) < 2:
        raise ConfigError("merge needs at least two adapters, e.g. `hub merge a@1 b@1 --name c`")
    weights = list(weights) if weights is not None else [1 / len(adapters)] * len(adapters)
    if len(weights) != len(adapters):
        raise ConfigError(f"got {len(adapters)} adapters but {len(weights)} weights; give one weight per adapter")
    if combination not in COMBINATIONS:
        raise ConfigError(f"--combination must be one of {', '.join(COMBINATIONS)} (got {combination!r})")
    _check_members([registry.get(ref) for ref in adapters])  # from the cards alone, before torch is imported
    import torch  # torch: loaded on first use
    from peft import get_peft_model_state_dict  # peft: loaded on first use
    from safetensors.torch import save_file  # safetensors: loaded on first use

    loaded = [registry.load(ref) for ref in adapters]
    _check_members([x.record for x in loaded])
    first = loaded[0].record.card
    if len({x.record.ref for x in loaded}) != len(loaded):
        raise ConfigError("merge lists the same version twice; name distinct versions")

    task = get_task(first.task)
    model = task.build_model(first.base.id, first.labels, 0.0)
    base_print = fingerprint(model)
    members = [f"member{i}" for i in range(len(loaded))]
    for member, adapter in zip(members, loaded, strict=True):
        model = attach(model, _without_head(adapter), member, base_print)
    model.add_weighted_adapter(members, list(weights), "merged", combination_type=combination)
    tensors = {k: v.contiguous() for k, v in get_peft_model_state_dict(model, adapter_name="merged").items()}
    tensors.update(_merged_head(loaded, weights, first.labels))

    config = model.peft_config["merged"]
    config.base_model_name_or_path = first.base.id
    config.modules_to_save = loaded[0].config.get("modules_to_save")
    config.task_type = loaded[0].config.get("task_type")
    config.inference_mode = True
    card = _merged_card(loaded, weights, combination, config)
    with tempfile.TemporaryDirectory(prefix="adapterhub-merge-") as out:
        config.save_pretrained(out)
        save_file(
            {k: v.detach().to(torch.float32) if v.is_floating_point() else v for k, v in tensors.items()},
            str(Path(out) / "adapter_model.safetensors"),
            metadata={"format": "pt"},
        )
        return registry.publish(name, out, card)


def _merged_card(loaded: list[LoadedAdapter], weights: Sequence[float], combination: str, config: Any) -> Card:
    """The card of the merge of ``loaded`` (the first one's task, base and labels; the members as lineage)."""
    first = loaded[0].record.card
    pairs = list(zip(loaded, weights, strict=True))
    return Card(
        task=first.task,
        task_type=first.task_type,
        method=_combined_method(first.method),
        base=first.base,
        labels=first.labels,
        method_config={
            "r": config.r,
            "alpha": config.lora_alpha,
            "dropout": 0.0,
            "target_modules": sorted(config.target_modules),
            "combination": combination,
        },
        hyperparameters={"merge": {"combination": combination, "weights": list(weights)}},
        # the merge is computed on the full-precision base, so it is served on it (quantize: None)
        inference=replace(first.inference, quantize=None),
        headline_metric=first.headline_metric,
        data=DataInfo(description="merge of " + ", ".join(f"{x.record.ref} ({w:g})" for x, w in pairs)),
        lineage=tuple({"ref": x.record.ref, "content_hash": x.record.card.content_hash, "weight": w} for x, w in pairs),
    )


def _check_members(records: list[AdapterRecord]) -> None:
    first = records[0]
    for record in records:
        card = record.card
        method = METHODS.get(card.method)
        if method is not None and method.combine_as is None:
            combinable = [m.name for m in METHODS.values() if m.combine_as is not None]
            raise ConfigError(
                f"{record.ref} is a {method.title} adapter; merging combines LoRA updates "
                f"({' and '.join(combinable)} adapters)"
            )
        if card.task != first.card.task:
            raise ConfigError(
                f"merge combines adapters of one task: {first.ref} is {first.card.task}, {record.ref} is {card.task}"
            )
        if card.base.fingerprint != first.card.base.fingerprint:
            raise ConfigError(
                f"{record.ref} was trained on another base ({card.base.id}) than {first.ref} ({first.card.base.id}); "
                "merge adapters of one base"
            )
        if set(card.labels) != set(first.card.labels):
            raise ConfigError(
                f"merge members disagree on labels: {first.ref} has {', '.join(first.card.labels)} but {record.ref} "
                f"has {', '.join(card.labels)}"
            )


def _combined_method(method: str) -> str:
    """The method of the adapter that PEFT's weighted merge of ``method`` adapters makes."""
    known = METHODS.get(method)
    return known.combine_as if known is not None and known.combine_as else method


def _without_head(adapter: LoadedAdapter) -> LoadedAdapter:
    """The LoRA part only: PEFT refuses to weight adapters whose heads (modules_to_save) share a module."""
    # no task type either: PEFT would put the classifier back into modules_to_save for SEQ_CLS and TOKEN_CLS
    config: dict[str, Any] = {**adapter.config, "modules_to_save": None, "task_type": None}
    tensors = {k: v for k, v in adapter.tensors.items() if not _HEAD.search(k)}
    return replace(adapter, config=config, tensors=tensors)


def _merged_head(loaded: list[LoadedAdapter], weights: Sequence[float], labels: Sequence[str]) -> dict[str, Any]:
    heads: dict[str, Any] = {}
    for adapter, weight in zip(loaded, weights, strict=True):
        order = [adapter.record.card.labels.index(label) for label in labels]
        for key, tensor in adapter.tensors.items():
            if _HEAD.search(key):
                part = tensor[order].float() * weight
                heads[key] = heads[key] + part if key in heads else part
    return heads

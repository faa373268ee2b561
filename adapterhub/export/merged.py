"""``export_merged``: one adapter folded into its base's weights, written as a standalone model directory.

What plain transformers loads, by task (each task's ``save_merged`` chooses its layout):

* ``generate``: an ``AutoModelForCausalLM`` directory.
* ``ner``: an ``AutoModelForTokenClassification`` directory (labels in ``id2label``).
* ``sentiment`` / ``classify``: transformers has no sequence-classification head on mean-pooled states (how
  sentence-transformers bases were trained), so the directory holds the merged encoder (``AutoModel``), the
  head in ``classifier.safetensors`` and ``classifier.json`` (labels, pooling); its ``README.md`` shows the five
  lines that give the adapter's probabilities.

Everything is safetensors; the directory appears only when complete (written beside it, then renamed).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapterhub.base import load_tokenizer, locate_base, no_transformers_bars
from adapterhub.errors import ConfigError
from adapterhub.export.attach import attach
from adapterhub.methods import METHODS
from adapterhub.registry import AdapterRecord, Registry
from adapterhub.registry.files import check_new_directory, new_directory
from adapterhub.tasks import task_for

STEPS = ("reading the adapter", "loading the base", "merging", "writing")


def export_merged(
    ref: str,
    dest: str | Path,
    *,
    registry: Registry | str | None = None,
    report: Callable[[str, dict[str, Any]], None] | None = None,
) -> AdapterRecord:
    """Write ``ref`` merged into its base to the new directory ``dest``; returns the adapter's record.

    ``report("progress", {"what": ref, "done": i, "total": 4, "step": ...})`` is called as each of the
    :data:`STEPS` begins (``done`` counts the steps finished), and with ``done`` 4 at the end.
    """

    registry = registry if isinstance(registry, Registry) else Registry(registry)
    dest = Path(dest)
    check_new_directory(dest)  # before the slow part

    def step(done: int) -> None:
        if report is not None:
            report("progress", {"what": ref, "done": done, "total": len(STEPS), "step": (*STEPS, "done")[done]})

    record = registry.get(ref)  # the card alone: refusals come before torch is imported
    card = record.card
    method = METHODS.get(card.method)
    if method is not None and method.unmergeable:
        raise ConfigError(
            f"{record.ref} is {method.unmergeable} and cannot be folded into the base; export it as an adapter "
            f"with `hub export {record.ref} DIR`"
        )
    locate_base(card.base.id)

    step(0)
    loaded = registry.load(record.ref)
    step(1)
    task = task_for(card)
    model = task.build_model(card.base.id, card.labels, 0.0)
    tokenizer = load_tokenizer(card.base.id)
    step(2)
    model = attach(model, loaded).merge_and_unload()
    step(3)
    with new_directory(dest) as tmp, no_transformers_bars():  # callers show progress through `report`
        task.save_merged(model, record, tmp)  # the layout plain transformers loads for this task
        if card.task_type == "SEQ_CLS" and tokenizer.pad_token is None:  # decoders: the README pads a batch
            tokenizer.pad_token = tokenizer.eos_token
        if card.task_type == "SEQ_CLS":
            tokenizer.padding_side = "right"  # last-token pooling reads the last real token from the mask
        tokenizer.save_pretrained(tmp)
        (tmp / "adapterhub.json").write_text(
            json.dumps({"merged_from": record.ref, "content_hash": card.content_hash, "base": card.base.id}, indent=2)
            + "\n"
        )
    step(4)
    return record

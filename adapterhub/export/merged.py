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

from adapterhub.errors import ConfigError
from adapterhub.export.card import POOL_CODE
from adapterhub.registry import AdapterRecord, Registry
from adapterhub.registry.files import check_new_directory, new_directory

SEQUENCE_README = """# {ref}, merged into its base

`{ref}` ({task}, labels {labels}) folded into `{base}`: plain transformers, no adapter library needed.

```python
import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoTokenizer

tokenizer, encoder = AutoTokenizer.from_pretrained(DIR), AutoModel.from_pretrained(DIR).eval()
head = load_file(f"{{DIR}}/classifier.safetensors")
batch = tokenizer(["a fine film"], padding=True, truncation=True, max_length={max_length}, return_tensors="pt")
with torch.no_grad():
    states = encoder(**batch).last_hidden_state
{pool}
probs = torch.softmax(features @ head["weight"].T + head["bias"], -1)  # columns: {labels}
```
"""


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
    from adapterhub.base import load_tokenizer, locate_base, no_transformers_bars
    from adapterhub.tasks import task_for

    registry = registry if isinstance(registry, Registry) else Registry(registry)
    dest = Path(dest)
    check_new_directory(dest)  # before the slow part

    def step(done: int) -> None:
        if report is not None:
            report("progress", {"what": ref, "done": done, "total": len(STEPS), "step": (*STEPS, "done")[done]})

    record = registry.get(ref)  # the card alone: refusals come before torch is imported
    card = record.card
    if card.method == "prefix":
        raise ConfigError(
            f"{record.ref} is a prefix-tuning adapter: its virtual tokens are not a weight update and cannot be "
            f"folded into the base; export it as an adapter with `hub export {record.ref} DIR`"
        )
    locate_base(card.base.id)
    from adapterhub.export.attach import attach

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


def write_sequence_classifier(model: Any, record: AdapterRecord, out: Path) -> None:
    """A task model's merged encoder (``AutoModel``), its head (``classifier.safetensors``, ``classifier.json``)
    and the README that applies it, into ``out``."""
    pooling = record.card.inference.pooling or model.pooling  # None: as the base pools
    _sequence_classifier(_body(model, record), model.classifier[1], record.card.labels, pooling, record, out)


def write_token_classifier(model: Any, record: AdapterRecord, out: Path) -> None:
    """A task model's merged encoder and head as one ``AutoModelForTokenClassification``, into ``out``."""
    _token_classifier(_body(model, record), model.classifier[1], record.card.labels).save_pretrained(out)


def _body(model: Any, record: AdapterRecord) -> Any:
    from adapterhub.base import load_base

    body = model.body
    if hasattr(body, "pooler"):
        body.pooler = load_base(record.card.base.id).pooler  # the base's own, unchanged, so loading warns of nothing
    return body


def _token_classifier(body: Any, head: Any, labels: tuple[str, ...]) -> Any:
    import copy

    from transformers import AutoModelForTokenClassification

    config = copy.deepcopy(body.config)
    config.num_labels = len(labels)
    config.id2label = dict(enumerate(labels))
    config.label2id = {label: i for i, label in enumerate(labels)}
    config.architectures = None
    model = AutoModelForTokenClassification.from_config(config)
    encoder = getattr(model, model.base_model_prefix)
    result = encoder.load_state_dict(body.state_dict(), strict=False)
    if result.missing_keys or [k for k in result.unexpected_keys if not k.startswith("pooler.")]:
        raise ConfigError(
            f"cannot build a {type(model).__name__} from this base (missing {result.missing_keys[:3]}, "
            f"unexpected {result.unexpected_keys[:3]}); export the adapter with `hub export NAME DIR` instead"
        )
    extra = sorted({n.split(".")[0] for n, _ in model.named_parameters()} - {model.base_model_prefix, "classifier"})
    if extra:  # e.g. ModernBERT's: a prediction head of its own between the encoder and the classifier
        raise ConfigError(
            f"transformers' {type(model).__name__} puts layers of its own ({', '.join(extra)}) between the "
            "encoder and the classifier, so it cannot hold this tagger; export the adapter with `hub export NAME DIR`"
        )
    model.classifier.load_state_dict(head.state_dict())
    return model.eval()


def _sequence_classifier(
    body: Any, head: Any, labels: tuple[str, ...], pooling: str, record: AdapterRecord, out: Path
) -> None:
    from safetensors.torch import save_file

    body.save_pretrained(out)
    save_file(
        {"weight": head.weight.detach().contiguous(), "bias": head.bias.detach().contiguous()},
        str(out / "classifier.safetensors"),
        metadata={"format": "pt"},
    )
    (out / "classifier.json").write_text(json.dumps({"labels": list(labels), "pooling": pooling}, indent=2) + "\n")
    (out / "README.md").write_text(
        SEQUENCE_README.format(
            ref=record.ref,
            task=record.card.task,
            labels=", ".join(labels),
            base=record.card.base.id,
            max_length=record.card.inference.max_length,
            pool=POOL_CODE[pooling],
        )
    )

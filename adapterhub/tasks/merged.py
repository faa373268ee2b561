"""The merged-model layouts of the classifier tasks (``hub export --merged``), in what plain transformers loads.

* token classification: one ``AutoModelForTokenClassification`` (labels in ``id2label``);
* sequence classification: transformers has no sequence-classification head on mean-pooled states (how
  sentence-transformers bases were trained), so the merged encoder (``AutoModel``), the head in
  ``classifier.safetensors`` and ``classifier.json`` (labels, pooling), and a ``README.md`` with the lines that
  give the adapter's probabilities.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapterhub.base import load_base
from adapterhub.errors import ConfigError
from adapterhub.models import POOL_CODE

if TYPE_CHECKING:
    from adapterhub.cards import AdapterRecord

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


def write_sequence_classifier(model: Any, record: AdapterRecord, out: Path) -> None:
    """A task model's merged encoder (``AutoModel``), its head (``classifier.safetensors``, ``classifier.json``)
    and the README that applies it, into ``out``."""
    pooling = record.card.inference.pooling or model.pooling  # None: as the base pools
    _sequence_classifier(_body(model, record), model.classifier[1], record.card.labels, pooling, record, out)


def write_token_classifier(model: Any, record: AdapterRecord, out: Path) -> None:
    """A task model's merged encoder and head as one ``AutoModelForTokenClassification``, into ``out``."""
    _token_classifier(_body(model, record), model.classifier[1], record.card.labels).save_pretrained(out)


def _body(model: Any, record: AdapterRecord) -> Any:

    body = model.body
    if hasattr(body, "pooler"):
        body.pooler = load_base(record.card.base.id).pooler  # the base's own, unchanged, so loading warns of nothing
    return body


def _token_classifier(body: Any, head: Any, labels: tuple[str, ...]) -> Any:

    from transformers import AutoModelForTokenClassification  # transformers: loaded on first use

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
    from safetensors.torch import save_file  # safetensors: loaded on first use

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

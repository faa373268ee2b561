"""``ner``: token classification over BIO tags, scored by entity-level F1 (seqeval, conlleval rules).

Words are split into sub-word tokens; a word's tag sits on its first sub-token and the rest are ignored in
the loss and the metric, so predictions are read back one per word.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapterhub.data import Example, TokenExample
from adapterhub.data.labels import labels_of
from adapterhub.errors import ConfigError
from adapterhub.tasks.metrics import entity_report
from adapterhub.tasks.padding import pad, pad_inputs
from adapterhub.tasks.results import Entities
from adapterhub.tasks.task import Chance, Encoded, Family, InferenceInput, Scored
from adapterhub.tasks.words import entities, given_words, split_words

if TYPE_CHECKING:
    import torch

    from adapterhub.cards import AdapterRecord
    from adapterhub.tasks.results import Result
    from adapterhub.tasks.task import Scoring


@dataclass(frozen=True)
class TokenClassification:
    name: str = "ner"
    kind: str = "tokens"
    task_type: str = "TOKEN_CLS"
    metric: str = "f1"
    greater_is_better: bool = True
    default_data: Path | None = None
    needs_base: bool = False
    family: Family = "encoder"
    has_head: bool = True
    head_kind: str | None = "token"
    pipeline_tag: str = "token-classification"
    generic: bool = True

    def label_names(self, labels: Sequence[str]) -> tuple[str, ...]:
        return tuple(labels)

    def build_model(
        self, base: str | None, labels: Sequence[str], dropout: float, quantize: str | None = None
    ) -> torch.nn.Module:
        from adapterhub.models import build_task_model  # loads torch: on first use

        return build_task_model(base, len(labels), "token", dropout, quantize)

    def encode(self, example: Example, tokenizer: Any, labels: Sequence[str], max_length: int) -> Encoded | None:
        assert isinstance(example, TokenExample)
        enc = tokenizer(list(example.tokens), is_split_into_words=True, truncation=True, max_length=max_length)
        targets, previous = [], None
        for word in enc.word_ids():
            targets.append(-100 if word is None or word == previous else labels.index(example.tags[word]))
            previous = word
        if all(t == -100 for t in targets):
            return None
        return {"input_ids": enc["input_ids"], "labels": targets, "length": len(targets)}

    def collate(self, batch: Sequence[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
        return {**pad_inputs(batch, pad_id), "labels": pad([b["labels"] for b in batch], -100)}

    def chance(self, evals: Sequence[Example], names: Mapping[str, str], vocab_size: int) -> Chance:
        """Entity F1 of tagging everything O (the most common tag by far): no entity found, F1 0."""
        return Chance(0.0, "tagging every word O finds no entity")

    def evaluate(
        self, model: torch.nn.Module, batches: Iterable[dict[str, torch.Tensor]], labels: Sequence[str]
    ) -> dict[str, float]:
        from seqeval.metrics import f1_score, precision_score, recall_score  # seqeval: loaded on first use

        gold, pred, losses, words = [], [], 0.0, 0
        for batch in batches:
            out = model(**batch)
            keep = batch["labels"] != -100  # (B, T): first sub-token of each word
            n = int(keep.sum())
            losses += float(out.loss) * n
            words += n
            best = out.logits.argmax(-1)
            for row in range(len(keep)):
                gold.append([labels[i] for i in batch["labels"][row][keep[row]].tolist()])
                pred.append([labels[i] for i in best[row][keep[row]].tolist()])
        return {
            "f1": float(f1_score(gold, pred, zero_division=0)),
            "precision": float(precision_score(gold, pred, zero_division=0)),
            "recall": float(recall_score(gold, pred, zero_division=0)),
            "loss": losses / max(words, 1),
        }

    def encode_input(
        self, text: str | tuple[str, ...], tokenizer: Any, record: AdapterRecord, limit: int, where: str
    ) -> InferenceInput:
        """A text is split into words (with their spans); a word list is taken as it is."""

        words = (given_words(text) if isinstance(text, tuple) else split_words(text)) or [("", 0, 0)]
        text = " ".join(text) if isinstance(text, tuple) else text
        enc = tokenizer([w for w, _, _ in words], is_split_into_words=True, truncation=True, max_length=limit)
        starts, previous = {}, None
        for position, word in enumerate(enc.word_ids()):
            if word is not None and word != previous:
                starts[word] = position
            previous = word
        return InferenceInput(enc["input_ids"], text, words, [starts.get(i, -1) for i in range(len(words))])

    def read_outputs(
        self,
        record: AdapterRecord,
        inputs: Sequence[InferenceInput],
        states: torch.Tensor,
        mask: torch.Tensor,
        head: tuple[torch.Tensor, torch.Tensor] | None,
        base_pooling: str,
    ) -> list[Result]:
        """A tag per word from its first sub-token's state; words cut off by the length are tagged O."""
        import torch  # torch: loaded on first use

        assert head is not None  # parsing refuses a tagger without its head
        weight, bias = head
        labels = record.card.labels
        out: list[Result] = []
        for item, row in zip(inputs, states, strict=True):  # row: (T, H)
            assert item.words is not None and item.word_starts is not None
            kept = [i for i, s in enumerate(item.word_starts) if s >= 0 and item.words[i][0]]
            tags = ["O"] * len(item.words)
            scores = [1.0] * len(item.words)
            if kept:
                positions = torch.tensor([item.word_starts[i] for i in kept], device=row.device)
                probs = torch.softmax((row[positions].to(weight.dtype) @ weight.t() + bias).float(), -1)
                best = probs.argmax(-1).tolist()
                for i, b, p in zip(kept, best, probs, strict=True):
                    tags[i], scores[i] = labels[b], float(p[b])
            words = [w for w, _, _ in item.words if w]
            out.append(
                Entities(
                    adapter=record.ref,
                    entities=entities(item.text, item.words, tags, scores),
                    words=tuple(words),
                    tags=tuple(tags[: len(words)]),
                )
            )
        return out

    def score(self, run: Scoring) -> Scored:
        """Entity-level F1, precision and recall of the predicted tags (seqeval, conlleval rules)."""

        card = run.records[0].card
        sentences = [e for e in run.data.examples if isinstance(e, TokenExample)]
        unknown = sorted(set(labels_of(sentences)) - set(card.labels))
        if unknown:
            raise ConfigError(
                f"{run.data.source} has tags {', '.join(unknown[:8])} that {run.records[0].ref} never learned "
                f"(it knows {', '.join(card.labels)}); score it on data of its own tag set"
            )
        run.counter.start(len(sentences) * len(run.records))
        results = run.hub.predict(
            [list(e.tokens) for e in sentences],
            run.target,
            split_into_words=True,
            batch_size=run.batch_size,
            progress=run.counter.add,
        )
        # words cut by the adapter's max length are tagged O: they count as misses, as they would in use
        predicted = [[*r.tags, *["O"] * (len(e.tokens) - len(r.tags))] for e, r in zip(sentences, results, strict=True)]
        return entity_report([e.tags for e in sentences], predicted), results

    def save_merged(self, model: torch.nn.Module, record: AdapterRecord, out: Path) -> None:
        """A plain ``AutoModelForTokenClassification`` directory, the labels in its ``id2label``."""
        from adapterhub.tasks.merged import write_token_classifier  # torch and transformers: on first use

        write_token_classifier(model, record, out)


NER = TokenClassification()

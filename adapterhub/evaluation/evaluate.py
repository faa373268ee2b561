"""``evaluate`` one adapter or an ensemble on a data set of its task; ``compare`` several side by side."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from adapterhub.base import load_tokenizer
from adapterhub.data import read_examples
from adapterhub.data.split import fingerprint
from adapterhub.errors import ConfigError
from adapterhub.evaluation.report import Evaluation
from adapterhub.export.attach import attach
from adapterhub.registry import AdapterRecord, Registry
from adapterhub.reporting import ProgressCounter, Report
from adapterhub.tasks import task_for
from adapterhub.tasks.task import EvalData
from adapterhub.training.batching import by_length

if TYPE_CHECKING:
    from adapterhub.inference import Hub


@dataclass(frozen=True)
class Scoring:
    """One scoring run, handed to the adapter's task (:meth:`Task.score`), which decides what it runs: the
    :class:`adapterhub.tasks.task.Scoring` protocol, whose docstring describes each attribute."""

    hub: Hub
    target: str | list[str]
    records: list[AdapterRecord]
    data: EvalData
    combine: str | None
    batch_size: int
    counter: ProgressCounter

    def perplexity(self) -> dict[str, float]:
        """Loss and perplexity of the (one) generate adapter on the responses of the data: see :func:`perplexity`."""
        return perplexity(self.hub, self.records[0], self.data, self.batch_size, self.counter)


def evaluate(
    adapter: str | Sequence[str],
    data: str | Path,
    *,
    hub: Hub | None = None,
    registry: Registry | str | None = None,
    combine: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    batch_size: int = 64,
    record: bool = True,
    report: Report | None = None,
) -> Evaluation:
    """Score ``adapter`` (NAME[@V] or NAME:ALIAS; a list with ``combine="mean"`` for an ensemble) on ``data``.

    ``data`` is read as for training (a file, a folder or ``hf:NAME``) with the kind of the adapter's task.
    A single adapter's result is appended to its card's evaluation history unless ``record`` is False.
    ``report("progress", {"what": ..., "done": ..., "total": ...})`` is called as the examples are scored:
    once with ``done`` 0 when the examples are ready (the base may still have to load), then after each batch.

    Example:
        >>> evaluate("sentiment", "../shared/data/sst/stsa.binary.test").metrics  # doctest: +SKIP
        {'accuracy': 0.8825, 'macro_f1': 0.8824}
    """
    hub = hub or _hub(registry)
    members = [adapter] if isinstance(adapter, str) else list(adapter)
    if len(members) > 1 and combine is None:
        raise ConfigError("several adapters need combine='mean' to score them as one ensemble; compare() scores each")
    records = [hub.resolve(m) for m in members]
    loaded = _read(records[0], data, text_column, label_column)
    return _score(hub, members, records, loaded, combine, batch_size, record, report)


def compare(
    adapters: Sequence[str],
    data: str | Path,
    *,
    hub: Hub | None = None,
    registry: Registry | str | None = None,
    combine: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    batch_size: int = 64,
    record: bool = True,
    report: Report | None = None,
) -> list[Evaluation]:
    """Score each adapter (of one task) on the same data; with ``combine`` their ensemble comes last.

    ``report`` hears each one's progress as :func:`evaluate` reports it, ``what`` naming the adapter."""
    if isinstance(adapters, str) or len(adapters) < 2:
        raise ConfigError("compare needs at least two adapters, e.g. compare(['sentiment@1', 'sentiment@2'], data)")
    hub = hub or _hub(registry)
    records = [hub.resolve(a) for a in adapters]
    kinds = {task_for(r.card).kind for r in records}
    if len(kinds) > 1:
        tasks = ", ".join(f"{r.ref} is {r.card.task}" for r in records)
        raise ConfigError(f"compare puts adapters of one kind of task side by side ({tasks})")
    loaded = _read(records[0], data, text_column, label_column)
    out = [
        _score(hub, [a], [r], loaded, None, batch_size, record, report) for a, r in zip(adapters, records, strict=True)
    ]
    if combine is not None:
        out.append(_score(hub, list(adapters), records, loaded, combine, batch_size, False, report))
    return out


def _hub(registry: Registry | str | None) -> Hub:
    from adapterhub.inference import Hub  # loads torch: on first use

    return Hub(registry)


def _read(record: AdapterRecord, data: str | Path, text_column: str | None, label_column: str | None) -> EvalData:
    task = task_for(record.card)
    examples = read_examples(task.kind, data, text_column=text_column, label_column=label_column)
    return EvalData(str(data), examples, fingerprint(examples, ()))


def _score(
    hub: Hub,
    members: list[str],
    records: list[AdapterRecord],
    data: EvalData,
    combine: str | None,
    batch_size: int,
    record: bool,
    report: Report | None = None,
) -> Evaluation:
    card = records[0].card
    target = members if combine else members[0]
    what = f"{combine}({','.join(r.ref for r in records)})" if combine else records[0].ref
    run = Scoring(hub, target, records, data, combine, batch_size, ProgressCounter(report, what))
    scores, results = task_for(card).score(run)
    evaluation = Evaluation(
        adapter=results[0].adapter if results else records[0].ref,  # an ensemble's name comes with its results
        task=card.task,
        data=data.source,
        data_fingerprint=data.fingerprint,
        examples=len(data.examples),
        labels=tuple(card.labels) if "confusion" in scores else (),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        **scores,
    )
    if record and not combine:
        hub.registry.record_evaluation(records[0].ref, evaluation.to_dict())
    return evaluation


def perplexity(
    hub: Hub, record: AdapterRecord, data: EvalData, batch_size: int, counter: ProgressCounter
) -> dict[str, float]:
    """Loss and perplexity of a generate adapter on the responses of ``data`` (prompts in the training template).

    The Hub generates but computes no loss, so the adapter is put on its base through PEFT (:func:`attach`,
    which checks the base fingerprint and the tensor keys as the Hub does)."""
    import torch  # torch: loaded on first use

    task = task_for(record.card)
    quantize = hub.quantization_for(record)  # as it was trained; a quantized base is on the GPU already
    model = attach(task.build_model(record.card.base.id, (), 0.0, quantize), hub.registry.load(record.ref))
    model = model if quantize else model.to(hub.device)
    tokenizer = load_tokenizer(record.card.base.id)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    max_length = record.card.inference.max_length  # as the Hub cuts inputs
    encoded = [e for e in (task.encode(x, tokenizer, (), max_length) for x in data.examples) if e]
    if not encoded:
        raise ConfigError(f"no example of {data.source} has a response to score within {max_length} tokens")
    counter.start(len(encoded))

    def batches() -> Iterator[dict[str, torch.Tensor]]:
        for ids in by_length([e["length"] for e in encoded], batch_size):
            yield {k: v.to(hub.device) for k, v in task.collate([encoded[i] for i in ids], pad_id).items()}
            counter.add(len(ids))  # runs when the next batch is asked for: this one is scored

    with torch.no_grad():
        metrics = task.evaluate(model, batches(), ())
    return {k: round(float(v), 6) for k, v in metrics.items()}

"""What happens to each request, by adapter version: per-adapter metrics and prediction log rows.

The batcher reports every request it settles (:class:`Outcome`) and every forward batch; the hub reports every
adapter it makes hot; the server reports requests refused before they were queued. Each becomes counts in
:class:`~adapterhub.serving.adapter_metrics.AdapterMetrics` and, with a prediction log, rows in it. Everything
here runs on the thread that reports it and only touches memory (the log has its own writer thread).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from adapterhub.errors import AdapterHubError, InvalidName
from adapterhub.inference import Hub
from adapterhub.names import Ref
from adapterhub.registry import AdapterRecord
from adapterhub.serving.adapter_metrics import AdapterLabels, AdapterMetrics
from adapterhub.serving.errors import STATUSES
from adapterhub.serving.prediction_log import Prediction, PredictionLog
from adapterhub.tasks.results import Classification, Entities, Generation, Result

UNRESOLVED = "unresolved"  # version and task of a request whose adapter could not be read at all


@dataclass
class Outcome:
    """One request (an ensemble member is one) as the batcher settled it."""

    spec: str  # the adapter as the request named it
    record: AdapterRecord | None  # the version that ran (None: it could not be made hot)
    texts: Sequence[str]
    results: Sequence[Result] | None  # None when it failed
    error: BaseException | None
    enqueued: float  # time.monotonic() when queued
    first_piece: float | None = None  # time.monotonic() of its first streamed piece
    run_seconds: float | None = None  # how long its (successful) batch ran


def labels_of(record: AdapterRecord) -> AdapterLabels:
    return AdapterLabels(record.name, str(record.version), record.card.task)


def error_type(exc: BaseException) -> str:
    """The ``type`` an error gets in the server's JSON error shape (``overloaded``, ``adapter_corrupt``, …)."""
    if isinstance(exc, AdapterHubError):
        for cls, _, kind in STATUSES:
            if isinstance(exc, cls):
                return kind
    return "internal_error"


class Observer:
    """Turns outcomes into per-adapter metrics and prediction log rows."""

    def __init__(self, hub: Hub, metrics: AdapterMetrics, log: PredictionLog | None, log_inputs: bool) -> None:
        self.hub, self.metrics, self.log, self.log_inputs = hub, metrics, log, log_inputs

    def loaded(self, record: AdapterRecord, kind: str, seconds: float) -> None:
        """The hub made ``record`` hot (``Hub.on_load``)."""
        self.metrics.load(labels_of(record), kind, seconds)

    def batch(self, records: Sequence[AdapterRecord]) -> None:
        """A forward batch ran with one row per record (an adapter's share is its rows)."""
        rows: dict[AdapterLabels, int] = {}
        for record in records:
            labels = labels_of(record)
            rows[labels] = rows.get(labels, 0) + 1
        self.metrics.batch(rows)

    def refused(self, spec: str, exc: BaseException) -> None:
        """A request refused before it was queued (a full queue, a server shutting down)."""
        labels = self._labels(spec, self.hub.resident_record(spec))  # a dictionary lookup: on the event loop
        self.metrics.request(labels, 0, None, error_type(exc))

    def settled(self, outcome: Outcome) -> None:
        """A request the batcher ran (or failed to run); called on its thread."""
        record = outcome.record
        if record is None and outcome.error is not None:  # its load failed: the card may still read
            try:
                record = self.hub.resolve(outcome.spec)
            except Exception:  # unreadable: counted under its name alone
                record = None
        labels = self._labels(outcome.spec, record)
        latency = time.monotonic() - outcome.enqueued
        kind = error_type(outcome.error) if outcome.error is not None else None
        self.metrics.request(labels, len(outcome.texts), latency, kind)
        results = outcome.results or []
        generations = [r for r in results if isinstance(r, Generation)]
        if generations and outcome.run_seconds is not None:
            first = outcome.first_piece - outcome.enqueued if outcome.first_piece is not None else None
            self.metrics.generation(labels, sum(g.tokens for g in generations), outcome.run_seconds, first)
        if self.log is not None and labels.version != UNRESOLVED:
            self.log.add(self._rows(outcome, labels, latency, kind))

    def _labels(self, spec: str, record: AdapterRecord | None) -> AdapterLabels:
        if record is not None:
            return labels_of(record)
        try:
            name = Ref.parse(spec).name
        except InvalidName:
            name = spec
        return AdapterLabels(name, UNRESOLVED, UNRESOLVED)

    def _rows(self, outcome: Outcome, labels: AdapterLabels, latency: float, error: str | None) -> list[Prediction]:
        now, request = time.time(), uuid.uuid4().hex[:16]
        results: Sequence[Result | None] = outcome.results or [None] * len(outcome.texts)
        rows = []
        for text, result in zip(outcome.texts, results, strict=True):
            fields: dict[str, object] = {}
            if isinstance(result, Classification):
                fields = {"label": result.label, "score": result.score}
            elif isinstance(result, Entities):
                fields = {"entities": len(result.entities)}
                if self.log_inputs:
                    fields["output"] = json.dumps({"words": list(result.words), "tags": list(result.tags)})
            elif isinstance(result, Generation):
                fields = {"tokens": result.tokens}
                if self.log_inputs:
                    fields["output"] = result.text
            rows.append(
                Prediction(
                    time=now,
                    request=request,
                    adapter=labels.adapter,
                    version=int(labels.version),
                    task=labels.task,
                    latency_s=latency,
                    input_chars=len(text),
                    error=error,
                    input=text if self.log_inputs else None,
                    **fields,  # type: ignore[arg-type]
                )
            )
        return rows

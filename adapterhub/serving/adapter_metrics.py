"""Per-adapter Prometheus series with a bounded number of label values.

Every series carries ``adapter`` (the name), ``version`` and ``task``. At most ``max_adapters`` (adapter,
version) pairs have series of their own; when one more comes, the least recently used pair is folded into
``adapter="other", version="other"`` (its task kept: tasks are a handful). Folding removes the pair's series
and adds its counts, histogram buckets and sums to ``other``'s, so the sum of a counter over all label values
never goes down and always equals what the server counted. (A fold shows as one jump in ``other``'s rate,
the size of the folded pair's whole count; the route-level series are never folded.) An adapter used again
after its fold starts new series of its own from zero.

The counts live in plain dictionaries under one lock and are rendered by :meth:`AdapterMetrics.collect`, so a
scrape costs one pass over at most ``max_adapters + tasks`` series, however many adapters were ever served.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

OTHER = "other"
LABELS = ("adapter", "version", "task")
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
GENERATE = "generate"  # the task whose series carry time to first token and tokens
LOAD_KINDS = ("cold", "warm")  # cold: read from the registry and verified; warm: from CPU memory to the device


class AdapterLabels(NamedTuple):
    """The label values of one adapter version: ``("sentiment", "3", "sentiment")``."""

    adapter: str
    version: str
    task: str


@dataclass
class _Histogram:
    counts: list[float] = field(default_factory=lambda: [0.0] * (len(SECONDS_BUCKETS) + 1))  # per bucket, +Inf last
    total: float = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(SECONDS_BUCKETS, value)] += 1
        self.total += value

    def add(self, other: _Histogram) -> None:
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.total += other.total

    def buckets(self) -> list[tuple[str, float]]:
        out, running = [], 0.0
        for bound, count in zip((*map(str, SECONDS_BUCKETS), "+Inf"), self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


@dataclass
class _Series:
    """Everything counted for one (adapter, version, task)."""

    requests: float = 0.0
    inputs: float = 0.0
    errors: dict[str, float] = field(default_factory=dict)  # by error type
    latency: _Histogram = field(default_factory=_Histogram)
    batch_rows: float = 0.0
    batches: float = 0.0
    ttft: _Histogram = field(default_factory=_Histogram)
    tokens: float = 0.0
    generation_seconds: float = 0.0
    loads: dict[str, float] = field(default_factory=dict)  # by kind
    load_seconds: dict[str, float] = field(default_factory=dict)

    def add(self, other: _Series) -> None:
        self.requests += other.requests
        self.inputs += other.inputs
        self.batch_rows += other.batch_rows
        self.batches += other.batches
        self.tokens += other.tokens
        self.generation_seconds += other.generation_seconds
        self.latency.add(other.latency)
        self.ttft.add(other.ttft)
        for mine, theirs in (
            (self.errors, other.errors),
            (self.loads, other.loads),
            (self.load_seconds, other.load_seconds),
        ):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0.0) + value


class AdapterMetrics:
    """The per-adapter instruments, a custom collector of a ``CollectorRegistry``; safe from any thread."""

    def __init__(self, max_adapters: int = 100) -> None:
        if max_adapters < 1:
            raise ValueError("max_adapters must be at least 1")
        self.max_adapters = max_adapters
        self._series: OrderedDict[AdapterLabels, _Series] = OrderedDict()  # least recently used first
        self._other: dict[str, _Series] = {}  # by task
        self._resident: dict[tuple[AdapterLabels, str], float] = {}  # set at each scrape
        self._folds = 0
        self._lock = threading.Lock()

    # ---------------------------------------------------------------------------------------- recording

    def _use(self, labels: AdapterLabels) -> _Series:
        """The series of ``labels`` (made most recently used), folding the least recently used out at the cap.
        Called with the lock held."""
        series = self._series.get(labels)
        if series is not None:
            self._series.move_to_end(labels)
            return series
        if len(self._series) >= self.max_adapters:
            old, folded = self._series.popitem(last=False)
            self._other.setdefault(old.task, _Series()).add(folded)
            self._folds += 1
        series = self._series[labels] = _Series()
        return series

    def request(self, labels: AdapterLabels, inputs: int, seconds: float | None, error: str | None = None) -> None:
        """One request (or ensemble member) for ``labels``: its inputs when it succeeded, its time from queueing
        to result when it ran (None: refused before it ran), and its error type when it failed."""
        with self._lock:
            series = self._use(labels)
            series.requests += 1
            if error is None:
                series.inputs += inputs
            else:
                series.errors[error] = series.errors.get(error, 0.0) + 1
            if seconds is not None:
                series.latency.observe(seconds)

    def batch(self, rows: dict[AdapterLabels, int]) -> None:
        """One forward batch: each adapter's rows in it (an adapter's share of a mixed batch)."""
        with self._lock:
            for labels, count in rows.items():
                series = self._use(labels)
                series.batch_rows += count
                series.batches += 1

    def generation(self, labels: AdapterLabels, tokens: int, seconds: float, first_token: float | None) -> None:
        """A generation request: tokens generated, seconds its batch spent generating, and the time from queueing
        to its first streamed piece (None when it was not streamed)."""
        with self._lock:
            series = self._use(labels)
            series.tokens += tokens
            series.generation_seconds += seconds
            if first_token is not None:
                series.ttft.observe(first_token)

    def load(self, labels: AdapterLabels, kind: str, seconds: float) -> None:
        """An adapter made hot: ``kind`` ``cold`` (from the registry) or ``warm`` (from CPU memory)."""
        with self._lock:
            series = self._use(labels)
            series.loads[kind] = series.loads.get(kind, 0.0) + 1
            series.load_seconds[kind] = series.load_seconds.get(kind, 0.0) + seconds

    def set_resident(self, resident: Iterable[tuple[AdapterLabels, str]]) -> None:
        """Which adapter versions are ``hot`` or ``warm`` now (at a scrape); a pair without series of its own
        counts under ``other``. Does not count as a use."""
        counts: dict[tuple[AdapterLabels, str], float] = {}
        with self._lock:
            for labels, state in resident:
                if labels not in self._series:
                    labels = AdapterLabels(OTHER, OTHER, labels.task)
                counts[(labels, state)] = counts.get((labels, state), 0.0) + 1
            self._resident = counts

    # ---------------------------------------------------------------------------------------- rendering

    def describe(self) -> list[Metric]:
        return []  # no metric is known up front: the registry must not call collect() at registration

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            rows = [(labels, _copy(series)) for labels, series in self._series.items()]
            rows += [(AdapterLabels(OTHER, OTHER, task), _copy(s)) for task, s in sorted(self._other.items())]
            resident, folds = dict(self._resident), self._folds
        yield from _families(rows)
        gauge = GaugeMetricFamily(
            "adapterhub_adapter_resident",
            "Adapter versions in memory by state (hot: on the device; warm: parsed, in CPU memory).",
            labels=(*LABELS, "state"),
        )
        for (labels, state), value in sorted(resident.items()):
            gauge.add_metric((*labels, state), value)
        yield gauge
        folded = CounterMetricFamily(
            "adapterhub_adapter_label_folds",
            'Adapter versions whose series were folded into adapter="other" (see --metrics-max-adapters).',
        )
        folded.add_metric((), folds)
        yield folded


def _copy(series: _Series) -> _Series:
    out = _Series()
    out.add(series)
    return out


def _families(rows: Sequence[tuple[AdapterLabels, _Series]]) -> Iterator[Metric]:
    def counter(name: str, doc: str, value: str, only: Sequence[tuple[AdapterLabels, _Series]] = rows) -> Metric:
        family = CounterMetricFamily(name, doc, labels=LABELS)
        for labels, series in only:
            family.add_metric(labels, getattr(series, value))
        return family

    yield counter(
        "adapterhub_adapter_requests", "Requests per adapter version (an ensemble counts once per member).", "requests"
    )
    yield counter("adapterhub_adapter_inputs", "Inputs that ran through each adapter version.", "inputs")
    errors = CounterMetricFamily(
        "adapterhub_adapter_errors", "Failed requests per adapter version, by error type.", labels=(*LABELS, "type")
    )
    for labels, series in rows:
        for kind, value in sorted(series.errors.items()):
            errors.add_metric((*labels, kind), value)
    yield errors
    latency = HistogramMetricFamily(
        "adapterhub_adapter_request_seconds",
        "Time from queueing a request to its results, per adapter version.",
        labels=LABELS,
    )
    for labels, series in rows:
        latency.add_metric(labels, series.latency.buckets(), series.latency.total)
    yield latency
    yield counter(
        "adapterhub_adapter_batch_rows", "Rows each adapter version had in mixed forward batches.", "batch_rows"
    )
    yield counter("adapterhub_adapter_batches", "Forward batches each adapter version took part in.", "batches")
    ttft = HistogramMetricFamily(
        "adapterhub_time_to_first_token_seconds",
        "Time from queueing a streamed generation to its first text piece, per adapter version.",
        labels=LABELS,
    )
    generating = [(labels, series) for labels, series in rows if labels.task == GENERATE]
    for labels, series in generating:
        ttft.add_metric(labels, series.ttft.buckets(), series.ttft.total)
    yield ttft
    yield counter("adapterhub_generated_tokens", "Tokens generated per adapter version.", "tokens", generating)
    yield counter(
        "adapterhub_generation_seconds",
        "Seconds generation requests' batches spent generating (tokens/s = rate of tokens / rate of this).",
        "generation_seconds",
        generating,
    )
    loads = CounterMetricFamily(
        "adapterhub_adapter_loads",
        "Times an adapter version was made hot, by kind (cold, warm).",
        labels=(*LABELS, "kind"),
    )
    load_seconds = CounterMetricFamily(
        "adapterhub_adapter_load_seconds",
        "Seconds spent making adapter versions hot, by kind.",
        labels=(*LABELS, "kind"),
    )
    for labels, series in rows:
        for kind in LOAD_KINDS:
            if kind in series.loads:
                loads.add_metric((*labels, kind), series.loads[kind])
                load_seconds.add_metric((*labels, kind), series.load_seconds[kind])
    yield loads
    yield load_seconds

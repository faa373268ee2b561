"""Shadow versions: a second adapter that runs on every request to a primary and is compared with it, unseen.

``--shadow sentiment:prod=sentiment@4`` attaches ``sentiment@4`` to requests that name ``sentiment:prod``. The
batcher adds the shadow's rows to the same mixed batch as the primary's (one forward pass), answers the client
with the primary's results as soon as the pass ends, and then hands both to :meth:`Shadows.record`, which
counts agreement:

* ``adapterhub_shadow_total{primary,shadow}``: inputs compared;
* ``adapterhub_shadow_disagreements_total{primary,shadow}``: of those, the ones whose answers differ (another top
  label for a classifier, another tag sequence for NER, other text for generation);
* ``adapterhub_shadow_probability_difference{primary,shadow}``: a histogram, per classified input, of the
  largest absolute difference between the two adapters' probabilities of one label (for two labels: how far
  apart their probabilities of either label are); ``_sum / _count`` is the mean |Δp|;
* ``adapterhub_shadow_errors_total{primary,shadow}``: inputs the shadow could not answer (it failed to load or
  to run). The primary's answers never depend on the shadow: a failed shadow is counted and logged (once per
  kind of error), never returned.

A shadow runs on a ``share`` of its primary's requests (1, the default: every one; ``--shadow-share 0.25``: one
request in four, spread evenly, so that a shadow on a compute-bound server costs a quarter of its rows); the
counts above are of the inputs it ran on.

A shadow must be able to share its primary's forward pass and be compared with it: the same task and label set
(else :class:`ShadowRefused`), the same base and quantization (else :class:`IncompatibleAdapter`), and another
version than the primary. It is resolved to its exact version when it is attached, so a later publish or alias
move never changes what is compared without the operator saying so.

This module imports neither torch nor the web framework: ``hub serve --shadow`` checks pairs before either loads.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from adapterhub.errors import AdapterHubError, ConfigError, IncompatibleAdapter, InvalidName, RegistryConflict
from adapterhub.names import Ref
from adapterhub.registry import AdapterRecord
from adapterhub.serving.errors import NoShadow, ShadowRefused, UnknownAdapter
from adapterhub.tasks.results import Classification, Entities, Generation

if TYPE_CHECKING:
    from adapterhub.inference import Hub
    from adapterhub.tasks.results import Result

log = logging.getLogger("adapterhub.serving")

DIFFERENCE_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
SAMPLE_CHARS = 2000  # an answer kept in a sample is cut here (a generation can be long); inputs are kept whole


def parse_pair(text: str) -> tuple[str, str]:
    """``"sentiment:prod=sentiment@4"`` -> ``("sentiment:prod", "sentiment@4")``, each checked as a reference."""
    primary, sep, shadow = text.partition("=")
    if not sep or not primary.strip() or not shadow.strip() or "=" in shadow:
        raise ConfigError(f"--shadow {text!r} is not PRIMARY=SHADOW (e.g. --shadow sentiment:prod=sentiment@4)")
    for ref in (primary, shadow):
        Ref.parse(ref.strip())
    return primary.strip(), shadow.strip()


def check_pair(primary: str, primary_record: AdapterRecord, shadow_record: AdapterRecord) -> None:
    """Refuse a shadow that cannot share ``primary``'s forward pass or whose answers cannot be compared with it."""
    p, s = primary_record.card, shadow_record.card
    named = primary if canonical(primary) == primary_record.ref else f"{primary} ({primary_record.ref})"
    if primary_record.ref == shadow_record.ref:
        raise ShadowRefused(
            f"{shadow_record.ref} is {primary!r} itself; a shadow must be another version (e.g. the next one)"
        )
    if p.task != s.task:
        raise ShadowRefused(
            f"{shadow_record.ref} is a {s.task} adapter but {named} is a {p.task} adapter; "
            "a shadow must have its primary's task"
        )
    if set(p.labels) != set(s.labels):
        raise ShadowRefused(
            f"{shadow_record.ref} has labels {', '.join(s.labels)} but {named} has "
            f"{', '.join(p.labels)}; a shadow must have its primary's label set"
        )
    if (p.base.id, p.base.fingerprint) != (s.base.id, s.base.fingerprint):
        raise IncompatibleAdapter(
            f"{shadow_record.ref} was trained on base {s.base.id} but {named} on "
            f"{p.base.id}; a shadow must share its primary's base to ride in the same forward pass"
        )
    if p.inference.quantize != s.inference.quantize:
        raise IncompatibleAdapter(
            f"{shadow_record.ref} runs on a {s.inference.quantize or 'full-precision'} base but {named} "
            f"on a {p.inference.quantize or 'full-precision'} one; a shadow must share its "
            "primary's base"
        )


def check_share(share: float, named: str = "a shadow's share of requests") -> None:
    """Refuse a share of requests that is not in (0, 1], ``named`` as the caller gave it."""
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
        raise ConfigError(
            f"{named} must be above 0 and at most 1 (got {share!r}); e.g. 0.25 runs a shadow on one request in four"
        )


def canonical(spec: str) -> str:
    """``spec`` as the registry writes it (``sentiment@01`` is ``sentiment@1``), as the hub pins it."""
    try:
        return str(Ref.parse(spec))
    except InvalidName:
        return spec


@dataclass(frozen=True)
class Sample:
    """One input on which the shadow disagreed with the primary."""

    input: str
    primary: str
    shadow: str
    difference: float | None  # |Δp| for classifiers, else None

    def to_dict(self) -> dict[str, Any]:
        return {"input": self.input, "primary": self.primary, "shadow": self.shadow, "difference": self.difference}


@dataclass
class Shadow:
    """A primary (as clients name it) and the exact version that shadows it, with what was seen since."""

    primary: str
    shadow: str  # the exact NAME@VERSION run on the primary's inputs
    primary_ref: str  # what the primary resolved to when the shadow was attached
    task: str
    samples: deque[Sample]
    total: int = 0
    disagreements: int = 0
    compared_probabilities: int = 0
    difference_sum: float = 0.0
    errors: int = 0
    failed: str | None = None  # why the shadow could not be loaded: it runs no more until attached again
    share: float = 1.0  # of the primary's requests that run the shadow too
    _credit: float = field(default=0.0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def takes(self) -> bool:
        """Whether the next request of the primary runs the shadow: ``share`` of them, evenly spread (every
        fourth for 0.25), so a short window of traffic holds its share too."""
        if self.share >= 1:
            return True
        with self._lock:
            self._credit += self.share
            if self._credit >= 1 - 1e-9:
                self._credit -= 1
                return True
            return False

    def report(self, *, samples: bool = True) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {
                "primary": self.primary,
                "primary_version": self.primary_ref,
                "shadow": self.shadow,
                "task": self.task,
                "share": self.share,
                "status": "failed" if self.failed else "running",
                "failure": self.failed,
                "total": self.total,
                "disagreements": self.disagreements,
                "disagreement_rate": self.disagreements / self.total if self.total else None,
                "mean_probability_difference": (
                    self.difference_sum / self.compared_probabilities if self.compared_probabilities else None
                ),
                "errors": self.errors,
            }
            if samples:
                out["samples"] = [s.to_dict() for s in reversed(self.samples)]  # newest first
        return out


class ShadowMetrics:
    """The shadow instruments, on the server's own collector registry (``Metrics.registry``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("primary", "shadow")
        self.total = Counter(
            "adapterhub_shadow",
            "Inputs run through a shadow version and compared with the primary's answer.",
            labels,
            registry=registry,
        )
        self.disagreements = Counter(
            "adapterhub_shadow_disagreements",
            "Compared inputs whose shadow answer differs (top label, tag sequence or generated text).",
            labels,
            registry=registry,
        )
        self.difference = Histogram(
            "adapterhub_shadow_probability_difference",
            "Per classified input, the largest absolute difference between the primary's and the shadow's "
            "probability of one label; _sum / _count is the mean.",
            labels,
            buckets=DIFFERENCE_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "adapterhub_shadow_errors",
            "Inputs a shadow could not answer (it failed to load or to run); the primary's answers are unaffected.",
            labels,
            registry=registry,
        )

    def start(self, primary: str, shadow: str) -> None:
        """Expose the pair's series at zero at once, so a dashboard shows the pair before its first request."""
        for metric in (self.total, self.disagreements, self.errors, self.difference):
            metric.labels(primary, shadow)


class Shadows:
    """The shadows of one server: attached, looked up per request, compared, reported and detached.

    ``samples``: how many disagreeing inputs each shadow keeps (the most recent; 0 keeps none, since inputs
    may be private).
    """

    def __init__(self, registry: CollectorRegistry, samples: int = 0) -> None:
        if samples < 0:
            raise ConfigError(f"shadow samples must not be negative (got {samples})")
        self.metrics = ShadowMetrics(registry)
        self.keep = samples
        self._by_primary: dict[str, Shadow] = {}
        self._lock = threading.Lock()
        self._logged: set[tuple[str, str, str]] = set()

    # -------------------------------------------------------------------------------------- attach, detach

    def add(self, hub: Hub, primary: str, shadow: str, *, share: float = 1.0, keep_failed: bool = False) -> Shadow:
        """Attach ``shadow`` to requests that name ``primary`` (to ``share`` of them), after checking the pair and
        loading the shadow.

        Refuses, changing nothing: an unknown name or version (:class:`AdapterNotFound`), a primary that has a
        shadow already (:class:`RegistryConflict`), a pair that cannot be compared (:class:`ShadowRefused`) or
        that does not share a base (:class:`IncompatibleAdapter`). A shadow whose files fail to load is refused
        too, unless ``keep_failed`` (at start-up: the server serves its primaries, and the shadow shows as
        failed, counted in ``adapterhub_shadow_errors_total``).
        """
        check_share(share)
        key = canonical(primary)
        for ref in (Ref.parse(primary), Ref.parse(shadow)):  # a malformed name is refused before any lookup
            if not hub.registry.versions(ref.name):
                raise UnknownAdapter(ref.name)
        self._free(key)
        primary_record = hub.resolve(primary)  # the version the primary's requests run on
        shadow_record = hub.registry.get(shadow)  # resolved anew: the version it names now
        check_pair(primary, primary_record, shadow_record)
        entry = Shadow(
            primary=key,
            shadow=shadow_record.ref,
            primary_ref=primary_record.ref,
            task=primary_record.card.task,
            samples=deque(maxlen=self.keep),
            share=float(share),
        )
        try:
            # its exact version, so that the pin clients share for a bare name or alias never moves
            hub.load(shadow_record.ref)
        except AdapterHubError as exc:
            if not keep_failed:
                raise
            entry.failed = str(exc)
            self._log(entry, exc, "failed to load")
        with self._lock:
            self._free(key)
            self._by_primary[key] = entry
        self.metrics.start(entry.primary, entry.shadow)
        return entry

    def _free(self, key: str) -> None:
        current = self._by_primary.get(key)
        if current is not None:
            raise RegistryConflict(
                f"{key} has a shadow already ({current.shadow}); remove it first (DELETE /v1/shadows/{key})"
            )

    def remove(self, primary: str) -> Shadow:
        """Detach the shadow of ``primary``; its final report stays in what this returns."""
        Ref.parse(primary)
        with self._lock:
            entry = self._by_primary.pop(canonical(primary), None)
        if entry is None:
            raise self._none(primary)
        return entry

    def get(self, primary: str) -> Shadow:
        Ref.parse(primary)
        entry = self._by_primary.get(canonical(primary))
        if entry is None:
            raise self._none(primary)
        return entry

    def _none(self, primary: str) -> NoShadow:
        attached = ", ".join(sorted(self._by_primary)) or "none"
        return NoShadow(
            f"{primary!r} has no shadow (primaries with one: {attached}); attach one with "
            f"POST /v1/shadows or hub serve --shadow {primary}=NAME@VERSION"
        )

    def list(self) -> list[Shadow]:
        return [self._by_primary[key] for key in sorted(self._by_primary)]

    def of(self, spec: str) -> Shadow | None:
        """The shadow of requests that name ``spec``, running or failed; None when it has none."""
        if not self._by_primary:  # no shadows: one falsy check per request
            return None
        return self._by_primary.get(spec) or self._by_primary.get(canonical(spec))

    # -------------------------------------------------------------------------------------- what was seen

    def record(self, entry: Shadow, texts: Sequence[Any], primary: Sequence[Result], shadow: Sequence[Result]) -> None:
        """Compare the shadow's answers for ``texts`` with the primary's; count, and keep disagreeing samples."""
        total, disagreements, differences, kept = 0, 0, [], []
        for text, mine, theirs in zip(texts, primary, shadow, strict=True):
            differs, difference = compare(mine, theirs)
            total += 1
            if difference is not None:
                differences.append(difference)
            if differs:
                disagreements += 1
                if self.keep:
                    kept.append(Sample(_shown(text), answer(mine), answer(theirs), difference))
        with entry._lock:
            entry.total += total
            entry.disagreements += disagreements
            entry.compared_probabilities += len(differences)
            entry.difference_sum += sum(differences)
            entry.samples.extend(kept)
        labels = (entry.primary, entry.shadow)
        self.metrics.total.labels(*labels).inc(total)
        if disagreements:
            self.metrics.disagreements.labels(*labels).inc(disagreements)
        histogram = self.metrics.difference.labels(*labels)
        for difference in differences:
            histogram.observe(difference)

    def error(self, entry: Shadow, inputs: int, exc: BaseException | None, *, load: bool = False) -> None:
        """Count ``inputs`` the shadow could not answer and log the first error of each kind (``exc`` None: a
        shadow stopped earlier, counted only). A load failure stops the shadow (it would fail again on every
        batch, at the cost of a registry read) until it is attached again."""
        with entry._lock:
            entry.errors += inputs
            if load and exc is not None and entry.failed is None:
                entry.failed = str(exc) or type(exc).__name__
        self.metrics.errors.labels(entry.primary, entry.shadow).inc(inputs)
        if exc is not None:
            self._log(entry, exc, "failed to load" if load else "failed to run")

    def _log(self, entry: Shadow, exc: BaseException, what: str) -> None:
        kind = (entry.primary, entry.shadow, f"{what} {type(exc).__name__}")
        if kind in self._logged:
            return
        self._logged.add(kind)
        log.warning(
            "shadow %s of %s %s (%s: %s); the primary's answers are unaffected; further errors of this kind are "
            "only counted in adapterhub_shadow_errors_total",
            entry.shadow,
            entry.primary,
            what,
            type(exc).__name__,
            exc,
            exc_info=not isinstance(exc, AdapterHubError),
        )


def compare(primary: Result, shadow: Result) -> tuple[bool, float | None]:
    """Whether ``shadow`` disagrees with ``primary``, and for classifiers the |Δp| of their probabilities."""

    if isinstance(primary, Classification) and isinstance(shadow, Classification):
        labels = primary.scores.keys() | shadow.scores.keys()
        difference = max((abs(primary.scores.get(k, 0.0) - shadow.scores.get(k, 0.0)) for k in labels), default=0.0)
        return primary.label != shadow.label, difference
    if isinstance(primary, Entities) and isinstance(shadow, Entities):
        return primary.tags != shadow.tags, None
    if isinstance(primary, Generation) and isinstance(shadow, Generation):
        return primary.text != shadow.text, None
    raise TypeError(f"cannot compare a {type(primary).__name__} with a {type(shadow).__name__}")


def answer(result: Result) -> str:
    """What a sample shows of one answer: the label, the tags, or the generated text."""

    if isinstance(result, Classification):
        return result.label
    if isinstance(result, Entities):
        return " ".join(result.tags)
    return result.text[:SAMPLE_CHARS]


def _shown(text: Any) -> str:
    return " ".join(text) if isinstance(text, tuple | list) else str(text)

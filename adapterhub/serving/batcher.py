"""Dynamic batching across adapters: concurrent requests are gathered and run as mixed-adapter batches.

Requests wait in one FIFO queue. A single worker thread takes the oldest and lets others join it until
``max_batch`` inputs are gathered or the oldest has waited ``max_wait_ms``, then runs them through
:meth:`Hub.predict` as one mixed batch of up to ``max_batch`` inputs per forward pass (generation requests
group by their sampling options). Each adapter is made resident before the batch runs, so one adapter that
fails to load fails only its own requests; a batch that fails is run again in halves, down to single requests,
so that only the request that caused the failure fails. The worker owns the device; the event loop only waits
on futures.

A request whose adapter has a shadow (see :mod:`adapterhub.serving.shadow`) brings the shadow's rows into the
same call: one forward pass for both, wherever the primary's rows alone would be one. The client gets the
primary's results as soon as the pass ends; the comparison runs after. A shadow never fails its primary: when a
batch with shadow rows fails, the primaries run again without them (and halve as above should they still fail),
then each shadow alone, so a failing shadow is counted against itself only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapterhub.errors import AdapterHubError
from adapterhub.inference import Hub
from adapterhub.inference.decoding import GenerationOptions
from adapterhub.registry import AdapterRecord
from adapterhub.serving.errors import Overloaded, ShuttingDown
from adapterhub.serving.metrics import Metrics
from adapterhub.serving.observe import Observer, Outcome
from adapterhub.serving.shadow import Shadow, Shadows
from adapterhub.tasks.results import Result

log = logging.getLogger("adapterhub.serving")


@dataclass
class _Job:
    texts: list[str]
    adapter: str
    options: GenerationOptions | None
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[Result]]
    on_text: Callable[[int, str], None] | None  # (input index within the job, text piece), from the worker
    enqueued: float = field(default_factory=time.monotonic)
    streamed: dict[int, str] = field(default_factory=dict)  # text sent so far, by input index within the job
    diverged: bool = False  # a rerun generated other text than what was already streamed
    record: AdapterRecord | None = None  # the version it runs on, once made hot
    first_piece: float | None = None  # time.monotonic() of the first piece streamed to the client
    asked: str | None = None  # the reference as the client named it (an alias runs on a version): shadows follow it

    def relay(self, index: int, text: str) -> None:
        """Stream what ``text`` (input ``index``'s text so far in this run) adds to what was sent: a rerun of a
        failed batch repeats nothing, and marks the job when its text departs from what the client has."""
        assert self.on_text is not None
        sent = self.streamed.get(index, "")
        if not (sent.startswith(text) if len(text) <= len(sent) else text.startswith(sent)):
            self.diverged = True
        elif len(text) > len(sent) and not self.diverged:
            if self.first_piece is None:
                self.first_piece = time.monotonic()
            self.on_text(index, text[len(sent) :])
            self.streamed[index] = text


class Batcher:
    """Gathers requests into mixed-adapter batches and runs them on one worker thread."""

    def __init__(
        self,
        hub: Hub,
        *,
        max_batch: int = 32,
        max_wait_ms: float = 5.0,
        max_queue: int = 1024,
        metrics: Metrics | None = None,
        observer: Observer | None = None,
        shadows: Shadows | None = None,
    ) -> None:
        self.hub = hub
        self.max_batch, self.max_wait, self.max_queue = max_batch, max_wait_ms / 1000, max_queue
        self.metrics = metrics
        self.observer = observer  # per-adapter metrics and the prediction log
        self.shadows = shadows
        self._queue: deque[_Job] = deque()
        self._waiting = 0  # inputs in the queue
        self._busy = 0  # inputs in the batch being run
        self._cond = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._seconds_per_input = 0.01  # running estimate, for Retry-After

    @property
    def depth(self) -> int:
        """Inputs waiting or running."""
        return self._waiting + self._busy

    def start(self) -> None:
        with self._cond:
            if self._thread is None:
                self._closing = False
                self._thread = threading.Thread(target=self._work, name="adapterhub-batcher", daemon=True)
                self._thread.start()

    def close(self, timeout: float | None = None) -> None:
        """Take no new requests, finish every queued one, then stop the worker."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        with self._cond:
            self._thread = None
            left, self._waiting = list(self._queue), 0
            self._queue.clear()
        for job in left:  # only when the timeout ran out
            self._failed(job, ShuttingDown("the server shut down before this request ran; retry"))

    async def submit(
        self,
        texts: Sequence[str],
        adapter: str,
        options: GenerationOptions | None = None,
        on_text: Callable[[int, str], None] | None = None,
        asked: str | None = None,
    ) -> list[Result]:
        """Queue ``texts`` for ``adapter`` and wait for their results (in order)."""
        return await self.enqueue(texts, adapter, options, on_text, asked)

    def enqueue(
        self,
        texts: Sequence[str],
        adapter: str,
        options: GenerationOptions | None = None,
        on_text: Callable[[int, str], None] | None = None,
        asked: str | None = None,
    ) -> asyncio.Future[list[Result]]:
        """Queue ``texts`` for ``adapter`` now, from the event loop; the future of their results. A full queue
        or a draining server raises here, at once (a stream gets its 429 or 503 before its 200). ``asked`` is
        the reference as the client named it, when ``adapter`` is the exact version it resolved to."""
        loop = asyncio.get_running_loop()
        job = _Job(list(texts), adapter, options, loop, loop.create_future(), on_text, asked=asked)
        with self._cond:
            if self._closing or self._thread is None:
                raise ShuttingDown("the server is shutting down and takes no new requests; retry on another")
            if self._waiting + len(job.texts) > self.max_queue:
                wait = max(1, math.ceil(self.depth * self._seconds_per_input))
                raise Overloaded(
                    f"the queue is full ({self._waiting} inputs waiting, at most {self.max_queue}); retry in {wait} s",
                    retry_after=wait,
                )
            self._queue.append(job)
            self._waiting += len(job.texts)
            self._gauge()
            self._cond.notify()
        return job.future

    # ----------------------------------------------------------------------------------------- the worker

    def _work(self) -> None:
        while True:
            jobs = self._gather()
            if jobs is None:
                return
            started = time.monotonic()
            count = sum(len(job.texts) for job in jobs)
            try:
                self._run(jobs)
            finally:
                elapsed = time.monotonic() - started
                self._seconds_per_input = 0.8 * self._seconds_per_input + 0.2 * elapsed / max(count, 1)
                with self._cond:
                    self._busy = 0
                    self._gauge()

    def _gather(self) -> list[_Job] | None:
        with self._cond:
            while not self._queue:
                if self._closing:
                    return None
                self._cond.wait()
            deadline = self._queue[0].enqueued + self.max_wait
            while self._waiting < self.max_batch and not self._closing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            jobs = [self._queue.popleft()]
            count = len(jobs[0].texts)
            while self._queue and count + len(self._queue[0].texts) <= self.max_batch:
                job = self._queue.popleft()
                jobs.append(job)
                count += len(job.texts)
            self._waiting -= count
            self._busy = count
            self._gauge()
            return jobs

    def _run(self, jobs: list[_Job]) -> None:
        ready = []
        for adapter in dict.fromkeys(job.adapter for job in jobs):  # one adapter that cannot load fails alone
            mine = [job for job in jobs if job.adapter == adapter]
            try:
                record = self.hub.ensure(adapter)
            except Exception as exc:
                for job in mine:
                    self._failed(job, exc)
                continue
            for job in mine:
                job.record = record
            ready += mine
        riders = self._riders(ready)
        groups: dict[GenerationOptions | None, list[_Job]] = {}
        for job in ready:
            groups.setdefault(job.options, []).append(job)
        for options, group in groups.items():
            for chunk in _chunks(group, self.hub.max_adapters, riders):
                self._predict(chunk, options, riders)

    def _riders(self, jobs: list[_Job]) -> dict[int, Shadow]:
        """The shadow that rides along with each job (by ``id(job)``), made hot first. A shadow that cannot load
        is stopped and counted; a stopped one counts its primary's inputs as errors and runs nothing."""
        riders: dict[int, Shadow] = {}
        if self.shadows is None:
            return riders
        for job in jobs:
            shadow = self.shadows.of(job.asked or job.adapter)
            if shadow is not None and shadow.takes():
                riders[id(job)] = shadow
        for shadow in {id(s): s for s in riders.values()}.values():
            mine = [key for key, s in riders.items() if s is shadow]
            inputs = sum(len(job.texts) for job in jobs if id(job) in mine)
            if shadow.failed is not None:
                self.shadows.error(shadow, inputs, None)  # logged when it failed
            else:
                try:
                    self.hub.ensure(shadow.shadow)
                    continue
                except Exception as exc:
                    self.shadows.error(shadow, inputs, exc, load=True)
            for key in mine:
                del riders[key]
        return riders

    def _predict(
        self, jobs: list[_Job], options: GenerationOptions | None, riders: dict[int, Shadow] | None = None
    ) -> dict[int, list[Result]]:
        """Run ``jobs`` (and the shadows in ``riders`` that ride along) as one batch; the results of the jobs
        that succeeded, by ``id(job)``. When it fails, run each half apart (and so on down to single jobs), so
        that one request's bad input or failure fails that request only: k failing requests among n cost about
        2k log2(n) extra batches, and requests that share no batch with them cost none."""
        started = time.monotonic()
        shadowed = [(job, riders[id(job)]) for job in jobs if riders and id(job) in riders]
        try:
            results, shadow_results = self._call(jobs, options, shadowed)
        except Exception as exc:
            if shadowed:  # the shadows may be at fault: the primaries first, without them, then each shadow alone
                answered = self._predict(jobs, options)
                self._shadows_alone([(job, s) for job, s in shadowed if id(job) in answered], answered, options)
                return answered
            if len(jobs) == 1:
                self._failed(jobs[0], exc)
                return {}
            half = len(jobs) // 2
            return {**self._predict(jobs[:half], options), **self._predict(jobs[half:], options)}
        elapsed = time.monotonic() - started
        answered: dict[int, list[Result]] = {}
        start = 0
        for job in jobs:
            if job.diverged:
                self._failed(
                    job,
                    Rerun(
                        "its batch failed after part of the text was streamed, and the rerun without the "
                        "failing request generated other text; send the request again"
                    ),
                )
            else:
                answered[id(job)] = results[start : start + len(job.texts)]
                # counted before the client has its answer, so /metrics read after a response includes it
                self._observe(
                    Outcome(
                        job.adapter,
                        job.record,
                        job.texts,
                        answered[id(job)],
                        None,
                        job.enqueued,
                        job.first_piece,
                        elapsed,
                    )
                )
                _succeed(job, answered[id(job)])
            start += len(job.texts)
        start = 0
        for job, shadow in shadowed:  # the clients have their answers: now the comparison
            mine = shadow_results[start : start + len(job.texts)]
            start += len(job.texts)
            if id(job) in answered:
                self._compare(shadow, job, answered[id(job)], mine)
        return answered

    def _failed(self, job: _Job, exc: BaseException) -> None:
        self._observe(Outcome(job.adapter, job.record, job.texts, None, exc, job.enqueued, job.first_piece))
        _fail(job, exc)

    def _observe(self, outcome: Outcome) -> None:
        if self.observer is None:
            return
        try:
            self.observer.settled(outcome)
        except Exception:  # counting must never fail a request or stop the worker
            log.exception("could not record the outcome of a request for %s", outcome.spec)

    def _shadows_alone(
        self, shadowed: list[tuple[_Job, Shadow]], answered: dict[int, list[Result]], options: GenerationOptions | None
    ) -> None:
        """Run each shadow on its answered primaries' inputs by itself (after a batch with shadows failed), so
        that a shadow that fails is counted against itself and one that works is still compared."""
        assert self.shadows is not None
        generation: dict[str, Any] = {} if options is None else vars(options).copy()
        for shadow in {id(s): s for _, s in shadowed}.values():
            jobs = [job for job, s in shadowed if s is shadow]
            texts = [text for job in jobs for text in job.texts]
            try:
                results = self.hub.predict(
                    texts, adapter=shadow.shadow, batch_size=max(self.max_batch, len(texts)), **generation
                )
            except Exception as exc:
                self.shadows.error(shadow, len(texts), exc)
                continue
            start = 0
            for job in jobs:
                self._compare(shadow, job, answered[id(job)], results[start : start + len(job.texts)])  # type: ignore[arg-type]
                start += len(job.texts)

    def _compare(self, shadow: Shadow, job: _Job, primary: list[Result], results: list[Result]) -> None:
        assert self.shadows is not None
        try:
            self.shadows.record(shadow, job.texts, primary, results)
        except Exception as exc:  # a comparison that fails must not stop the worker
            self.shadows.error(shadow, len(job.texts), exc)

    def _call(
        self, jobs: list[_Job], options: GenerationOptions | None, shadowed: Sequence[tuple[_Job, Shadow]] = ()
    ) -> tuple[list[Result], list[Result]]:
        """One ``Hub.predict`` of the jobs' inputs followed by their shadows' rows; (the jobs' results, the
        shadow rows' results)."""
        texts = [text for job in jobs for text in job.texts]
        adapters = [job.adapter for job in jobs for _ in job.texts]
        owners = [(job, i) for job in jobs for i in range(len(job.texts))]
        if self.metrics is not None:
            self.metrics.batch_size.observe(len(texts))
        if self.observer is not None:
            self.observer.batch([job.record for job in jobs for _ in job.texts if job.record is not None])
        count = len(texts)
        for job, shadow in shadowed:
            texts += job.texts
            adapters += [shadow.shadow] * len(job.texts)
        on_text = None
        if any(job.on_text for job in jobs):
            so_far = [""] * len(texts)  # each input's text in this run

            def on_text(index: int, piece: str) -> None:
                if index >= count:  # a shadow's text is never streamed
                    return
                job, local = owners[index]
                if job.on_text is not None:
                    so_far[index] += piece
                    job.relay(local, so_far[index])

        generation: dict[str, Any] = {} if options is None else vars(options).copy()
        # the gathered batch, shadow rows included, is one forward pass where padding allows: the hub's own batch
        # size must not cut it
        batch_size = max(self.max_batch, len(texts))
        results = self.hub.predict(texts, adapter=adapters, on_text=on_text, batch_size=batch_size, **generation)
        return results[:count], results[count:]  # type: ignore[return-value]

    def _gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.queue_depth.set(self._waiting + self._busy)


class Rerun(AdapterHubError):
    """A streamed request whose batch failed mid-way and whose rerun could not continue what was sent."""


def _chunks(jobs: list[_Job], max_adapters: int, riders: dict[int, Shadow] | None = None) -> list[list[_Job]]:
    """Split so that no chunk needs more distinct adapters (shadows included) than the hub keeps hot."""
    out: list[list[_Job]] = [[]]
    seen: set[str] = set()
    for job in jobs:
        needs = {job.adapter}
        if riders and id(job) in riders:
            needs.add(riders[id(job)].shadow)
        if out[-1] and len(seen | needs) > max_adapters:
            out.append([])
            seen = set()
        seen |= needs
        out[-1].append(job)
    return out


def _succeed(job: _Job, results: list[Result]) -> None:
    def settle() -> None:
        if not job.future.done():  # a client that went away cancelled it
            job.future.set_result(results)

    job.loop.call_soon_threadsafe(settle)


def _fail(job: _Job, exc: BaseException) -> None:
    def settle() -> None:
        if not job.future.done():
            job.future.set_exception(exc)

    with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
        job.loop.call_soon_threadsafe(settle)

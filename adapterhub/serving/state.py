"""What one running server holds: the hub, the batcher, the metrics and which adapters it may serve."""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Callable, Sequence

from starlette.concurrency import run_in_threadpool

from adapterhub.errors import AdapterNotFound
from adapterhub.inference import Hub
from adapterhub.inference.decoding import GenerationOptions
from adapterhub.inference.inputs import check_texts
from adapterhub.names import Ref
from adapterhub.registry import AdapterRecord
from adapterhub.serving.batcher import Batcher
from adapterhub.serving.config import ServeConfig
from adapterhub.serving.errors import (
    NotServed,
    Overloaded,
    ShadowRefused,
    ShuttingDown,
    TooLarge,
    UnknownAdapter,
    WrongEndpoint,
)
from adapterhub.serving.metrics import Metrics
from adapterhub.serving.observe import Observer, labels_of
from adapterhub.serving.prediction_log import PredictionLog, log_folder
from adapterhub.serving.responses import Redactor
from adapterhub.serving.shadow import Shadow, Shadows
from adapterhub.tasks.results import Result

AVAILABLE_SHOWN = 20  # names an unknown-adapter 404 lists at most: the closest to what was asked


class ServerState:
    """The library objects behind the routes; every route is a thin shell over these methods."""

    def __init__(self, hub: Hub, config: ServeConfig) -> None:
        self.hub, self.config = hub, config
        self.metrics = Metrics(config.metrics_max_adapters)
        self.log = (
            PredictionLog(log_folder(hub.registry.root), max_bytes=int(config.log_max_mb * 2**20))
            if config.log_predictions
            else None
        )
        self.observer = Observer(hub, self.metrics.adapters, self.log, config.log_inputs)
        hub.on_load = self.observer.loaded
        self.shadows = Shadows(self.metrics.registry, samples=config.shadow_samples)
        self.batcher = Batcher(
            hub,
            max_batch=config.max_batch,
            max_wait_ms=config.max_wait_ms,
            max_queue=config.max_queue,
            metrics=self.metrics,
            observer=self.observer,
            shadows=self.shadows,
        )
        # with --only-preloaded: the names and exact references that may be served, each as the registry writes
        # it (`sentiment@01` is `sentiment@1`: every spelling of a reference adds nothing to the set)
        self.allowed: set[str] | None = set() if config.only_preloaded else None
        self.redact = Redactor(hub.registry.root)

    def start(self) -> None:
        """Open the prediction log (when kept) and start the batcher."""
        if self.log is not None:
            self.log.start()
        self.batcher.start()

    def close(self) -> None:
        """Finish every queued request, then write every row of the prediction log still queued."""
        try:
            self.batcher.close(self.config.shutdown_timeout_s)
        finally:
            self.hub.close()
            if self.log is not None:
                self.log.close()

    def preload(self) -> None:
        """Load ``config.adapters``; those the command already loaded before the port opened stay as they are."""
        for spec in self.config.adapters:
            self._allow(spec, self.hub.resident_record(spec) or self.hub.load(spec))
        for primary, shadow in self.config.shadow_pairs():  # one that fails to load shows as failed; none stops
            self.shadows.add(self.hub, primary, shadow, share=self.config.shadow_share, keep_failed=True)

    def add_shadow(self, primary: str, shadow: str, share: float = 1.0) -> Shadow:
        """Attach ``shadow`` to ``share`` of ``primary``'s requests at run time (refused, changing nothing, when it
        does not fit)."""
        self._single_worker("attached")
        return self.shadows.add(self.hub, primary, shadow, share=share)

    def remove_shadow(self, primary: str) -> Shadow:
        self._single_worker("removed")
        return self.shadows.remove(primary)

    def _single_worker(self, what: str) -> None:
        if self.config.workers > 1:
            raise ShadowRefused(
                f"with --workers {self.config.workers} each worker holds its own shadows and a request reaches "
                f"one of them, so shadows are {what} with --shadow PRIMARY=SHADOW when the server starts"
            )

    def load(self, spec: str) -> AdapterRecord:
        """Resolve ``spec`` anew (on the remote first, when the server has one) and make it hot (the load
        endpoint)."""
        self._known(Ref.parse(spec))  # a malformed name is a 422, an unknown one a cheap 404
        record = self.hub.load(spec)
        self._allow(spec, record)
        return record

    def _allow(self, spec: str, record: AdapterRecord) -> None:
        if self.allowed is not None:
            self.allowed |= {str(Ref.parse(spec)), record.ref}

    def unload(self, spec: str) -> list[str]:
        refs = self.hub.unload(spec)
        if self.allowed is not None:
            self.allowed -= {str(Ref.parse(spec)), *refs}
        return refs

    async def record(self, spec: str, *, task: str | None = None, key: str | None = None) -> AdapterRecord:
        """The record ``spec`` resolves to; 404 when unknown or not served, 400 when not of ``task``.

        An alias resolves as the registry holds it now (within the hub's ``ALIAS_RECHECK_S``); a weighted one
        to the version ``key`` (the caller's id) routes to, or a random one by weight without a key. The
        request then runs on the record's exact ``ref`` (see :meth:`target`)."""
        ref = Ref.parse(spec)  # a malformed name is a 422, before any lookup
        if self.allowed is not None and str(ref) not in self.allowed:
            raise NotServed(
                f"{spec!r} is not served: the server runs with --only-preloaded "
                f"(serving: {', '.join(sorted(self.allowed)) or 'nothing'}); "
                "load it with POST /v1/adapters/{name}/load"
            )
        if ref.alias is not None:
            try:
                spec = self.hub.route(spec, key)  # a dictionary lookup; a stat of aliases.json at most once a second
            except AdapterNotFound:
                await run_in_threadpool(self._known, ref)  # an unknown name: the 404 lists the closest names
                raise
            ref = Ref.parse(spec)
        record = self.hub.resident_record(spec)  # a dictionary lookup for adapters in memory
        if record is None:  # the registry is read off the event loop
            record = await run_in_threadpool(self._resolve, ref, spec)
        if task is not None and record.card.task != task:
            raise WrongEndpoint(
                f"{record.ref} is a {record.card.task} adapter; this endpoint serves {task} adapters only, "
                "use POST /v1/predict"
            )
        return record

    @staticmethod
    def target(spec: str, record: AdapterRecord) -> str:
        """What a request for ``spec`` runs on once :meth:`record` resolved it: an alias runs on the exact version
        it resolved to (so a canary's pick and a retag between checks and batch cannot diverge), any other
        reference as given."""
        return record.ref if Ref.parse(spec).alias is not None else spec

    def _resolve(self, ref: Ref, spec: str) -> AdapterRecord:
        self._known(ref)
        return self.hub.resolve(spec)

    def _known(self, ref: Ref) -> None:
        """404 for a name with no version, from one directory lookup: the registry's own message would list
        every name it holds, which costs a scan of the registry on every mistyped request. With a remote, a
        name the local registry lacks is the hub's to look up there (its 404 names both places)."""
        if self.hub.remote is None and not self.hub.registry.versions(ref.name):
            raise UnknownAdapter(ref.name)

    def available(self, asked: str | None = None) -> tuple[list[str], int]:
        """What a client may ask for, for 404s: every name when there are at most ``AVAILABLE_SHOWN``, else
        those closest to ``asked`` (closest first); and how many there are in all. Names come from the index
        in one query, no card is read."""
        if self.allowed is None and not self.hub.registry.exists():  # nothing published yet: the error says so
            return [], 0
        names = sorted(self.allowed) if self.allowed is not None else self.hub.registry.listed_names()
        if len(names) <= AVAILABLE_SHOWN:
            return names, len(names)
        close = difflib.get_close_matches(asked, names, n=AVAILABLE_SHOWN, cutoff=0.6) if asked else []
        return close, len(names)

    def check_size(
        self, texts: Sequence[str], max_new_tokens: int | None = None, params: Sequence[str] | None = None
    ) -> None:
        """413 for too many inputs, too long an input, or too many tokens asked for; 422 naming the input (by
        ``params``, default ``inputs[i]``) for text the tokenizer cannot take, before it can join a batch."""
        config = self.config
        if len(texts) > config.max_inputs:
            raise TooLarge(f"{len(texts)} inputs in one request; at most {config.max_inputs} (split the request)")
        for index, text in enumerate(texts):
            if len(text) > config.max_input_chars:
                raise TooLarge(
                    f"input {index} has {len(text)} characters; at most {config.max_input_chars} (shorten or split it)"
                )
        if max_new_tokens is not None and max_new_tokens > config.max_new_tokens:
            raise TooLarge(f"{max_new_tokens} new tokens asked for; this server allows at most {config.max_new_tokens}")
        check_texts(texts, params)

    async def check_prompts(
        self, spec: str, prompts: Sequence[str], max_new_tokens: int, params: Sequence[str] | None = None
    ) -> None:
        """413 for a prompt of a generate adapter whose tokens and ``max_new_tokens`` pass its base's context,
        before the request joins a batch. Makes the adapter hot first when it is not (so a broken adapter gets
        its status before a stream's 200 goes out)."""
        await run_in_threadpool(self.hub.check, prompts, spec, max_new_tokens=max_new_tokens, params=params)

    async def run(
        self,
        spec: str,
        texts: Sequence[str],
        options: GenerationOptions | None = None,
        on_text: Callable[[int, str], None] | None = None,
        asked: str | None = None,
    ) -> list[Result]:
        return await self.enqueue(spec, texts, options, on_text, asked)

    def enqueue(
        self,
        spec: str,
        texts: Sequence[str],
        options: GenerationOptions | None = None,
        on_text: Callable[[int, str], None] | None = None,
        asked: str | None = None,
    ) -> asyncio.Future[list[Result]]:
        """Queue the request now (429 or 503 at once); the future of its results. ``asked`` is the reference
        as the client named it when ``spec`` is the version it resolved to (a shadow follows what was asked)."""
        try:
            future = self.batcher.enqueue(texts, spec, options, on_text, asked)
        except (Overloaded, ShuttingDown) as exc:
            self.observer.refused(spec, exc)
            raise

        def count(done: asyncio.Future[list[Result]]) -> None:
            if not done.cancelled() and done.exception() is None:
                self.metrics.inputs.inc(len(texts))

        future.add_done_callback(count)
        return future

    def update_gauges(self) -> None:
        self.metrics.resident.labels("hot").set(len(self.hub.loaded))
        self.metrics.resident.labels("warm").set(len(self.hub.warm))
        self.metrics.adapters.set_resident((labels_of(record), where) for record, where in self.hub.residents())

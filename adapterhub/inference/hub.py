"""``Hub``: one frozen base per (base, quantization) in memory, any number of adapters swapped in per call.

Adapters move through three states (four with a remote):

* **hot**: parsed, on the compute device and routed; switching among hot adapters costs a dictionary lookup.
* **warm**: evicted from the device budget but kept parsed in CPU memory; coming back is a device copy.
* **cold**: only in the registry; loading reads the files, checks their sha256 and the base fingerprint.
* **remote** (with ``remote=``): only on a remote registry; the first use pulls the version into the local
  registry (verified in staging, published atomically; see :mod:`adapterhub.remote.tier`), then loads it cold.

The hub is the public face of two parts. :class:`~adapterhub.inference.routing.Routing` turns a reference (a
bare name, an exact version, an alias or a canary, local or remote) into an
:class:`~adapterhub.inference.target.AdapterTarget`, once per call.
:class:`~adapterhub.inference.residency.Residency` keeps what is in memory and evicts the least recently used
(``max_adapters`` / ``max_bytes`` bound the hot set, ``warm_adapters`` the CPU cache). Every method takes a
reference as a string, or a target resolved already (:meth:`Hub.target`), which is then used as it is: a
server resolves each request once and runs it on that. ``hub.load(name)`` resolves again (on the remote first,
when there is one), and re-reads the files to check them against the card.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, overload

import torch

from adapterhub.base import quantization_config
from adapterhub.errors import AdapterNotFound, ConfigError, RegistryCorrupt
from adapterhub.inference.decoding import GenerationOptions
from adapterhub.inference.ensemble import combine_mean
from adapterhub.inference.host import Host
from adapterhub.inference.inputs import check_texts
from adapterhub.inference.residency import DTYPES, HotAdapter, Residency, compute_dtype, pick_device
from adapterhub.inference.resident import ResidentAdapter
from adapterhub.inference.routing import ALIAS_RECHECK_S, Routing, canonical
from adapterhub.inference.target import AdapterTarget
from adapterhub.names import Ref
from adapterhub.registry import AdapterRecord, Registry
from adapterhub.remote import RemoteTier
from adapterhub.tasks.results import Classification, Result

if TYPE_CHECKING:  # the remote package (and s3fs) load only when a remote is used
    from adapterhub.remote import Remote, RemoteRegistry

__all__ = ["ALIAS_RECHECK_S", "DTYPES", "AdapterTarget", "Hub"]

_ACTIVE: ContextVar[tuple[AdapterTarget, ...]] = ContextVar("adapterhub_active", default=())

Adapter = str | AdapterTarget  # a reference to resolve, or a target resolved already


class Hub:
    """Load adapters from a registry and run them on shared frozen bases.

    Example:
        >>> hub = Hub()                                            # doctest: +SKIP
        >>> hub.predict("great film", adapter="sentiment").label   # doctest: +SKIP
        'positive'
    """

    def __init__(
        self,
        registry: Registry | str | None = None,
        *,
        device: str | torch.device | None = None,
        quantize: str | None = None,
        dtype: str | None = None,
        max_adapters: int = 64,
        max_bytes: int | None = None,
        warm_adapters: int = 256,
        batch_size: int = 32,
        remote: str | Remote | RemoteRegistry | None = None,
    ) -> None:
        if quantize:
            quantization_config(quantize)  # refuse at once without CUDA or bitsandbytes
        if max_adapters < 1 or batch_size < 1 or warm_adapters < 0 or (max_bytes is not None and max_bytes < 1):
            raise ConfigError("max_adapters and batch_size must be at least 1, warm_adapters and max_bytes positive")
        self.registry = registry if isinstance(registry, Registry) else Registry(registry)
        self.device = pick_device(device)
        self.quantize = quantize
        self.dtype = compute_dtype(dtype, self.device, quantize)
        self.batch_size = batch_size
        self.residency = Residency(
            self.registry,
            self.device,
            quantize,
            self.dtype,
            max_adapters=max_adapters,
            max_bytes=max_bytes,
            warm_adapters=warm_adapters,
        )
        tier = None
        if remote is not None:  # adapters the registry lacks are pulled from it, outside the residency's lock
            tier = RemoteTier(self.registry, remote)
        self.routing = Routing(self.registry, self.residency, tier)
        # the residency's tables, under the names benchmarks and tests read them by
        r = self.residency
        self._hosts, self._hot, self._warm, self._pinned, self._lock = r.hosts, r.hot, r.warm, r.pinned, r.lock

    @property
    def max_adapters(self) -> int:
        """Hot adapters at most (the least recently used leaves first)."""
        return self.residency.max_adapters

    @max_adapters.setter
    def max_adapters(self, count: int) -> None:
        self.residency.max_adapters = count

    @property
    def max_bytes(self) -> int | None:
        """Bytes of hot adapter tensors at most (None: no bound)."""
        return self.residency.max_bytes

    @property
    def warm_adapters(self) -> int:
        """Adapters kept parsed in CPU memory at most."""
        return self.residency.warm_adapters

    @property
    def on_load(self) -> Callable[[AdapterRecord, str, float], None] | None:
        """Called after an adapter becomes hot: (its record, ``cold`` or ``warm``, seconds it took)."""
        return self.residency.on_load

    @on_load.setter
    def on_load(self, callback: Callable[[AdapterRecord, str, float], None] | None) -> None:
        self.residency.on_load = callback

    @property
    def remote(self) -> RemoteRegistry | None:
        """The remote that adapters the local registry lacks are pulled from (None: the registry alone)."""
        return self.routing.tier.remote if self.routing.tier is not None else None

    def close(self) -> None:
        """Stop the background work a remote needs (following its aliases); adapters stay loaded."""
        if self.routing.tier is not None:
            self.routing.tier.close()

    def __repr__(self) -> str:
        return f"Hub({self.registry.root!s}, device={self.device}, hot={len(self._hot)}, warm={len(self._warm)})"

    # ------------------------------------------------------------------------------------------- residency

    @property
    def loaded(self) -> list[str]:
        """Exact references of the hot adapters, least recently used first."""
        return list(self._hot)

    @property
    def warm(self) -> list[str]:
        """Exact references of adapters kept parsed in CPU memory, off the device budget."""
        return list(self._warm)

    def residents(self) -> list[tuple[AdapterRecord, str]]:
        """Every adapter version in memory with its state, ``hot`` or ``warm``; no file is read, no lock taken."""
        return self.residency.residents()

    @property
    def bases(self) -> list[tuple[str, str]]:
        """(base id, family) of every base in memory."""
        return self.residency.bases

    def quantization_for(self, record: AdapterRecord) -> str | None:
        """The quantization ``record`` runs under (see :meth:`Residency.quantization_for`)."""
        return self.residency.quantization_for(record)

    def load(self, adapter: str) -> AdapterRecord:
        """Make ``adapter`` (NAME, NAME@VERSION or NAME:ALIAS) hot, resolving a bare name or alias anew.

        The registry's card is read again and every file is hashed against it, resident or not: when the
        content hash differs from the resident copy's (a registry rebuilt under the same version), the new bytes
        replace the old ones; when a file no longer matches its card, the resident copy is unloaded (it is no
        longer what the registry holds under that reference) and :class:`RegistryCorrupt` is raised.

        An alias is read anew; a weighted one makes every version of its split hot and returns the record of the
        version a call without a key would get now (a pick by weight).

        With a remote, ``adapter`` is resolved there first (a newly pushed version, an alias moved on the remote)
        and that version is pulled when the local registry lacks it; a name the remote does not hold resolves
        locally. The pull runs before the hub's lock is taken, so predictions for other adapters go on meanwhile.
        """
        split = self.routing.split(adapter)
        if split is not None:
            name = Ref.parse(adapter).name
            records = [self.load(f"{name}@{v}") for v in split.versions]
            return records[split.versions.index(Ref.parse(self.route(adapter)).version or 0)]
        # the remote first: its pull also moves the local alias to the remote's target, which route() then reads
        target = self.routing.latest(adapter)
        spec = canonical(self.routing.route(adapter, fresh=True))
        target = target or spec
        with self._lock:
            started = time.perf_counter()
            record = self.registry.get(target)
            try:
                loaded = self.registry.load(record.ref)
            except RegistryCorrupt as exc:
                if self.residency.drop(record.ref):
                    raise RegistryCorrupt(f"{exc} (its copy in memory was unloaded and is no longer served)") from exc
                raise
            entry = self.residency.make_hot(loaded.record, keep=(), loaded=loaded, started=started)
            self._pinned[spec] = record.ref
            return entry.adapter.record

    def unload(self, adapter: str) -> list[str]:
        """Drop ``adapter`` from the device and the CPU cache, freeing its memory (its base stays loaded).

        Returns the exact references dropped (a bare name drops every loaded version of it, a weighted alias
        every loaded version of its split).
        """
        split = self.routing.split(adapter)
        with self._lock:
            if split is not None:
                name = Ref.parse(adapter).name
                refs = [ref for v in split.versions for ref in self.residency.refs_of(f"{name}@{v}")]
            else:
                refs = self.residency.refs_of(canonical(self.route(adapter)))
            if not refs:
                raise AdapterNotFound(f"{adapter!r} is not loaded (loaded: {', '.join(self._hot) or 'none'})")
            for ref in refs:
                self.residency.drop(ref)
            return refs

    def unload_all(self, *, bases: bool = False) -> None:
        """Drop every adapter; with ``bases=True`` the base models too."""
        with self._lock:
            self.residency.clear(bases=bases)

    # ------------------------------------------------------------------------------------------- routing

    def route(self, adapter: str, key: str | None = None, *, fresh: bool = False) -> str:
        """The exact NAME@VERSION an alias sends a call to now (by weight for a weighted alias: the same version
        for the same ``key``, at random without one); any other reference unchanged. ``fresh`` reads the
        alias file now rather than within ``ALIAS_RECHECK_S``.

        Raises :class:`AdapterNotFound` for an alias or name the registry does not hold."""
        return self.routing.route(adapter, key, fresh=fresh)

    def target(self, adapter: Adapter, key: str | None = None, *, routed: str | None = None) -> AdapterTarget:
        """Resolve ``adapter`` once into the target a call runs on (a target is returned as it is).

        An alias is followed (by ``key`` for a weighted one; ``routed`` when the caller routed it already), a
        bare name takes its pinned version or, unpinned, the newest, and with a remote a version the local
        registry lacks is pulled into it first (not loaded). Raises :class:`AdapterNotFound` for a name,
        version or alias the registry does not hold (with a remote, the error names both places)."""
        if isinstance(adapter, AdapterTarget):
            return adapter
        return self.routing.target(adapter, key, routed=routed)

    def resident_target(
        self, adapter: str, key: str | None = None, *, routed: str | None = None
    ) -> AdapterTarget | None:
        """The target of ``adapter`` when its pinned version is in memory (hot or warm), else None; no card is
        read (an alias costs at most one ``stat`` a second)."""
        return self.routing.resident(adapter, self.route(adapter, key) if routed is None else routed)

    def resolve(self, adapter: Adapter, key: str | None = None) -> AdapterRecord:
        """The record :meth:`predict` would use for ``adapter``, without loading it or waiting for a batch.

        Raises :class:`AdapterNotFound` for a name, version or alias the registry does not hold. With a remote,
        one the registry lacks is pulled into it from the remote first (not loaded), and the error names both.
        """
        return self.target(adapter, key).record

    def resident_record(self, adapter: str) -> AdapterRecord | None:
        """The record of ``adapter`` when it is pinned and in memory (hot or warm), else None; no card is read
        (an alias costs at most one ``stat`` a second)."""
        target = self.resident_target(adapter)
        return target.record if target is not None else None

    # ------------------------------------------------------------------------------------------- one target

    def ensure(self, adapter: Adapter) -> AdapterRecord:
        """Make ``adapter`` hot the way :meth:`predict` would (a pinned name stays pinned); its record."""
        return self._acquire(self.target(adapter)).adapter.record

    def _acquire(self, target: AdapterTarget) -> HotAdapter:
        with self._lock:
            return self.residency.acquire(target)

    def check(
        self,
        inputs: Sequence[str],
        adapter: Adapter,
        *,
        max_new_tokens: int | None = None,
        params: Sequence[str] | None = None,
    ) -> None:
        """Raise what :meth:`predict` would raise for one of ``inputs`` itself, without running any: text that
        is not well-formed Unicode and, with ``max_new_tokens`` (generate adapters), a prompt whose tokens and
        the new ones need more positions than the base has. ``params`` name the inputs in the error
        (default ``inputs[0]``, …). Makes ``adapter`` hot when it is not; safe while another thread predicts.
        """
        names = list(params) if params is not None else [f"inputs[{i}]" for i in range(len(inputs))]
        check_texts(inputs, names)
        if max_new_tokens is None:
            return
        GenerationOptions(max_new_tokens=max_new_tokens)  # its own check of the number
        target = self.target(adapter)
        entry = self.residency.hot_entry(target) or self._acquire(target)  # hot: a lookup while a batch runs
        entry.host.check_prompts(inputs, entry.adapter, max_new_tokens, names)

    def room(self, adapter: Adapter, texts: Sequence[str]) -> int | None:
        """How many new tokens fit in the context of the base ``adapter`` (a generate adapter) runs on, after
        the longest of ``texts`` as it is prompted (template and prefix included); None when the base states
        no context length. Makes ``adapter`` hot, as :meth:`ensure` does."""
        target = self.target(adapter)
        with self._lock:  # the tokenizer is shared with the forward passes and is not thread-safe
            entry = self.residency.acquire(target)
            return entry.host.room(texts, entry.adapter)

    @contextmanager
    def using(self, adapter: Adapter) -> Iterator[ResidentAdapter]:
        """Within the block, :meth:`predict` without ``adapter=`` uses ``adapter`` (per thread and task)."""
        target = self.target(adapter)
        resident = self._acquire(target)
        token = _ACTIVE.set((*_ACTIVE.get(), target))
        try:
            yield resident.adapter
        finally:
            _ACTIVE.reset(token)

    def base_states(self, texts: Sequence[str], adapter: Adapter) -> torch.Tensor:
        """Last hidden states of the bare base that ``adapter`` runs on (no adapter applied)."""
        target = self.target(adapter)
        with self._lock:
            return self.residency.acquire(target).host.base_states(texts)

    # ------------------------------------------------------------------------------------------- inference

    @overload
    def predict(self, inputs: str, adapter: Adapter | None = None, **options: Any) -> Result: ...

    @overload
    def predict(
        self, inputs: Sequence[str], adapter: Adapter | Sequence[Adapter] | None = None, **options: Any
    ) -> list[Result]: ...

    def predict(
        self,
        inputs: str | Sequence[str],
        adapter: Adapter | Sequence[Adapter] | None = None,
        *,
        batch_size: int | None = None,
        on_text: Callable[[int, str], None] | None = None,
        split_into_words: bool = False,
        combine: str | None = None,
        progress: Callable[[int], None] | None = None,
        key: str | None = None,
        **generation: Any,
    ) -> Result | list[Result]:
        """Run each input through its adapter; one adapter for all, or one per input (a mixed batch).

        Returns a :class:`Classification`, :class:`Entities` or :class:`Generation` per input, in input order.
        ``adapter`` names each a reference or a target from :meth:`target`; each reference is resolved once.
        ``generation`` takes ``max_new_tokens``, ``temperature``, ``top_k``, ``top_p`` and ``seed``.
        ``on_text(index, piece)`` streams generated text: called as soon as each input's next piece decodes.
        ``split_into_words``: each input is a list of words (token classification only), tagged one per word
        as given rather than split from raw text.
        ``combine="mean"``: ``adapter`` lists an ensemble of classifiers of one label set, every input runs
        through each and gets their averaged class probabilities.
        ``progress(n)``: called after each forward pass with the number of inputs it finished (with ``combine``,
        each input counts once per member).
        ``key``: the caller's id, for weighted aliases: each weighted alias in the call sends all its inputs to
        one version, the same one for every call with the same ``key`` (random by weight without one). Every
        result's ``adapter`` names the exact NAME@VERSION that answered.
        """
        if combine is not None:
            return self._ensemble(inputs, adapter, combine, batch_size, progress)
        single = isinstance(inputs, str)
        texts = _texts(inputs, split_into_words)
        check_texts(texts)  # before the tokenizer, which fails on them without saying which
        targets = self._targets(adapter, len(texts), key)
        options = GenerationOptions(**generation) if generation else None
        results = self._run(texts, targets, batch_size or self.batch_size, options, on_text, progress)
        return results[0] if single else results

    def _targets(self, adapter: Adapter | Sequence[Adapter] | None, count: int, key: str | None) -> list[AdapterTarget]:
        """One target per input; each distinct reference resolved once (one version per alias and call)."""
        if adapter is None:
            active = _ACTIVE.get()
            if not active:
                raise ConfigError("no adapter given: pass adapter='NAME' or call predict inside `with hub.using(NAME)`")
            return [active[-1]] * count
        if isinstance(adapter, str | AdapterTarget):
            return [self.target(adapter, key)] * count
        specs = list(adapter)
        if len(specs) != count:
            raise ConfigError(f"got {count} inputs but {len(specs)} adapters; give one adapter, or one per input")
        resolved = {spec: self.target(spec, key) for spec in dict.fromkeys(specs)}
        return [resolved[spec] for spec in specs]

    def _run(
        self,
        texts: Sequence[Any],
        targets: Sequence[AdapterTarget],
        batch_size: int,
        options: GenerationOptions | None,
        on_text: Callable[[int, str], None] | None,
        progress: Callable[[int], None] | None,
    ) -> list[Result]:
        """Make every target hot (none of them making room for another) and run each base's inputs as one
        mixed batch; results in input order."""
        distinct = {target.ref: target for target in targets}
        with self._lock:
            if len(distinct) > self.max_adapters:
                raise ConfigError(
                    f"this call needs {len(distinct)} adapters but max_adapters is {self.max_adapters}; "
                    "raise it or split the call"
                )
            resident: dict[str, HotAdapter] = {}
            for ref, target in distinct.items():
                resident[ref] = self.residency.acquire(target, keep=resident.keys())
            by_host: dict[Host, list[tuple[int, Any, ResidentAdapter]]] = {}
            for index, (text, target) in enumerate(zip(texts, targets, strict=True)):
                entry = resident[target.ref]
                by_host.setdefault(entry.host, []).append((index, text, entry.adapter))
            results: dict[int, Result] = {}
            for host, requests in by_host.items():
                results.update(host.run(requests, batch_size, options, on_text, progress))
        return [results[i] for i in range(len(texts))]

    def _ensemble(
        self,
        inputs: str | Sequence[str],
        members: Any,
        combine: str,
        batch_size: int | None,
        progress: Callable[[int], None] | None = None,
    ) -> Classification | list[Classification]:
        targets, labels = self.routing.ensemble(members, combine)
        single = isinstance(inputs, str)
        texts = [inputs] if single else list(inputs)
        members_of = [t for t in targets for _ in texts]
        results = self.predict(texts * len(targets), members_of, batch_size=batch_size, progress=progress)
        combined = combine_mean(results, len(targets), labels)
        return combined[0] if single else combined


def _texts(inputs: Any, split_into_words: bool) -> list[Any]:
    """The inputs as a list, each checked to be a text (or, with ``split_into_words``, a tuple of words)."""
    single = isinstance(inputs, str)
    texts: list[Any] = [inputs] if single else list(inputs)
    if split_into_words:
        if single or not all(isinstance(t, list | tuple) and all(isinstance(w, str) for w in t) for t in texts):
            raise ConfigError("with split_into_words, inputs must be a list of word lists, e.g. [['EU', 'votes']]")
        return [tuple(t) for t in texts]
    if not all(isinstance(t, str) for t in texts):
        raise ConfigError("inputs must be strings (one text, or a list of texts)")
    return texts

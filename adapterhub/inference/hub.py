"""``Hub``: one frozen base per (base, quantization) in memory, any number of adapters swapped in per call.

Adapters move through three states (four with a remote):

* **hot**: parsed, on the compute device and routed; switching among hot adapters costs a dictionary lookup.
* **warm**: evicted from the device budget but kept parsed in CPU memory; coming back is a device copy.
* **cold**: only in the registry; loading reads the files, checks their sha256 and the base fingerprint.
* **remote** (with ``remote=``): only on a remote registry; the first use pulls the version into the local
  registry (verified in staging, published atomically; see :mod:`adapterhub.remote.tier`), then loads it cold.

A bare name resolves to its newest version when first used and stays pinned to it; ``hub.load(name)``
resolves again (on the remote first, when there is one), and re-reads the files to check them against the
card. An alias (``sentiment:prod``) follows the registry: a change made by ``hub tag`` in any process is seen
within ``ALIAS_RECHECK_S`` seconds, at the cost of one ``stat`` of ``aliases.json`` per name and interval. A
weighted alias (a canary) sends each call to one of its versions by weight: always the same one for the same
``key`` (a caller's id), at random without. References are pinned as the registry writes them (``sentiment@01``
is ``sentiment@1``), so differently spelled requests share one entry. ``max_adapters`` / ``max_bytes`` bound the
hot set (least recently used leaves first); ``warm_adapters`` bounds the CPU cache.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

import torch

from adapterhub.errors import AdapterNotFound, ConfigError, IncompatibleAdapter, InvalidName, RegistryCorrupt
from adapterhub.inference.decoding import GenerationOptions
from adapterhub.inference.ensemble import check_members, combine_mean
from adapterhub.inference.host import Host
from adapterhub.inference.inputs import check_texts
from adapterhub.inference.resident import ResidentAdapter
from adapterhub.inference.results import Classification, Result
from adapterhub.names import Ref
from adapterhub.registry import AdapterRecord, LoadedAdapter, Registry
from adapterhub.registry.aliases import AliasCache, Split, Target
from adapterhub.tasks import task_for

if TYPE_CHECKING:  # the remote package (and s3fs) load only when a remote is used
    from adapterhub.remote import Remote, RemoteRegistry, RemoteTier

_ACTIVE: ContextVar[tuple[str, ...]] = ContextVar("adapterhub_active", default=())
ALIAS_RECHECK_S = 1.0  # an alias changed by another process is followed within this many seconds


@dataclass
class _Hot:
    host: Host
    adapter: ResidentAdapter


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
        from adapterhub.base import quantization_config

        if quantize:
            quantization_config(quantize)  # refuse at once without CUDA or bitsandbytes
        if max_adapters < 1 or batch_size < 1 or warm_adapters < 0 or (max_bytes is not None and max_bytes < 1):
            raise ConfigError("max_adapters and batch_size must be at least 1, warm_adapters and max_bytes positive")
        self.registry = registry if isinstance(registry, Registry) else Registry(registry)
        self.device = _device(device)
        self.quantize = quantize
        self.dtype = _dtype(dtype, self.device, quantize)
        self.max_adapters, self.max_bytes, self.warm_adapters = max_adapters, max_bytes, warm_adapters
        self.batch_size = batch_size
        self._hosts: dict[tuple[str, str, str | None], Host] = {}  # (base id, family, quantization) -> base
        self._hot: OrderedDict[str, _Hot] = OrderedDict()  # exact ref -> resident adapter, least recent first
        self._warm: OrderedDict[str, ResidentAdapter] = OrderedDict()  # exact ref -> parsed, on the CPU
        self._pinned: dict[str, str] = {}  # canonical reference ("sentiment") -> exact ref ("sentiment@3")
        self._lock = threading.RLock()
        # called after an adapter becomes hot: (its record, "cold" (read from the registry) or "warm" (from CPU
        # memory), seconds it took); a server counts loads per adapter with it
        self.on_load: Callable[[AdapterRecord, str, float], None] | None = None
        self._aliases = AliasCache(self.registry.aliases, lambda name: self.registry.root / name, ALIAS_RECHECK_S)
        self._tier: RemoteTier | None = None
        if remote is not None:  # adapters the registry lacks are pulled from it, outside self._lock
            from adapterhub.remote import RemoteTier

            self._tier = RemoteTier(self.registry, remote)

    @property
    def remote(self) -> RemoteRegistry | None:
        """The remote that adapters the local registry lacks are pulled from (None: the registry alone)."""
        return self._tier.remote if self._tier is not None else None

    def close(self) -> None:
        """Stop the background work a remote needs (following its aliases); adapters stay loaded."""
        if self._tier is not None:
            self._tier.close()

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
        for _ in range(10):  # another thread may move an entry while this copies: copy again
            try:
                hot = [(entry.adapter.record, "hot") for entry in list(self._hot.values())]
                return hot + [(adapter.record, "warm") for adapter in list(self._warm.values())]
            except RuntimeError:
                continue
        return []

    @property
    def bases(self) -> list[tuple[str, str]]:
        """(base id, family) of every base in memory."""
        return list(dict.fromkeys((base, family) for base, family, _ in self._hosts))

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
        split = self._split(adapter)
        if split is not None:
            name = Ref.parse(adapter).name
            records = [self.load(f"{name}@{v}") for v in split.versions]
            return records[split.versions.index(Ref.parse(self.route(adapter)).version or 0)]
        # the remote first: its pull also moves the local alias to the remote's target, which route() then reads
        target = self._tier.latest(_canonical(adapter)).ref if self._tier is not None else None
        spec = _canonical(self.route(adapter, fresh=True))
        target = target or spec
        with self._lock:
            started = time.perf_counter()
            record = self.registry.get(target)
            try:
                loaded = self.registry.load(record.ref)
            except RegistryCorrupt as exc:
                if self._drop(record.ref):
                    raise RegistryCorrupt(f"{exc} (its copy in memory was unloaded and is no longer served)") from exc
                raise
            entry = self._make_hot(loaded.record, keep=(), loaded=loaded, started=started)
            self._pinned[spec] = record.ref
            return entry.adapter.record

    def route(self, adapter: str, key: str | None = None, *, fresh: bool = False) -> str:
        """The exact NAME@VERSION an alias sends a call to now (by weight for a weighted alias: the same version
        for the same ``key``, at random without one); any other reference unchanged. ``fresh`` reads the
        alias file now rather than within ``ALIAS_RECHECK_S``.

        Raises :class:`AdapterNotFound` for an alias or name the registry does not hold."""
        alias = self._alias(adapter, fresh)
        if alias is None:
            return adapter  # not an alias (a malformed one raises its naming error when resolved)
        ref, target = alias
        if self._tier is not None:  # a set lookup: the remote is read in the background, never here
            self._tier.follow(ref.name, str(ref.alias))
        if target is None:  # unknown here: the remote resolves it, or the registry's own error names what exists
            return adapter if self._tier is not None else self.registry.get(ref, key=key).ref
        version = target.route(str(ref), key) if isinstance(target, Split) else target
        return f"{ref.name}@{version}"

    def _split(self, adapter: str) -> Split | None:
        """The split of ``adapter`` when it is a weighted alias (read anew), else None."""
        alias = self._alias(adapter, fresh=True)
        return alias[1] if alias is not None and isinstance(alias[1], Split) else None

    def _alias(self, adapter: str, fresh: bool) -> tuple[Ref, Target | None] | None:
        """``(its reference, what the alias points to or None when unknown)`` when ``adapter`` is an alias."""
        try:
            ref = Ref.parse(adapter)
        except InvalidName:
            return None
        if ref.alias is None:
            return None
        return ref, self._aliases.get(ref.name, fresh=fresh).get(ref.alias)

    def resolve(self, adapter: str, key: str | None = None) -> AdapterRecord:
        """The record :meth:`predict` would use for ``adapter``, without loading it or waiting for a batch.

        Raises :class:`AdapterNotFound` for a name, version or alias the registry does not hold. With a remote,
        one the registry lacks is pulled into it from the remote first (not loaded), and the error names both.
        """
        adapter = self.route(adapter, key)
        record = self.resident_record(adapter)
        if record is not None:
            return record
        spec = _canonical(adapter)
        ref = Ref.parse(self._pinned.get(spec) or spec)
        return self._tier.local(ref) if self._tier is not None else self.registry.get(ref)

    def _fetch(self, specs: Sequence[str]) -> None:
        """Pull what the local registry lacks of ``specs`` from the remote, before the hub's lock is taken (a
        pull takes a network round trip per file; the lock is what every batch needs)."""
        if self._tier is None:
            return
        for spec in dict.fromkeys(specs):
            if self.resident_record(spec) is None:
                self.resolve(spec)

    def resident_record(self, adapter: str) -> AdapterRecord | None:
        """The record of ``adapter`` when it is pinned and in memory (hot or warm), else None; no card is read
        (an alias costs at most one ``stat`` a second)."""
        ref = self._pinned.get(_canonical(self.route(adapter)))  # plain dict reads: safe while another thread predicts
        if ref is None:
            return None
        resident = self._hot.get(ref)
        if resident is not None:
            return resident.adapter.record
        warm = self._warm.get(ref)
        return warm.record if warm is not None else None

    def ensure(self, adapter: str) -> AdapterRecord:
        """Make ``adapter`` hot the way :meth:`predict` would (a pinned name stays pinned); its record."""
        adapter = self.route(adapter)
        self._fetch([adapter])
        with self._lock:
            return self._resolve(adapter, keep=())[1].record

    def check(
        self,
        inputs: Sequence[str],
        adapter: str,
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
        adapter = self.route(adapter)
        ref = self._pinned.get(_canonical(adapter))
        entry = self._hot.get(ref) if ref is not None else None  # a lookup while a batch runs: no lock
        if entry is not None:
            host, resident = entry.host, entry.adapter
        else:
            self._fetch([adapter])
            with self._lock:
                host, resident = self._resolve(adapter, keep=())
        host.check_prompts(inputs, resident, max_new_tokens, names)

    def room(self, adapter: str, texts: Sequence[str]) -> int | None:
        """How many new tokens fit in the context of the base ``adapter`` (a generate adapter) runs on, after
        the longest of ``texts`` as it is prompted (template and prefix included); None when the base states
        no context length. Makes ``adapter`` hot, as :meth:`ensure` does."""
        adapter = self.route(adapter)
        self._fetch([adapter])
        with self._lock:  # the tokenizer is shared with the forward passes and is not thread-safe
            host, resident = self._resolve(adapter, keep=())
            return host.room(texts, resident)

    def unload(self, adapter: str) -> list[str]:
        """Drop ``adapter`` from the device and the CPU cache, freeing its memory (its base stays loaded).

        Returns the exact references dropped (a bare name drops every loaded version of it, a weighted alias
        every loaded version of its split).
        """
        split = self._split(adapter)
        with self._lock:
            if split is not None:
                name = Ref.parse(adapter).name
                refs = [ref for v in split.versions for ref in self._refs_of(f"{name}@{v}")]
            else:
                refs = self._refs_of(_canonical(self.route(adapter)))
            if not refs:
                raise AdapterNotFound(f"{adapter!r} is not loaded (loaded: {', '.join(self._hot) or 'none'})")
            for ref in refs:
                self._drop(ref)
            return refs

    def _drop(self, ref: str) -> bool:
        """Forget exact ``ref``: off the device, out of the CPU cache, unpinned; whether it was in memory."""
        entry = self._hot.pop(ref, None)
        if entry is not None:
            entry.host.release(entry.adapter)
        resident = entry is not None or self._warm.pop(ref, None) is not None
        for spec in [s for s, r in self._pinned.items() if r == ref]:
            del self._pinned[spec]
        return resident

    def unload_all(self, *, bases: bool = False) -> None:
        """Drop every adapter; with ``bases=True`` the base models too."""
        with self._lock:
            for entry in self._hot.values():
                entry.host.release(entry.adapter)
            self._hot.clear()
            self._warm.clear()
            self._pinned.clear()
            if bases:
                self._hosts.clear()

    @contextmanager
    def using(self, adapter: str) -> Iterator[ResidentAdapter]:
        """Within the block, :meth:`predict` without ``adapter=`` uses ``adapter`` (per thread and task)."""
        adapter = self.route(adapter)
        self._fetch([adapter])
        with self._lock:
            resident = self._resolve(adapter, keep=())
        token = _ACTIVE.set((*_ACTIVE.get(), adapter))
        try:
            yield resident
        finally:
            _ACTIVE.reset(token)

    # ------------------------------------------------------------------------------------------- inference

    @overload
    def predict(self, inputs: str, adapter: str | None = None, **options: Any) -> Result: ...

    @overload
    def predict(
        self, inputs: Sequence[str], adapter: str | Sequence[str] | None = None, **options: Any
    ) -> list[Result]: ...

    def predict(
        self,
        inputs: str | Sequence[str],
        adapter: str | Sequence[str] | None = None,
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
        texts: list[Any] = [inputs] if single else list(inputs)
        if split_into_words:
            if single or not all(isinstance(t, list | tuple) and all(isinstance(w, str) for w in t) for t in texts):
                raise ConfigError("with split_into_words, inputs must be a list of word lists, e.g. [['EU', 'votes']]")
            texts = [tuple(t) for t in texts]
        elif not all(isinstance(t, str) for t in texts):
            raise ConfigError("inputs must be strings (one text, or a list of texts)")
        check_texts(texts)  # before the tokenizer, which fails on them without saying which
        specs = self._specs(adapter, len(texts))
        routed = {spec: self.route(spec, key) for spec in dict.fromkeys(specs)}  # one version per alias and call
        specs = [routed[spec] for spec in specs]
        options = GenerationOptions(**generation) if generation else None
        self._fetch(specs)
        with self._lock:
            distinct = list(dict.fromkeys(specs))
            if len(distinct) > self.max_adapters:
                raise ConfigError(
                    f"this call needs {len(distinct)} adapters but max_adapters is {self.max_adapters}; "
                    "raise it or split the call"
                )
            resident: dict[str, tuple[Host, ResidentAdapter]] = {}
            kept: set[str] = set()  # the call's adapters made hot so far: none of them may make room for the next
            for spec in distinct:
                resident[spec] = self._resolve(spec, keep=kept)
                kept.add(resident[spec][1].ref)
            by_host: dict[Host, list[tuple[int, str, ResidentAdapter]]] = {}
            for index, (text, spec) in enumerate(zip(texts, specs, strict=True)):
                host, res = resident[spec]
                by_host.setdefault(host, []).append((index, text, res))
            results: dict[int, Result] = {}
            for host, requests in by_host.items():
                results.update(host.run(requests, batch_size or self.batch_size, options, on_text, progress))
        ordered = [results[i] for i in range(len(texts))]
        return ordered[0] if single else ordered

    def _ensemble(
        self,
        inputs: str | Sequence[str],
        members: Any,
        combine: str,
        batch_size: int | None,
        progress: Callable[[int], None] | None = None,
    ) -> Classification | list[Classification]:
        if not isinstance(members, list | tuple):
            raise ConfigError("combine needs adapter to be a list of at least two adapters, e.g. ['a@1', 'a@2']")
        labels = check_members(members, [self.resolve(m) for m in members], combine)
        single = isinstance(inputs, str)
        texts = [inputs] if single else list(inputs)
        members_of = [m for m in members for _ in texts]
        results = self.predict(texts * len(members), members_of, batch_size=batch_size, progress=progress)
        combined = combine_mean(results, len(members), labels)
        return combined[0] if single else combined

    def base_states(self, texts: Sequence[str], adapter: str) -> torch.Tensor:
        """Last hidden states of the bare base that ``adapter`` runs on (no adapter applied)."""
        adapter = self.route(adapter)
        self._fetch([adapter])
        with self._lock:
            host, _ = self._resolve(adapter, keep=())
            return host.base_states(texts)

    # ------------------------------------------------------------------------------------------- internals

    def _specs(self, adapter: str | Sequence[str] | None, count: int) -> list[str]:
        if adapter is None:
            active = _ACTIVE.get()
            if not active:
                raise ConfigError("no adapter given: pass adapter='NAME' or call predict inside `with hub.using(NAME)`")
            return [active[-1]] * count
        if isinstance(adapter, str):
            return [adapter] * count
        specs = list(adapter)
        if len(specs) != count:
            raise ConfigError(f"got {count} inputs but {len(specs)} adapters; give one adapter, or one per input")
        return specs

    def _resolve(self, spec: str, keep: Collection[str]) -> tuple[Host, ResidentAdapter]:
        spec = _canonical(spec)
        ref = self._pinned.get(spec)
        if ref is not None:  # pinned: trust the resident copy, hot or warm, without reading the registry
            entry = self._hot.get(ref)
            if entry is not None:
                self._hot.move_to_end(ref)
                return entry.host, entry.adapter
            if ref in self._warm:
                entry = self._make_hot(self._warm[ref].record, keep)
                return entry.host, entry.adapter
        record = self.registry.get(Ref.parse(ref or spec))
        entry = self._make_hot(record, keep)
        self._pinned[spec] = record.ref
        return entry.host, entry.adapter

    def _make_hot(
        self,
        record: AdapterRecord,
        keep: Collection[str],
        loaded: LoadedAdapter | None = None,
        started: float | None = None,
    ) -> _Hot:
        """Make ``record`` hot: a lookup when it is, the CPU cache when warm, else ``loaded`` (read and verified
        already, from ``started``) or the registry."""
        started = time.perf_counter() if started is None else started
        ref, identity = record.ref, record.card.content_hash
        entry = self._hot.get(ref)
        if entry is not None:
            if entry.adapter.identity == identity:  # hot: a lookup and an LRU touch
                self._hot.move_to_end(ref)
                return entry
            del self._hot[ref]  # other bytes under the same version: never serve the stale copy
            entry.host.release(entry.adapter)
        adapter = self._warm.pop(ref, None)
        if adapter is not None and adapter.identity == identity:  # warm: back onto the device and into the router
            host = self._host_for(adapter.record)
            adapter = adapter.to(host.device)
            host.router.register(adapter)
            kind = "warm"
        else:  # cold: from the registry, verified
            loaded = loaded if loaded is not None else self.registry.load(ref)
            host = self._host_for(loaded.record)
            adapter = host.prepare(loaded)
            kind = "cold"
        entry = _Hot(host, adapter)
        self._hot[ref] = entry
        self._evict(keep={*keep, ref})
        if self.on_load is not None:
            self.on_load(adapter.record, kind, time.perf_counter() - started)
        return entry

    def _host_for(self, record: AdapterRecord) -> Host:
        quantize = self.quantization_for(record)
        key = (record.card.base.id, task_for(record.card).family, quantize)
        host = self._hosts.get(key)
        if host is None:
            host = Host(key[0], key[1], self.device, quantize, None if quantize else self.dtype)
            self._hosts[key] = host
        return host

    def quantization_for(self, record: AdapterRecord) -> str | None:
        """The quantization ``record`` runs under: the one it was trained on (an adapter trained on a 4-bit
        base learned that base's rounding, and the fingerprint binds it to it). A Hub made with ``quantize``
        serves only adapters trained that way."""
        from adapterhub.base import quantization_config

        trained = record.card.inference.quantize
        if self.quantize and trained != self.quantize:
            raise IncompatibleAdapter(
                f"{record.ref} was trained on its base {trained or 'in full precision'}, but this hub loads bases "
                f"{self.quantize}; serve it {f'with --quantize {trained}' if trained else 'without --quantize'}"
            )
        if trained and not self.quantize:
            if self.device.type != "cuda":
                raise ConfigError(
                    f"{record.ref} was trained on a {trained} base (bitsandbytes) and runs only on it, which needs "
                    f"a CUDA GPU; this hub runs on {self.device}"
                )
            quantization_config(trained)  # bitsandbytes installed?
        return trained

    def _evict(self, keep: Collection[str]) -> None:
        limit = self.max_bytes if self.max_bytes is not None else float("inf")
        held = sum(e.adapter.nbytes for e in self._hot.values())
        for ref in list(self._hot):
            if len(self._hot) <= self.max_adapters and held <= limit:
                break
            if ref in keep:
                continue
            entry = self._hot.pop(ref)
            held -= entry.adapter.nbytes
            entry.host.release(entry.adapter)
            if self.warm_adapters:
                self._warm[ref] = entry.adapter.to("cpu")
        while len(self._warm) > self.warm_adapters:
            self._warm.popitem(last=False)

    def _refs_of(self, spec: str) -> list[str]:
        known = set(self._hot) | set(self._warm)
        if spec in known:
            return [spec]
        if spec in self._pinned:
            return [self._pinned[spec]] if self._pinned[spec] in known else []
        return [ref for ref in known if ref.split("@")[0] == spec]


def _canonical(spec: str) -> str:
    """``spec`` as the registry writes it (``sentiment@0001`` is ``sentiment@1``), so that every spelling of one
    reference pins one entry; a malformed spec is kept as given (resolving it raises the naming error)."""
    try:
        return str(Ref.parse(spec))
    except InvalidName:
        return spec


DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def _dtype(name: str | None, device: torch.device, quantize: str | None) -> torch.dtype | None:
    """The compute dtype bases are cast to (None: as stored). Fingerprints are taken before the cast."""
    if name is None:
        return None
    if name not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)} (got {name!r})")
    if quantize:
        raise ConfigError("dtype and quantize exclude each other: a quantized base computes in bf16 already")
    if name == "fp16" and device.type != "cuda":
        raise ConfigError("fp16 needs a CUDA device; on a CPU use bf16 (fast where the CPU has bf16 units) or fp32")
    return DTYPES[name]


def _device(device: str | torch.device | None) -> torch.device:
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device} was asked for but this machine has no CUDA device; use device='cpu'")
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
    return device

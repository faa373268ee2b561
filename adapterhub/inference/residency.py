"""Residency: which adapter versions are in memory, where, and which leaves first when room is needed.

Every adapter version in memory is keyed by its exact reference (``sentiment@3``, the slot of an
:class:`~adapterhub.inference.target.AdapterTarget`) and is in one of two states:

* **hot**: parsed, on the compute device and registered with its base's router; at most ``max_adapters`` of
  them (and ``max_bytes`` of their tensors), least recently used first out;
* **warm**: evicted from the device budget but kept parsed in CPU memory (at most ``warm_adapters``); coming
  back is a device copy.

Anything else is cold: only in the registry, read and verified (sha256, base fingerprint) when made hot. The
pins (``sentiment`` -> ``sentiment@3``) say which version a reference resolved to when it was first used; they
live here because they go with what is in memory (unloading a version forgets its pins). Which version a
reference names is the business of :class:`~adapterhub.inference.routing.Routing`, not of this module.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass

import torch

from adapterhub.base import quantization_config
from adapterhub.errors import ConfigError, IncompatibleAdapter
from adapterhub.inference.host import Host
from adapterhub.inference.resident import ResidentAdapter
from adapterhub.inference.target import AdapterTarget
from adapterhub.registry import AdapterRecord, LoadedAdapter, Registry
from adapterhub.tasks import task_for

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class HotAdapter:
    """A version on the device: the base it runs on and its parsed tensors."""

    host: Host
    adapter: ResidentAdapter


class Residency:
    """The bases and adapter versions in memory, and the least-recently-used eviction between hot and warm.

    Mutating methods expect the caller to hold :attr:`lock`; the read-only views take no lock (they copy plain
    dictionaries, which other threads may read while a batch runs).
    """

    def __init__(
        self,
        registry: Registry,
        device: torch.device,
        quantize: str | None,
        dtype: torch.dtype | None,
        *,
        max_adapters: int,
        max_bytes: int | None,
        warm_adapters: int,
    ) -> None:
        self.registry, self.device, self.quantize, self.dtype = registry, device, quantize, dtype
        self.max_adapters, self.max_bytes, self.warm_adapters = max_adapters, max_bytes, warm_adapters
        self.hosts: dict[tuple[str, str, str | None], Host] = {}  # (base id, family, quantization) -> base
        self.hot: OrderedDict[str, HotAdapter] = OrderedDict()  # exact ref -> resident adapter, least recent first
        self.warm: OrderedDict[str, ResidentAdapter] = OrderedDict()  # exact ref -> parsed, on the CPU
        self.pinned: dict[str, str] = {}  # canonical reference ("sentiment") -> exact ref ("sentiment@3")
        self.lock = threading.RLock()
        # called after an adapter becomes hot: (its record, "cold" (read from the registry) or "warm" (from CPU
        # memory), seconds it took); a server counts loads per adapter with it
        self.on_load: Callable[[AdapterRecord, str, float], None] | None = None

    # ------------------------------------------------------------------------------------------- views

    def residents(self) -> list[tuple[AdapterRecord, str]]:
        """Every adapter version in memory with its state, ``hot`` or ``warm``; no file is read, no lock taken."""
        for _ in range(10):  # another thread may move an entry while this copies: copy again
            try:
                hot = [(entry.adapter.record, "hot") for entry in list(self.hot.values())]
                return hot + [(adapter.record, "warm") for adapter in list(self.warm.values())]
            except RuntimeError:
                continue
        return []

    @property
    def bases(self) -> list[tuple[str, str]]:
        """(base id, family) of every base in memory."""
        return list(dict.fromkeys((base, family) for base, family, _ in self.hosts))

    def pinned_record(self, pin: str) -> AdapterRecord | None:
        """The record of the version ``pin`` (a canonical reference) is pinned to, when that version is in
        memory (hot or warm); else None. Plain dictionary reads: safe while another thread predicts."""
        ref = self.pinned.get(pin)
        if ref is None:
            return None
        entry = self.hot.get(ref)
        if entry is not None:
            return entry.adapter.record
        warm = self.warm.get(ref)
        return warm.record if warm is not None else None

    def hot_entry(self, target: AdapterTarget) -> HotAdapter | None:
        """The hot copy of ``target`` when it holds the target's bytes, else None (a lookup, no lock)."""
        entry = self.hot.get(target.ref)
        if entry is None or entry.adapter.identity != target.record.card.content_hash:
            return None
        return entry

    def refs_of(self, spec: str) -> list[str]:
        """The exact references in memory that ``spec`` (canonical: exact, pinned or a bare name) covers."""
        known = set(self.hot) | set(self.warm)
        if spec in known:
            return [spec]
        if spec in self.pinned:
            return [self.pinned[spec]] if self.pinned[spec] in known else []
        return [ref for ref in known if ref.split("@")[0] == spec]

    # ------------------------------------------------------------------------------------------- changes

    def acquire(self, target: AdapterTarget, keep: Collection[str] = ()) -> HotAdapter:
        """Make ``target`` hot (leaving those in ``keep`` on the device) and pin its reference to its version,
        unless the reference is pinned already (a later ``load`` moved it: this request still runs where it
        resolved to)."""
        entry = self.make_hot(target.record, keep)
        self.pinned.setdefault(target.pin, target.ref)
        return entry

    def make_hot(
        self,
        record: AdapterRecord,
        keep: Collection[str],
        loaded: LoadedAdapter | None = None,
        started: float | None = None,
    ) -> HotAdapter:
        """Make ``record`` hot: a lookup when it is, the CPU cache when warm, else ``loaded`` (read and verified
        already, from ``started``) or the registry."""
        started = time.perf_counter() if started is None else started
        ref, identity = record.ref, record.card.content_hash
        entry = self.hot.get(ref)
        if entry is not None:
            if entry.adapter.identity == identity:  # hot: a lookup and an LRU touch
                self.hot.move_to_end(ref)
                return entry
            del self.hot[ref]  # other bytes under the same version: never serve the stale copy
            entry.host.release(entry.adapter)
        adapter = self.warm.pop(ref, None)
        if adapter is not None and adapter.identity == identity:  # warm: back onto the device and into the router
            host = self.host_for(adapter.record)
            adapter = adapter.to(host.device)
            host.router.register(adapter)
            kind = "warm"
        else:  # cold: from the registry, verified
            loaded = loaded if loaded is not None else self.registry.load(ref)
            host = self.host_for(loaded.record)
            adapter = host.prepare(loaded)
            kind = "cold"
        entry = HotAdapter(host, adapter)
        self.hot[ref] = entry
        self._evict(keep={*keep, ref})
        if self.on_load is not None:
            self.on_load(adapter.record, kind, time.perf_counter() - started)
        return entry

    def drop(self, ref: str) -> bool:
        """Forget exact ``ref``: off the device, out of the CPU cache, unpinned; whether it was in memory."""
        entry = self.hot.pop(ref, None)
        if entry is not None:
            entry.host.release(entry.adapter)
        resident = entry is not None or self.warm.pop(ref, None) is not None
        for spec in [s for s, r in self.pinned.items() if r == ref]:
            del self.pinned[spec]
        return resident

    def clear(self, *, bases: bool = False) -> None:
        """Drop every adapter; with ``bases=True`` the base models too."""
        for entry in self.hot.values():
            entry.host.release(entry.adapter)
        self.hot.clear()
        self.warm.clear()
        self.pinned.clear()
        if bases:
            self.hosts.clear()

    def host_for(self, record: AdapterRecord) -> Host:
        """The base ``record`` runs on, loaded on first use."""
        quantize = self.quantization_for(record)
        key = (record.card.base.id, task_for(record.card).family, quantize)
        host = self.hosts.get(key)
        if host is None:
            host = Host(key[0], key[1], self.device, quantize, None if quantize else self.dtype)
            self.hosts[key] = host
        return host

    def quantization_for(self, record: AdapterRecord) -> str | None:
        """The quantization ``record`` runs under: the one it was trained on (an adapter trained on a 4-bit
        base learned that base's rounding, and the fingerprint binds it to it). A hub made with ``quantize``
        serves only adapters trained that way."""
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
        held = sum(e.adapter.nbytes for e in self.hot.values())
        for ref in list(self.hot):
            if len(self.hot) <= self.max_adapters and held <= limit:
                break
            if ref in keep:
                continue
            entry = self.hot.pop(ref)
            held -= entry.adapter.nbytes
            entry.host.release(entry.adapter)
            if self.warm_adapters:
                self.warm[ref] = entry.adapter.to("cpu")
        while len(self.warm) > self.warm_adapters:
            self.warm.popitem(last=False)


def compute_dtype(name: str | None, device: torch.device, quantize: str | None) -> torch.dtype | None:
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


def pick_device(device: str | torch.device | None) -> torch.device:
    """``device`` as a torch device (a CUDA device when there is one and none was asked for)."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device} was asked for but this machine has no CUDA device; use device='cpu'")
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
    return device

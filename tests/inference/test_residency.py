"""Residency: LRU budgets, hot/warm/cold, version pinning, and unloading that really frees memory."""

from __future__ import annotations

import contextlib
import ctypes
import gc
from pathlib import Path

import pytest
import torch

from adapterhub.inference import Hub
from tests.inference.helpers import publish_adapter
from tests.tiny import save_tiny_bert


def test_lru_budget_moves_the_least_recent_adapter_to_the_cpu_cache(registry, tiny_bert) -> None:
    for i in range(3):
        publish_adapter(registry, tiny_bert, f"a{i}", seed=i)
    hub = Hub(registry, device="cpu", max_adapters=2)
    first = hub.predict("some text", adapter="a0")
    hub.predict("some text", adapter="a1")
    hub.predict("some text", adapter="a2")
    assert hub.loaded == ["a1@1", "a2@1"]
    assert hub.warm == ["a0@1"]
    again = hub.predict("some text", adapter="a0")  # warm -> hot, evicting a1
    assert again == first
    assert hub.loaded == ["a2@1", "a0@1"] and hub.warm == ["a1@1"]


def test_a_call_needing_more_adapters_than_the_budget_is_refused(registry, tiny_bert) -> None:
    from adapterhub.errors import ConfigError

    for i in range(3):
        publish_adapter(registry, tiny_bert, f"a{i}", seed=i)
    hub = Hub(registry, device="cpu", max_adapters=2)
    with pytest.raises(ConfigError, match="needs 3 adapters but max_adapters is 2"):
        hub.predict(["x", "y", "z"], adapter=["a0", "a1", "a2"])


def test_byte_budget(registry, tiny_bert) -> None:
    for i in range(3):
        publish_adapter(registry, tiny_bert, f"a{i}", seed=i)
    hub = Hub(registry, device="cpu")
    size = hub.predict("x", adapter="a0") and hub._hot["a0@1"].adapter.nbytes
    hub = Hub(registry, device="cpu", max_bytes=2 * size, warm_adapters=0)
    for i in range(3):
        hub.predict("x", adapter=f"a{i}")
    assert hub.loaded == ["a1@1", "a2@1"] and hub.warm == []


def test_a_name_is_pinned_until_loaded_again(hub: Hub, registry, tiny_bert) -> None:
    publish_adapter(registry, tiny_bert, "sentiment", seed=1)
    assert hub.predict("x", adapter="sentiment").adapter == "sentiment@1"
    publish_adapter(registry, tiny_bert, "sentiment", seed=2)
    assert hub.predict("x", adapter="sentiment").adapter == "sentiment@1"
    assert hub.load("sentiment").ref == "sentiment@2"
    assert hub.predict("x", adapter="sentiment").adapter == "sentiment@2"
    assert hub.predict("x", adapter="sentiment@1").adapter == "sentiment@1"
    registry.tag("sentiment@1", "prod")
    assert hub.predict("x", adapter="sentiment:prod").adapter == "sentiment@1"


def test_one_base_is_loaded_per_base_model(hub: Hub, registry, tiny_bert, other_tiny_bert) -> None:
    publish_adapter(registry, tiny_bert, "a", seed=1)
    publish_adapter(registry, tiny_bert, "b", task="ner", seed=2)
    publish_adapter(registry, other_tiny_bert, "c", seed=3)
    hub.predict(["x", "y", "z"], adapter=["a", "b", "c"])
    assert sorted(hub.bases) == sorted([(str(tiny_bert), "encoder"), (str(other_tiny_bert), "encoder")])


def _live_tensor_bytes() -> int:
    gc.collect()
    seen, total = set(), 0
    for obj in gc.get_objects():
        # type(), not isinstance: a lazy proxy (openai's pandas stand-in) imports its target when asked its class
        if issubclass(type(obj), torch.Tensor) and not obj.is_meta:
            storage = obj.untyped_storage()
            if storage.data_ptr() not in seen:
                seen.add(storage.data_ptr())
                total += storage.nbytes()
    return total


def _rss() -> int:
    gc.collect()
    with contextlib.suppress(OSError):  # hand freed heap pages back, as a long-running server would
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096


@pytest.fixture(scope="module")
def wide_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("wide-bert"), seed=3, hidden=256)


def test_unloading_50_adapters_frees_their_memory(registry, wide_bert) -> None:
    if not Path("/proc/self/statm").exists():
        pytest.skip("needs /proc to read the resident set size")
    for i in range(50):
        publish_adapter(registry, wide_bert, f"a{i}", seed=i, r=64)
    hub = Hub(registry, device="cpu", max_adapters=64)
    hub.predict("warm up", adapter="a0")
    hub.unload("a0")
    tensors_base, rss_base = _live_tensor_bytes(), _rss()
    for i in range(50):
        hub.load(f"a{i}")
    grown_tensors, grown_rss = _live_tensor_bytes() - tensors_base, _rss() - rss_base
    assert len(hub.loaded) == 50
    per_adapter = hub._hot["a0@1"].adapter.nbytes
    assert grown_tensors >= 50 * per_adapter > 50_000_000  # 50 adapters of > 1 MB each are resident
    hub.predict(["x"] * 50, adapter=[f"a{i}" for i in range(50)])  # used in one mixed batch
    for i in range(50):
        hub.unload(f"a{i}")
    assert hub.loaded == [] and hub.warm == []
    assert hub._hosts[(str(wide_bert), "encoder", None)].router.hooked == 0
    assert _live_tensor_bytes() - tensors_base <= 0  # every adapter tensor is gone
    assert grown_rss > 40_000_000
    assert _rss() - rss_base < 0.15 * grown_rss  # and the process memory went back, within noise


def test_every_spelling_of_a_reference_pins_one_entry(hub: Hub, registry, tiny_bert) -> None:
    from adapterhub.errors import InvalidName

    publish_adapter(registry, tiny_bert, "sentiment")
    spellings = [f"sentiment@{'0' * zeros}1" for zeros in range(9)]  # sentiment@1 … sentiment@000000001
    for round_ in range(90):
        spec = spellings[round_ % len(spellings)]
        if round_ % 2:
            assert hub.load(spec).ref == "sentiment@1"
        else:
            assert hub.predict("x", adapter=spec).adapter == "sentiment@1"
        assert hub.resident_record(spec).ref == "sentiment@1"
    for zeros in range(9, 1000, 7):  # longer spellings are not versions: refused, never pinned
        with pytest.raises(InvalidName):
            hub.load(f"sentiment@{'0' * zeros}1")
    assert hub._pinned == {"sentiment@1": "sentiment@1"}
    assert hub.unload("sentiment@0001") == ["sentiment@1"] and hub._pinned == {}


def test_load_rehashes_the_files_and_drops_a_copy_that_no_longer_matches(hub: Hub, registry, tiny_bert) -> None:
    from adapterhub.errors import RegistryCorrupt

    publish_adapter(registry, tiny_bert, "sentiment")
    hub.predict("x", adapter="sentiment")
    assert hub.load("sentiment").ref == "sentiment@1"
    weights = registry.get("sentiment").path / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(RegistryCorrupt, match=r"does not match the sha256 .*its copy in memory was unloaded"):
        hub.load("sentiment")
    assert hub.loaded == [] and hub.warm == [] and hub.resident_record("sentiment") is None
    with pytest.raises(RegistryCorrupt, match="does not match the sha256"):  # and no request runs the stale copy
        hub.predict("x", adapter="sentiment")

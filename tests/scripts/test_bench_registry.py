"""scripts/bench_registry.py publishes what the registry accepts, so the benchmark runs at all."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from adapterhub import Registry

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_registry.py"


def test_the_benchmark_source_folder_publishes(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("bench_registry", SCRIPT)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    source = bench.make_source(tmp_path / "src")
    registry = Registry(tmp_path / "registry")
    record = registry.publish("adapter-0000", source, bench.CARD)
    assert record.ref == "adapter-0000@1"
    assert [r.ref for r in registry.list()] == ["adapter-0000@1"]

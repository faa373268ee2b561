"""Run a process as on a CPU with AVX512-BF16, for bitsandbytes: put this folder on PYTHONPATH.

On such CPUs bitsandbytes' CPU backend, when imported, asks the kernels package for an optional kernel and logs
what becomes of it; elsewhere it skips that step and prints nothing. This makes it take that step on any CPU (its
``has_avx512bf16`` answers True), so that what users of those CPUs see is tested everywhere. Nothing else changes:
the kernel itself is never called by the tests that use this.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType


class _AsAvx512Bf16(importlib.abc.MetaPathFinder):
    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != "bitsandbytes.functional":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            module.has_avx512bf16 = lambda: True  # read by bitsandbytes.backends.cpu.ops, imported next

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


sys.meta_path.insert(0, _AsAvx512Bf16())

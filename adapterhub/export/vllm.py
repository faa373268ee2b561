"""``export_for_vllm``: registry adapters laid out for vLLM's multi-LoRA server, and the command that serves them.

Every registry version is already a plain PEFT directory, which is what vLLM's ``--lora-modules NAME=PATH``
loads. This writes a verified copy of each into one folder and prints the ``vllm serve`` command with one
``--lora-modules`` entry per adapter, named by its exact reference (``poet@2``), so clients use the same
``model`` names against vLLM as against ``hub serve``. vLLM serves one base and LoRA (no prefix tuning, no
task heads), so only LoRA ``generate`` adapters of one base qualify; anything else is refused by name.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from adapterhub.errors import ConfigError
from adapterhub.export.peft import export_adapter
from adapterhub.methods import METHODS
from adapterhub.registry import Registry
from adapterhub.registry.files import new_directory


@dataclass(frozen=True)
class VllmExport:
    base: str
    modules: tuple[tuple[str, Path], ...]  # (reference, directory)
    max_rank: int

    @property
    def lora_modules(self) -> list[str]:
        return [f"{ref}={path}" for ref, path in self.modules]

    @property
    def command(self) -> str:
        words = ["vllm", "serve", self.base, "--enable-lora", "--max-lora-rank", str(_vllm_rank(self.max_rank))]
        words += ["--max-loras", str(len(self.modules)), "--lora-modules", *self.lora_modules]
        return shlex.join(words)


def export_for_vllm(refs: list[str], dest: str | Path, *, registry: Registry | str | None = None) -> VllmExport:
    """Write each adapter to ``dest/NAME-vVERSION`` (verified copies) and return what ``vllm serve`` needs."""
    registry = registry if isinstance(registry, Registry) else Registry(registry)
    if not refs:
        raise ConfigError("name the adapters to export, e.g. `hub export poet sql --for vllm --out vllm-adapters`")
    records = [registry.get(ref) for ref in refs]
    for record in records:
        card = record.card
        method = METHODS.get(card.method)
        if card.task_type != "CAUSAL_LM" or method is None or not method.vllm:
            raise ConfigError(
                f"{record.ref} is a {card.task} {card.method} adapter; vLLM serves LoRA adapters of causal LMs "
                "(generate), so export it with `hub export NAME DIR` or serve it with `hub serve`"
            )
        if card.base.fingerprint != records[0].card.base.fingerprint:
            raise ConfigError(
                f"{record.ref} was trained on {card.base.id} but {records[0].ref} on {records[0].card.base.id}; "
                "one vLLM server serves one base, so export each base's adapters separately"
            )
    if len({r.ref for r in records}) != len(records):
        raise ConfigError("an adapter is named twice; name each version once")
    dest = Path(dest).resolve()
    folders = [f"{record.name}-v{record.version}" for record in records]
    with new_directory(dest) as tmp:  # all the folders appear together, or none
        for record, folder in zip(records, folders, strict=True):
            export_adapter(registry, record.ref, tmp / folder)
        max_rank = max(_rank(tmp / folder / "adapter_config.json") for folder in folders)
    modules = [(record.ref, dest / folder) for record, folder in zip(records, folders, strict=True)]
    return VllmExport(records[0].card.base.id, tuple(modules), max_rank)


def _rank(config_file: Path) -> int:
    config = json.loads(config_file.read_text())
    return max([int(config.get("r") or 8), *(int(r) for r in (config.get("rank_pattern") or {}).values())])


def _vllm_rank(rank: int) -> int:
    """vLLM accepts these --max-lora-rank values; the smallest that holds ``rank``."""
    for allowed in (8, 16, 32, 64, 128, 256, 320, 512):
        if rank <= allowed:
            return allowed
    raise ConfigError(f"rank {rank} is above what vLLM serves (512)")

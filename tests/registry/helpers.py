"""Registry test helpers that need no torch: a small valid PEFT-shaped adapter directory and its card."""

from __future__ import annotations

import json
import shutil
import struct
from dataclasses import replace
from pathlib import Path

from adapterhub.registry import AdapterRecord, BaseInfo, Card, FileInfo, Registry
from adapterhub.registry.files import sha256_file

CARD = Card(
    task="sentiment",
    method="lora",
    base=BaseInfo(id="tiny", fingerprint="sha256:" + "0" * 64),
    task_type="SEQ_CLS",
    labels=("negative", "positive"),
    metrics={"accuracy": 0.9},
    headline_metric="accuracy",
)


def write_safetensors(path: Path, tensors: dict[str, tuple[list[int], bytes]]) -> None:
    """Write float32 tensors in the safetensors layout (header length, JSON header, raw data)."""
    header, offset, data = {}, 0, b""
    for key, (shape, raw) in tensors.items():
        header[key] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)


def fake_adapter(directory: Path, size: int = 64, fill: int = 1) -> Path:
    """A PEFT-shaped LoRA directory matching :data:`CARD`: rank-1 factors on module ``x`` and a two-label head
    (``classifier.1``), ``size + 2`` float32 values in all."""
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "peft_type": "LORA",
        "task_type": "SEQ_CLS",
        "r": 1,
        "lora_alpha": 2,
        "target_modules": ["x"],
        "modules_to_save": ["classifier", "score"],
    }
    (directory / "adapter_config.json").write_text(json.dumps(config))
    width = size // 4
    values = bytes([fill % 256]) * 4
    write_safetensors(
        directory / "adapter_model.safetensors",
        {
            "base_model.model.x.lora_A.weight": ([1, width], values * width),
            "base_model.model.x.lora_B.weight": ([width, 1], values * width),
            "base_model.model.classifier.1.weight": ([2, width], values * 2 * width),
            "base_model.model.classifier.1.bias": ([2], values * 2),
        },
    )
    return directory


def plant_version(registry: Registry, name: str, source: Path, card: Card) -> AdapterRecord:
    """Write ``source`` as the next version of ``name`` the way a registry written before publishing checked
    cards may hold it: the files, a card with their hashes, no check of the card against them."""
    folder = registry.root / name
    version = max((int(p.name) for p in folder.glob("[0-9]*")), default=0) + 1
    target = folder / str(version)
    target.mkdir(parents=True)
    files = {}
    for path in sorted(source.iterdir()):
        if path.is_file() and path.name != "card.json":
            shutil.copyfile(path, target / path.name)
            files[path.name] = FileInfo(sha256=sha256_file(path), bytes=path.stat().st_size)
    card = replace(card, name=name, version=version, files=files, size_bytes=sum(f.bytes for f in files.values()))
    (target / "card.json").write_text(card.to_json())
    (folder / ".last_version").write_text(f"{version}\n")
    registry.reindex()
    return registry.get(f"{name}@{version}")

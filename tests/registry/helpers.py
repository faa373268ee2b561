"""Registry test helpers that need no torch: a small valid PEFT-shaped adapter directory and its card."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from adapterhub.registry import BaseInfo, Card

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
    """A PEFT-shaped LoRA directory whose weights file holds ``size`` float32 values."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4, "task_type": "SEQ_CLS"}))
    write_safetensors(
        directory / "adapter_model.safetensors",
        {"base_model.model.x.lora_A.weight": ([size], bytes([fill % 256]) * 4 * size)},
    )
    return directory

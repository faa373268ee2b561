"""Registry at scale: publish N versions (timed in blocks, to show publishing scales linearly), then time the
real ``hub list`` command over them, side by side with an in-process listing and a full reindex.

    python scripts/bench_registry.py                 # 10,000 versions (about a minute)
    python scripts/bench_registry.py --versions 2000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from adapterhub import BaseInfo, Card, Registry

CARD = Card(
    task="sentiment",
    method="lora",
    base=BaseInfo(id="sentence-transformers/all-MiniLM-L6-v2", fingerprint="sha256:" + "ab" * 32),
    task_type="SEQ_CLS",
    labels=("negative", "positive"),
    method_config={"r": 8, "lora_alpha": 16, "target_modules": ["dense", "key", "query", "value"]},
    metrics={"accuracy": 0.9},
    headline_metric="accuracy",
)


def make_source(directory: Path, hidden: int = 384) -> Path:
    """A LoRA folder that publishing accepts for CARD: rank-8 factors on the first layer's four target modules (as
    PEFT names them for adapterhub's sentiment model) and the classification head, all zeros."""
    directory.mkdir(parents=True)
    config = {
        "peft_type": "LORA",
        "task_type": "SEQ_CLS",
        "r": CARD.method_config["r"],
        "lora_alpha": CARD.method_config["lora_alpha"],
        "target_modules": CARD.method_config["target_modules"],
        "modules_to_save": ["classifier", "score"],
    }
    (directory / "adapter_config.json").write_text(json.dumps(config))
    r, prefix = CARD.method_config["r"], "base_model.model."
    shapes = {}
    layer = "body.encoder.layer.0"
    for module in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
        module = f"{layer}.{module}"
        shapes[f"{prefix}{module}.lora_A.weight"] = [r, hidden]
        shapes[f"{prefix}{module}.lora_B.weight"] = [hidden, r]
    shapes[f"{prefix}classifier.1.weight"] = [len(CARD.labels), hidden]
    shapes[f"{prefix}classifier.1.bias"] = [len(CARD.labels)]
    header, offset = {}, 0
    for key, shape in shapes.items():
        size = 4 * math.prod(shape)
        header[key] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header).encode()
    (directory / "adapter_model.safetensors").write_bytes(struct.pack("<Q", len(encoded)) + encoded + b"\0" * offset)
    return directory


def timed_command(args: list[str], env: dict[str, str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--names", type=int, default=200)
    parser.add_argument("--blocks", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = make_source(Path(tmp) / "src")
        reg = Registry(Path(tmp) / "registry")
        block = args.versions // args.blocks
        print(f"publishing {args.versions} versions over {args.names} names, in {args.blocks} blocks of {block}")
        per_block = []
        for b in range(args.blocks):
            start = time.perf_counter()
            for i in range(b * block, (b + 1) * block):
                reg.publish(f"adapter-{i % args.names:04d}", source, replace(CARD, tags=(f"n{i}",)))
            per_block.append((time.perf_counter() - start) / block * 1000)
            print(f"  versions {b * block + 1:>6}-{(b + 1) * block:<6} {per_block[-1]:6.2f} ms per publish")
        print(f"publish cost, last block / first block: {per_block[-1] / per_block[0]:.2f} (1.00 = linear scaling)")

        env = {**os.environ, "ADAPTERHUB_REGISTRY": str(reg.root)}
        hub = [sys.executable, "-m", "adapterhub", "list"]
        start = time.perf_counter()
        count = len(reg.list())
        in_process = time.perf_counter() - start
        table = timed_command(hub, env, 5)
        as_json = timed_command([*hub, "--json"], env, 3)
        baseline = timed_command([sys.executable, "-c", "import adapterhub.cli"], env, 5)
        start = time.perf_counter()
        reg.reindex()
        reindex = time.perf_counter() - start
        print(f"\n{count} versions in the registry")
        print(f"  hub list (table, whole process)   {table:6.3f} s   goal < 1 s: {'met' if table < 1 else 'MISSED'}")
        print(f"  hub list --json (whole process)   {as_json:6.3f} s")
        print(f"  Registry.list() in process        {in_process:6.3f} s")
        print(f"  python start + import, no listing {baseline:6.3f} s   (listing itself: {table - baseline:.3f} s)")
        print(f"  hub registry reindex              {reindex:6.3f} s")


if __name__ == "__main__":
    main()

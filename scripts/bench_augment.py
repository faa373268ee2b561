"""What ``--augment`` does on small data: SST-2 cut to a few hundred training sentences, trained with
``hub train --augment`` (which runs once without augmentation, once with it, and keeps the better), for
several seeds. Prints each run's dev accuracy without and with augmentation, and the mean difference.

    python scripts/bench_augment.py                    # 200 sentences, seeds 1-3, 8 epochs (about 15 minutes)
    python scripts/bench_augment.py --train-size 100 --seeds 1
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

SST = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-size", type=int, default=200)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--strength", type=float, default=0.1)
    args = parser.parse_args()
    if not SST.is_dir():
        sys.exit(f"SST-2 not found at {SST}")
    from adapterhub import train

    lines = (SST / "stsa.binary.train").read_text(encoding="utf-8").split("\n")
    rows = [line for line in lines if line.strip()]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            sample = random.Random(seed).sample(rows, args.train_size)
            data = Path(tmp) / f"sst2-{args.train_size}-{seed}.txt"
            data.write_text("\n".join(sample) + "\n", encoding="utf-8")
            result = train(
                registry=Path(tmp) / "registry",
                name=f"small-{seed}",
                data=str(data),
                eval_data=str(SST / "stsa.binary.dev"),
                epochs=args.epochs,
                batch_size=16,
                seed=seed,
                patience=0,
                augment=True,
                augment_copies=args.copies,
                augment_strength=args.strength,
            )
            summary = result.record.card.hyperparameters["augmentation"]
            results.append((seed, summary))
            print(
                f"seed {seed}: {args.train_size} -> {summary['train_examples']} examples; dev accuracy without "
                f"{summary['without']:.4f}, with {summary['with']:.4f} ({summary['with'] - summary['without']:+.4f}); "
                f"kept {summary['kept']}",
                flush=True,
            )
    gains = [s["with"] - s["without"] for _, s in results]
    kept = [max(s["with"], s["without"]) - s["without"] for _, s in results]
    print(f"\nSST-2, {args.train_size} training sentences, dev 872, {args.epochs} epochs, {args.copies} copies")
    print(f"mean accuracy without augmentation  {sum(s['without'] for _, s in results) / len(results):.4f}")
    print(f"mean accuracy with augmentation     {sum(s['with'] for _, s in results) / len(results):.4f}")
    print(f"mean difference (with - without)    {sum(gains) / len(gains):+.4f}")
    print(f"mean gain of what --augment kept    {sum(kept) / len(kept):+.4f}")


if __name__ == "__main__":
    main()

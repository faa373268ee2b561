"""Learning curves from a card's training history, as a PNG (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

from adapterhub.errors import ConfigError
from adapterhub.registry import AdapterRecord


def plot_history(record: AdapterRecord, out: str | Path) -> Path:
    """Draw training loss and eval loss (left) and the eval metrics (right) against the optimizer step."""
    import matplotlib  # matplotlib: loaded on first use

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # matplotlib: loaded on first use

    history = record.card.history
    if not history:
        raise ConfigError(
            f"{record.ref} has no training history to plot (it was imported, merged or trained before adapterhub "
            "kept learning curves); `hub eval` it to add evaluations"
        )
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise ConfigError(f"--plot writes a PNG; give a file name ending in .png (got {out.name})")
    steps = [h["step"] for h in history]
    metrics = [k for k in history[0] if k not in ("step", "epoch", "loss", "train_loss") and _numeric(history, k)]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for key, label in (("train_loss", "train loss"), ("loss", "eval loss")):
        if _numeric(history, key):
            left.plot(steps, [h[key] for h in history], marker="o", label=label)
    left.set(xlabel="optimizer step", ylabel="loss", title="loss")
    left.legend()
    for key in metrics:
        right.plot(steps, [h[key] for h in history], marker="o", label=key)
    best = record.card.hyperparameters.get("best_step")
    if best:
        for axis in (left, right):
            axis.axvline(best, color="grey", linestyle="--", linewidth=1, label="kept")
    right.set(xlabel="optimizer step", title=f"eval metrics ({record.card.headline_metric or 'all'})")
    right.legend()
    figure.suptitle(f"{record.ref}: {record.card.task}, {record.card.method} on {record.card.base.id}")
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return out


def _numeric(history: tuple[dict, ...], key: str) -> bool:
    return all(isinstance(h.get(key), int | float) and not isinstance(h.get(key), bool) for h in history)

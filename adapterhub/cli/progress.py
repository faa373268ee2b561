"""A rich progress bar for training: loss, the task metric and samples/s; eval lines stay in the log."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class TrainingProgress:
    def __init__(self) -> None:
        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.task_id: Any = None
        self.metric = ""

    def __enter__(self) -> TrainingProgress:
        if self.console.is_terminal:  # a live bar on a terminal; logs get the plain eval lines only
            self.progress.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.console.is_terminal:
            self.progress.__exit__(kind, exc, tb)

    def report(self, event: str, values: dict[str, Any]) -> None:
        if event == "data":
            labels = ", ".join(values["labels"]) or "-"
            self.console.print(f"data: {values['train']} train / {values['eval']} eval examples; labels: {labels}")
        elif event == "step":
            if self.task_id is None:
                self.task_id = self.progress.add_task("train", total=values["total_steps"], status="")
            status = f"loss {values['loss']:.4f} {self.metric} {values['samples_per_second']:.1f} samples/s"
            self.progress.update(self.task_id, completed=values["step"], status=status)
        elif event == "note":
            self.console.print(values["text"])
        elif event == "eval":
            shown = {k: v for k, v in values.items() if k not in ("step", "epoch")}
            self.metric = " ".join(f"{k} {v:.4f}" for k, v in shown.items() if k not in ("loss", "train_loss"))
            self.console.print(
                f"eval @ step {values['step']} (epoch {values['epoch']:.2f}): "
                + ", ".join(f"{k} {v:.4f}" for k, v in shown.items())
            )

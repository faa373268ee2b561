"""What long commands show on stderr: a rich progress bar for training (loss, the task metric and samples/s;
eval lines stay in the log) and for other long work (eval, compare, predict --file, export --merged).

Bars are drawn only when stderr is a terminal. Piped, training writes its log lines, one event per line however
long, and other work writes nothing at all.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from adapterhub.cli.formatting import visible
from adapterhub.reporting import ProgressCounter


class _VisibleConsole(Console):
    """A console that shows the control characters of the text it prints as escapes, as :func:`visible` does
    (rich removes BEL, CR and a few others but sends ESC on; its own styles are not text and stay)."""

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(visible(text), **options)


def log_console(**options: Any) -> Console:
    """A console on stderr for log lines: printed as given (no markup, no emoji codes, control characters
    escaped) and, when stderr is not a terminal, never wrapped, so that a log keeps one event per line (rich would
    wrap at 80 columns)."""
    console = _VisibleConsole(stderr=True, markup=False, emoji=False, **options)
    console.soft_wrap = not console.is_terminal
    return console


class TrainingProgress:
    def __init__(self) -> None:
        self.console = log_console()
        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}", markup=False),
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


class WorkProgress:
    """A bar per piece of work the library reports on: ``report("progress", {"what", "done", "total"[, "step"]})``.

    On a terminal the bars show while the work runs and vanish when it ends, leaving the output as it would be
    piped; when stderr is not a terminal nothing is drawn or printed.

    Example:
        >>> with WorkProgress() as progress:  # doctest: +SKIP
        ...     evaluate("sentiment", "dev.csv", report=progress.report)
    """

    def __init__(self) -> None:
        self.console = log_console()
        self.live = self.console.is_terminal
        self.progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> WorkProgress:
        if self.live:
            self.progress.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.live:
            self.progress.__exit__(kind, exc, tb)

    def report(self, event: str, values: dict[str, Any]) -> None:
        if event != "progress" or not self.live:
            return
        what = str(values["what"])
        description = visible(f"{what}: {values['step']}" if values.get("step") else what, one_line=True)
        if what not in self.tasks:
            self.tasks[what] = self.progress.add_task(description, total=values["total"])
        self.progress.update(self.tasks[what], description=description, completed=values["done"], total=values["total"])

    def counter(self, what: str, total: int) -> Callable[[int], None]:
        """A ``progress(n)`` callback (as :meth:`Hub.predict` takes) that advances a bar of ``total`` items."""
        return ProgressCounter(self.report, what, total).add


class TransferProgress:
    """A bar of files pushed or pulled, per version, on a terminal; nothing when stderr is piped."""

    def __init__(self, verb: str) -> None:
        self.console = log_console()
        self.progress = Progress(
            TextColumn(f"[bold]{verb}"),
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> TransferProgress:
        if self.console.is_terminal:
            self.progress.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.console.is_terminal:
            self.progress.__exit__(kind, exc, tb)

    def report(self, ref: str, done: int, total: int) -> None:
        if ref not in self.tasks:
            self.tasks[ref] = self.progress.add_task(visible(ref, one_line=True), total=total)
        self.progress.update(self.tasks[ref], completed=done)

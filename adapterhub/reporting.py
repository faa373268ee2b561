"""Progress as the library reports it to whoever shows it: ``report("progress", {"what", "done", "total"})``.

The library never draws anything; the command line renders these events as bars (``cli/progress.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Report = Callable[[str, dict[str, Any]], None]


class ProgressCounter:
    """Sends ``report("progress", ...)`` for one piece of work: ``what``, items done, items in all.

    ``add`` is the ``progress(n)`` callback :meth:`adapterhub.Hub.predict` takes."""

    def __init__(self, report: Report | None, what: str, total: int | None = None) -> None:
        self.report, self.what, self.done, self.total = report, what, 0, 0
        if total is not None:
            self.start(total)

    def start(self, total: int) -> None:
        self.total = total
        self._send()

    def add(self, count: int) -> None:
        self.done += count
        self._send()

    def _send(self) -> None:
        if self.report is not None:
            self.report("progress", {"what": self.what, "done": self.done, "total": self.total})

"""Task presets: each sets the model head, the collator, the metric and the data columns.

Adding a task is one file: define a :class:`~adapterhub.tasks.task.Task` and list it in ``TASKS``. Importing
this package imports neither torch nor transformers (each task imports them when it builds, encodes or scores),
so a mistyped ``--task`` is refused at once.
"""

from __future__ import annotations

from adapterhub.errors import ConfigError
from adapterhub.suggest import did_you_mean
from adapterhub.tasks.classify import CLASSIFY
from adapterhub.tasks.generate import GENERATE
from adapterhub.tasks.ner import NER
from adapterhub.tasks.sentiment import SENTIMENT
from adapterhub.tasks.task import Task

TASKS: dict[str, Task] = {task.name: task for task in (SENTIMENT, CLASSIFY, NER, GENERATE)}


def get_task(name: str) -> Task:
    if name not in TASKS:
        close = did_you_mean(name, TASKS)
        raise ConfigError(f"unknown task {name!r}{close}; choose one of: {', '.join(TASKS)} (--task)")
    return TASKS[name]


__all__ = ["TASKS", "Task", "get_task"]

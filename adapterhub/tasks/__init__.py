"""Task presets: each sets the model head, the collator, the metric and the data columns, and how inference,
evaluation and export treat its adapters.

Adding a task is one file: define a :class:`~adapterhub.tasks.task.Task` and list it in ``TASKS``. Importing
this package imports neither torch nor transformers (each task imports them when it builds, encodes or scores),
so a mistyped ``--task`` is refused at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapterhub.errors import ConfigError, IncompatibleAdapter
from adapterhub.suggest import did_you_mean
from adapterhub.tasks.classify import CLASSIFY
from adapterhub.tasks.generate import GENERATE
from adapterhub.tasks.ner import NER
from adapterhub.tasks.sentiment import SENTIMENT
from adapterhub.tasks.task import Task

if TYPE_CHECKING:
    from adapterhub.cards import Card

TASKS: dict[str, Task] = {task.name: task for task in (SENTIMENT, CLASSIFY, NER, GENERATE)}

# What other layers read by PEFT task type, taken from the tasks themselves so that a task is one file:
TASK_TYPES: dict[str, str] = {name: task.task_type for name, task in TASKS.items()}  # task name -> PEFT task type
# the task types whose adapters carry a classification head -> the head's shape ("sequence" or "token")
HEAD_KINDS: dict[str, str] = {t.task_type: t.head_kind for t in TASKS.values() if t.head_kind is not None}
PIPELINE_TAGS: dict[str, str] = {t.task_type: t.pipeline_tag for t in TASKS.values()}  # the Hub's pipeline tag


def get_task(name: str) -> Task:
    if name not in TASKS:
        close = did_you_mean(name, TASKS)
        raise ConfigError(f"unknown task {name!r}{close}; choose one of: {', '.join(TASKS)} (--task)")
    return TASKS[name]


def generic_task(task_type: str) -> Task | None:
    """The task an adapter of PEFT's ``task_type`` runs as when nothing names one (e.g. a plain PEFT import)."""
    return next((t for t in TASKS.values() if t.generic and t.task_type == task_type), None)


def task_of_type(task_type: str) -> Task | None:
    """The first task whose adapters have PEFT's ``task_type`` (what it means for inference and export: a
    sequence or token head, or generation), or None when no task has it."""
    return next((t for t in TASKS.values() if t.task_type == task_type), None)


def find_task(card: Card) -> Task | None:
    """The task that runs the adapter of ``card``: its named task, else the generic task of its task type (an
    adapter imported under a task name of its own), else None."""
    return TASKS.get(card.task) or generic_task(card.task_type)


def task_for(card: Card) -> Task:
    """:func:`find_task`, refusing with :class:`IncompatibleAdapter` a card that no task runs."""
    task = find_task(card)
    if task is None:
        types = ", ".join(sorted({t.task_type for t in TASKS.values()}))
        raise IncompatibleAdapter(
            f"{card.name}@{card.version} is a {card.task!r} adapter of task type {card.task_type or 'none'}, which no "
            f"task runs; adapterhub runs the tasks {', '.join(TASKS)} (task types {types})"
        )
    return task


__all__ = [
    "HEAD_KINDS",
    "PIPELINE_TAGS",
    "TASKS",
    "TASK_TYPES",
    "Task",
    "find_task",
    "generic_task",
    "get_task",
    "task_for",
    "task_of_type",
]

"""The tables other layers read by PEFT task type come from the tasks themselves."""

from __future__ import annotations

from adapterhub.tasks import HEAD_KINDS, PIPELINE_TAGS, TASK_TYPES, TASKS, task_of_type
from adapterhub.tasks.generate import GENERATE
from adapterhub.tasks.ner import NER
from adapterhub.tasks.sentiment import SENTIMENT


def test_the_tables_by_task_type_are_read_from_the_tasks() -> None:
    assert TASK_TYPES == {"sentiment": "SEQ_CLS", "classify": "SEQ_CLS", "ner": "TOKEN_CLS", "generate": "CAUSAL_LM"}
    assert HEAD_KINDS == {"SEQ_CLS": "sequence", "TOKEN_CLS": "token"}
    assert PIPELINE_TAGS == {
        "SEQ_CLS": "text-classification",
        "TOKEN_CLS": "token-classification",
        "CAUSAL_LM": "text-generation",
    }
    for task in TASKS.values():
        assert task.has_head == (task.head_kind is not None), task.name
        assert HEAD_KINDS.get(task.task_type) == task.head_kind and PIPELINE_TAGS[task.task_type] == task.pipeline_tag


def test_a_task_type_finds_the_first_task_of_that_type() -> None:
    assert task_of_type("SEQ_CLS") is SENTIMENT
    assert task_of_type("TOKEN_CLS") is NER
    assert task_of_type("CAUSAL_LM") is GENERATE
    assert task_of_type("SEQ_2_SEQ_LM") is None and task_of_type("") is None

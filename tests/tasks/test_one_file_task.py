"""A new task is one file: a toy task defined here and listed in ``TASKS`` is trained, served, evaluated and
exported merged with no other change to adapterhub."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from adapterhub import Registry, train
from adapterhub.base import load_tokenizer
from adapterhub.data import Example
from adapterhub.evaluation import evaluate
from adapterhub.export.attach import attach
from adapterhub.inference import Hub
from adapterhub.registry import AdapterRecord
from adapterhub.tasks import TASKS
from adapterhub.tasks.classification import SequenceClassification
from adapterhub.tasks.task import Encoded, InferenceInput
from tests.training.conftest import write_classification

TEXTS = ["good film here today", "a dull book and a poor song"]


def backwards(text: str) -> str:
    return " ".join(reversed(text.split()))


@dataclass(frozen=True)
class Backwards(SequenceClassification):
    """Sequence classification of the text read backwards, word by word, in training and in inference alike."""

    name: str = "backwards"

    def encode(self, example: Example, tokenizer: Any, labels: Sequence[str], max_length: int) -> Encoded | None:
        turned = dataclasses.replace(example, text=backwards(example.text))  # type: ignore[type-var]
        return super().encode(turned, tokenizer, labels, max_length)

    def encode_input(
        self, text: str | tuple[str, ...], tokenizer: Any, record: AdapterRecord, limit: int, where: str
    ) -> InferenceInput:
        assert isinstance(text, str)
        return super().encode_input(backwards(text), tokenizer, record, limit, where)


@pytest.fixture
def backwards_task(monkeypatch: pytest.MonkeyPatch) -> Backwards:
    task = Backwards()
    monkeypatch.setitem(TASKS, task.name, task)  # "list it in TASKS"
    return task


def test_a_task_in_one_file_is_trained_served_and_evaluated(
    backwards_task: Backwards, tiny_bert: Path, tmp_path: Path
) -> None:
    data = write_classification(tmp_path / "data.csv", n=64)
    record = train(task="backwards", base=str(tiny_bert), data=str(data), epochs=3, lr=5e-2, max_length=32).record
    assert (record.card.task, record.card.task_type, record.card.inference.pooling) == ("backwards", "SEQ_CLS", "cls")

    served = Hub(device="cpu").predict(TEXTS, "backwards")
    # the same adapter through PEFT on the task's own model: the Hub fed it the texts as the task encodes them
    model = attach(backwards_task.build_model(str(tiny_bert), record.card.labels, 0.0), Registry().load("backwards"))
    tokenizer = load_tokenizer(str(tiny_bert))

    def probabilities(text: str) -> torch.Tensor:
        ids = torch.tensor([tokenizer(text)["input_ids"]])
        with torch.no_grad():
            return torch.softmax(model.eval()(input_ids=ids, attention_mask=torch.ones_like(ids)).logits, -1)[0]

    for text, result in zip(TEXTS, served, strict=True):
        assert result.adapter == "backwards@1"
        got = torch.tensor(list(result.scores.values()))
        torch.testing.assert_close(got, probabilities(backwards(text)), rtol=1e-4, atol=1e-5)
        assert (got - probabilities(text)).abs().max() > 1e-3  # read forwards, it would differ

    evaluation = evaluate("backwards", data)
    assert evaluation.task == "backwards" and 0.0 <= evaluation.metrics["accuracy"] <= 1.0
    assert Registry().get("backwards").card.evaluations[-1]["metrics"] == evaluation.metrics


def test_an_adapter_whose_task_no_longer_exists_is_refused_by_name(
    backwards_task: Backwards, tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapterhub import IncompatibleAdapter

    data = write_classification(tmp_path / "data.csv", n=16)
    train(task="backwards", base=str(tiny_bert), data=str(data), epochs=1, max_length=32)
    monkeypatch.delitem(TASKS, "backwards")  # and no task of its task type to fall back to:
    for name in [n for n, t in TASKS.items() if t.task_type == "SEQ_CLS"]:
        monkeypatch.setitem(TASKS, name, dataclasses.replace(TASKS[name], generic=False))
    with pytest.raises(IncompatibleAdapter, match=r"backwards@1 is a 'backwards' adapter of task type SEQ_CLS"):
        Hub(device="cpu").predict("a fine film", "backwards")

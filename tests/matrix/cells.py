"""The architecture matrix: every family of tests/families.py x every method x every task that fits its kind.

A cell is (family, method, task). :class:`FamilyRun` trains a family's cells through ``adapterhub.train`` on
tiny in-test data (one epoch, one optimizer step), publishes them to one registry per family and serves them
from one :class:`adapterhub.Hub`, each lazily and once, so that the checks of a cell share its adapter.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapterhub.methods import METHODS
from adapterhub.methods.prefix import prefix_refusal
from tests.families import FAMILIES

TASKS = {"encoder": ("sentiment", "ner"), "decoder": ("generate", "classify")}
CHECKS = ("trained", "served", "mixed", "equals PEFT", "PEFT export", "exported")

Cell = tuple[str, str, str]  # (family, method, task)

# `hub train` refusals, one line each: (cell) -> the line. PEFT's prefix tuning needs a key/value cache in the
# base's attention; these families have none (adapterhub.methods.prefix.NO_PREFIX), so training stops at once.
TRAIN_REFUSALS: dict[Cell, str] = {
    (family, "prefix", task): prefix_refusal(family)  # type: ignore[misc]
    for family, spec in FAMILIES.items()
    if prefix_refusal(family)
    for task in ("sentiment", "ner")
}

# `hub export --merged` refusals, one line each: (cell) -> the whole line, as the README's table shows it.
EXPORT_REFUSALS: dict[Cell, str] = {
    ("modernbert", "lora", "ner"): (
        "transformers' ModernBertForTokenClassification puts layers of its own (head) between the encoder and the "
        "classifier, so it cannot hold this tagger; export the adapter with `hub export NAME DIR`"
    ),
}


def fits(method: str, task: str) -> bool:
    """Head-only adapters train a task head; generation has none."""
    return not (method == "head" and task == "generate")


CELLS: list[Cell] = [
    (family, method, task)
    for family, spec in FAMILIES.items()
    for task in TASKS[spec.kind]
    for method in METHODS
    if fits(method, task)
]


def trains(cell: Cell) -> bool:
    """Whether ``hub train`` makes the cell's adapter (the later checks apply) rather than refusing it."""
    return cell not in TRAIN_REFUSALS


def exported_applies(cell: Cell) -> bool:
    """``hub export --merged`` folds a weight update into the base: LoRA (and ``--for vllm``: LoRA generators)."""
    return cell[1] == "lora" and trains(cell)


TEXTS = ["great film", "a dull and weak song, sadly"]  # two lengths: right padding is exercised
WORDS = [["anna", "went", "to", "paris"], ["smith", "city", "good"]]
PROMPTS = ["write a short poem", "the sea"]
MAX_NEW_TOKENS = 5


def inputs_of(task: str) -> list[Any]:
    return {"ner": WORDS, "generate": PROMPTS}.get(task, TEXTS)


def write_data(directory: Path) -> dict[str, Path]:
    """A tiny data file per task: a few examples, enough for one optimizer step of eight."""
    rng = random.Random(0)
    directory.mkdir(parents=True, exist_ok=True)
    good, bad, filler = ["great", "good", "fine"], ["awful", "dull", "weak"], ["film", "book", "song"]
    rows = ["text,label"]
    for i in range(10):
        label = ("negative", "positive")[i % 2]
        rows.append(f"{rng.choice(filler)} {rng.choice(bad if i % 2 == 0 else good)},{label}")
    (directory / "sentiment.csv").write_text("\n".join(rows) + "\n")
    topics = ["text,label"] + [f"{rng.choice(filler)} {w},{w}" for w in ("good", "bad", "film") * 3]
    (directory / "classify.csv").write_text("\n".join(topics) + "\n")
    sentences = []
    for _ in range(10):
        sentences.append(f"{rng.choice(filler)}\tO\nparis\tB-location\nanna\tB-person\nsmith\tI-person\n")
    (directory / "ner.conll").write_text("\n".join(sentences))
    pair = {"instruction": "write a short poem about the sea", "input": "", "output": "the sea is blue"}
    (directory / "generate.jsonl").write_text("".join(json.dumps(pair) + "\n" for _ in range(10)))
    return {task: next(directory.glob(f"{task}.*")) for task in ("sentiment", "classify", "ner", "generate")}


@dataclass
class FamilyRun:
    """One family's base, registry and Hub; each cell trained, and its Hub outputs computed, at most once."""

    family: str
    base: Path
    root: Path
    data: dict[str, Path]
    records: dict[tuple[str, str], Any] = field(default_factory=dict)  # (method, task) -> record or the error
    alone: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    _hub: Any = None

    @property
    def registry(self) -> Any:
        from adapterhub.registry import Registry

        return Registry(self.root / "registry")

    @property
    def hub(self) -> Any:
        from adapterhub.inference import Hub

        if self._hub is None:
            self._hub = Hub(self.registry, device="cpu")
        return self._hub

    def record(self, method: str, task: str) -> Any:
        """The published record of the cell, trained on first use; a training error is raised again each time."""
        key = (method, task)
        if key not in self.records:
            import adapterhub
            from adapterhub.methods import LoraSettings, PrefixSettings
            from adapterhub.training.config import TrainConfig

            config = TrainConfig(
                task=task, name=f"{task}-{method}", base=str(self.base), method=method, data=str(self.data[task]),
                eval_fraction=0.2, epochs=1, batch_size=8, max_length=24, lr=5e-2, seed=0,
                lora=LoraSettings(r=4, alpha=8, dropout=0.0), prefix=PrefixSettings(num_virtual_tokens=4),
            )  # fmt: skip
            try:
                self.records[key] = adapterhub.train(config, registry=self.registry).record
            except Exception as exc:  # kept, so that every check of the cell reports the same cause
                self.records[key] = exc
        found = self.records[key]
        if isinstance(found, Exception):
            raise found
        return found

    def predict(self, inputs: list[Any], adapters: list[str], task: str) -> list[Any]:
        options: dict[str, Any] = {"max_new_tokens": MAX_NEW_TOKENS} if task == "generate" else {}
        return self.hub.predict(inputs, adapters, split_into_words=task == "ner", **options)

    def served(self, method: str, task: str) -> list[Any]:
        """The Hub's results for the task's inputs through the cell's adapter alone."""
        key = (method, task)
        if key not in self.alone:
            ref = self.record(method, task).ref
            inputs = inputs_of(task)
            self.alone[key] = self.predict(inputs, [ref] * len(inputs), task)
        return self.alone[key]

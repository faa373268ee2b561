"""The seeded eval split (stratified by label for text) and the fingerprint of a run's examples."""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Sequence
from dataclasses import asdict

from adapterhub.data.examples import NOUN, Example, TokenExample
from adapterhub.data.labels import labels_of, sort_labels
from adapterhub.errors import ConfigError


def seeded_split(
    kind: str, examples: list[Example], fraction: float, seed: int, source: str
) -> tuple[list[Example], list[Example]]:
    """A seeded random ``fraction`` (at least one) held out, stratified by label for kind ``text``."""
    n = len(examples)
    n_eval = max(1, math.floor(n * fraction + 0.5))
    rng = random.Random(seed)
    fix = "add examples or give eval data with --eval-data"
    if kind == "text":
        groups: dict[str, list[int]] = {}
        for i, label in enumerate(labels_of(examples)):
            groups.setdefault(label, []).append(i)
        order = sort_labels(groups)
        spare = {label: len(groups[label]) - 1 for label in order}  # one of each label stays in train
        if sum(spare.values()) < 1:
            raise ConfigError(f"{source}: every label has one example, so none can be held out for eval; {fix}")
        n_eval = min(n_eval, sum(spare.values()))
        take = {label: min(len(groups[label]) * n_eval // n, spare[label]) for label in order}
        ranked = sorted(order, key=lambda label: -(len(groups[label]) * n_eval % n))  # largest remainder first
        left = n_eval - sum(take.values())
        while left > 0:
            for label in ranked:
                if left > 0 and take[label] < spare[label]:
                    take[label] += 1
                    left -= 1
        chosen = {i for label in order for i in rng.sample(groups[label], take[label])}
    else:
        if n < 2:
            raise ConfigError(f"{source} holds only one {NOUN[kind][:-1]}, too few to hold one out for eval; {fix}")
        chosen = set(rng.sample(range(n), min(n_eval, n - 1)))
        if kind == "tokens":
            chosen = _keep_every_tag_in_train(examples, chosen, source, fix)
    train = [ex for i, ex in enumerate(examples) if i not in chosen]
    evals = [ex for i, ex in enumerate(examples) if i in chosen]
    return train, evals


def _keep_every_tag_in_train(examples: list[Example], chosen: set[int], source: str, fix: str) -> set[int]:
    """``chosen`` less the sentences holding a tag no training sentence has: a tag seen only in the eval split
    could never be predicted, and the split is ours to choose, so such a sentence trains instead."""
    tags = [set(ex.tags) if isinstance(ex, TokenExample) else set() for ex in examples]
    in_train = {tag for i, held in enumerate(tags) if i not in chosen for tag in held}
    for i in sorted(chosen):
        if not tags[i] <= in_train:
            chosen.discard(i)
            in_train |= tags[i]
    if not chosen:
        raise ConfigError(
            f"{source}: every sentence the split would hold out has a tag no other sentence has, so none can be held "
            f"out for eval; {fix}"
        )
    return chosen


def fingerprint(train: Sequence[Example], evals: Sequence[Example]) -> str:
    payload = {"train": [asdict(ex) for ex in train], "eval": [asdict(ex) for ex in evals]}
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

"""``hf:NAME[:CONFIG]`` sources: a Hugging Face data set's train split, and its validation (else test) split.

``datasets`` is imported only when such a source is read.
"""

from __future__ import annotations

from typing import Any

from adapterhub.data.columns import LABEL_COLUMNS, TAG_COLUMNS, find
from adapterhub.data.examples import NOUN, Example
from adapterhub.data.messages import Problems
from adapterhub.data.records import record_examples
from adapterhub.errors import ConfigError


def read_hf(
    kind: str, spec: str, flag: str, text_column: str | None, label_column: str | None, *, with_eval: bool
) -> tuple[list[Example], tuple[list[Example], str] | None, str]:
    """``hf:NAME[:CONFIG]``: the train split, and validation (else test) as eval when ``with_eval``."""
    name, _, config = spec[3:].partition(":")
    if not name.strip():
        raise ConfigError(f"{flag} {spec!r} names no data set; write hf:NAME or hf:NAME:CONFIG, e.g. hf:glue:sst2")
    try:
        import datasets  # datasets: loaded on first use
    except ImportError as exc:
        raise ConfigError(
            f"{flag} {spec} needs the Hugging Face datasets library, which is not installed: pip install datasets "
            "(or give a local file or folder)"
        ) from exc
    try:
        loaded = datasets.load_dataset(name, config or None)
    except Exception as exc:  # any failure: unknown name, no network, bad config
        detail = " ".join(str(exc).split())[:200]
        raise ConfigError(
            f"cannot load Hugging Face data set {spec} ({type(exc).__name__}: {detail}); check the name and config "
            f"and that this machine is online or has it cached, or give a local file with {flag}"
        ) from exc
    splits = list(loaded.keys())
    if "train" not in splits:
        raise ConfigError(f"{spec} has no train split (it has {', '.join(splits)}); give a local file with {flag}")
    noun = NOUN[kind]
    train = _hf_examples(kind, spec, "train", loaded["train"], text_column, label_column, evaluation=False)
    evals = None
    if with_eval:
        split = next((s for s in ("validation", "test") if s in splits), None)
        if split is not None:
            found = _hf_examples(kind, spec, split, loaded[split], text_column, label_column, evaluation=True)
            if found:  # a test split without labels (all -1) leaves nothing: fall back to a seeded split
                evals = (found, f"eval: {spec} {split} split ({len(found)} {noun})")
    return train, evals, f"{spec} train split ({len(train)} {noun})"


def _hf_examples(
    kind: str,
    spec: str,
    split: str,
    dataset: Any,
    text_column: str | None,
    label_column: str | None,
    *,
    evaluation: bool,
) -> list[Example]:
    columns = list(dataset.column_names)
    features = getattr(dataset, "features", None) or {}
    rows = list(enumerate(dataset, 1))
    if kind == "text" and evaluation:  # datasets marks unlabelled rows (GLUE test splits) with label -1
        label_col = label_column or find(columns, LABEL_COLUMNS)
        if label_col is not None and hasattr(features.get(label_col), "names"):
            rows = [(i, row) for i, row in rows if row.get(label_col) != -1]
    tag_names = None
    if kind == "tokens":
        tag_col = label_column or find(columns, TAG_COLUMNS)
        inner = getattr(features.get(tag_col), "feature", None) if tag_col else None
        tag_names = getattr(inner, "names", None)
    problems = Problems()
    records = [(f"{spec} {split} row {i}", row) for i, row in rows]
    examples = record_examples(
        kind, f"{spec} {split}", records, columns, text_column, label_column, problems, tag_names=tag_names
    )
    problems.check()
    if not examples and not evaluation:
        raise ConfigError(f"{spec} {split} split holds no examples; give other data with --data")
    return examples

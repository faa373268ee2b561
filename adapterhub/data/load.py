"""Reading a task's data: :func:`load_data` (train, eval, labels, fingerprint) and :func:`read_examples`."""

from __future__ import annotations

from pathlib import Path

from adapterhub.data.examples import NOUN, DataSplit, Example, Kind, check_kind
from adapterhub.data.formats import read_file
from adapterhub.data.hub import read_hf
from adapterhub.data.labels import check_eval_labels, labels_of, sort_labels
from adapterhub.data.messages import Problems
from adapterhub.data.split import fingerprint, seeded_split
from adapterhub.data.text_files import data_files
from adapterhub.errors import ConfigError


def load_data(
    kind: Kind,
    data: str | Path | None,
    *,
    eval_data: str | Path | None = None,
    eval_fraction: float = 0.1,
    seed: int = 13,
    text_column: str | None = None,
    label_column: str | None = None,
    default: str | Path | None = None,
) -> DataSplit:
    """Read and check the training data of a task, and choose its eval examples.

    Args:
        kind: Which examples to read: ``"text"``, ``"tokens"`` or ``"generation"``.
        data: A file, a folder (its data files sorted by name, concatenated) or ``hf:NAME[:CONFIG]``.
        eval_data: Eval examples, read like ``data``; default: the ``validation`` (else ``test``) split of an
            ``hf:`` data set, else a seeded random ``eval_fraction`` of ``data``, stratified by label for text.
        eval_fraction: Share of ``data`` held out for eval when there is no eval data, in (0, 0.5].
        seed: Seed of that split.
        text_column: Column of the text (``text``) or of the prompt (``generation``) in CSV, TSV and JSON.
        label_column: Column of the label (``text``) or of the response (``generation``).
        default: Data used when ``data`` is None (a task's embedded data set).

    Returns:
        The examples, labels, description and fingerprint.

    Raises:
        ConfigError: A missing file, undecodable bytes, a missing column, an empty or malformed example, only
            one class, eval labels that training never has, a tag that is not BIO, and the like.

    Example:
        >>> split = load_data("text", "../shared/data/sst/stsa.binary.train")  # doctest: +SKIP
        >>> split.labels, len(split.train), len(split.eval)  # doctest: +SKIP
        (('0', '1'), 6228, 692)
    """
    check_kind(kind)
    if isinstance(eval_fraction, bool) or not isinstance(eval_fraction, int | float) or not 0 < eval_fraction <= 0.5:
        raise ConfigError(f"--eval-fraction must be in (0, 0.5], got {eval_fraction!r}; e.g. --eval-fraction 0.1")
    if data is None:
        if default is None:
            raise ConfigError(
                "--data is required for this task: give a file, a folder or hf:NAME[:CONFIG], e.g. --data train.csv"
            )
        data, shown = default, f"built-in {Path(default).name}"
    else:
        shown = str(data)
    train, hf_eval, train_desc = _read(
        kind, data, "--data", text_column, label_column, with_eval=eval_data is None, shown=shown
    )
    source = str(data)
    if kind == "text":
        classes = sort_labels(labels_of(train))
        if len(classes) < 2:
            raise ConfigError(
                f"{source}: every training example has the label {classes[0]!r}; a classifier needs at least two "
                "classes: add examples of the others, or pick the label with --label-column"
            )
    if eval_data is not None:
        evals, _, eval_desc = _read(kind, eval_data, "--eval-data", text_column, label_column, with_eval=False)
        note = f"eval: {eval_desc}"
    elif hf_eval is not None:
        evals, note = hf_eval
    else:
        train, evals = seeded_split(kind, train, eval_fraction, seed, source)
        note = f"eval: {eval_fraction * 100:g}% seeded split (seed {seed})"
    labels: tuple[str, ...] = ()
    eval_source = eval_data or "the eval split"
    if kind == "text":
        labels = sort_labels(labels_of(train))
        check_eval_labels(labels, labels_of(evals), "labels", eval_source)
    elif kind == "tokens":
        labels = ("O", *sorted(set(labels_of(train)) - {"O"}))
        check_eval_labels(labels, labels_of(evals), "tags", eval_source)
    train_t, eval_t = tuple(train), tuple(evals)
    return DataSplit(train_t, eval_t, labels, f"{train_desc}; {note}", fingerprint(train_t, eval_t))


def read_examples(
    kind: Kind, data: str | Path, *, text_column: str | None = None, label_column: str | None = None
) -> tuple[Example, ...]:
    """Every example of a file, a folder or ``hf:NAME[:CONFIG]`` (its train split), checked as :func:`load_data` does.

    Args:
        kind: ``"text"``, ``"tokens"`` or ``"generation"``.
        data: What to read.
        text_column: As in :func:`load_data`.
        label_column: As in :func:`load_data`.

    Raises:
        ConfigError: As :func:`load_data` (but one class is fine here).
    """
    check_kind(kind)
    examples, _, _ = _read(kind, data, "--data", text_column, label_column, with_eval=False)
    return tuple(examples)


def _read(
    kind: str,
    data: str | Path,
    flag: str,
    text_column: str | None,
    label_column: str | None,
    *,
    with_eval: bool,
    shown: str | None = None,
) -> tuple[list[Example], tuple[list[Example], str] | None, str]:
    """Examples of ``data``, the eval examples an ``hf:`` source brings (with its note) and a description."""
    noun = NOUN[kind]
    if isinstance(data, str) and data.startswith("hf:"):
        return read_hf(kind, data, flag, text_column, label_column, with_eval=with_eval)
    files = data_files(data, flag)
    problems = Problems()
    examples: list[Example] = []
    for path in files:
        examples += read_file(kind, path, text_column, label_column, problems)
    problems.check()
    if not examples:
        raise ConfigError(f"{data} holds no {noun}; give data with {flag}")
    shown = shown or str(data)
    if len(files) > 1 or Path(data).is_dir():
        return examples, None, f"{shown} ({len(files)} files, {len(examples)} {noun})"
    return examples, None, f"{shown} ({len(examples)} {noun})"

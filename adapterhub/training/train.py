"""``adapterhub.train``: checks -> data -> base (fingerprinted) -> adapter -> loop -> base unchanged -> registry.

Everything that can be refused without a model (task, method, name, settings, the base's location, the data and
its labels) is checked before torch, transformers and PEFT are imported, so a refusal takes well under a
second. The base is frozen before the adapter is attached; after training its fingerprint is taken again and the
run fails, publishing nothing, if a single base weight changed. An adapter that scores no better than chance is
published with a warning and the tag ``below-chance``; with ``min_metric`` it is not published at all.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from adapterhub.augmentation import Augmenter
from adapterhub.base import DEFAULT_BASE, context_length, fingerprint, load_tokenizer, locate_base, quantization_config
from adapterhub.data import DataSplit, Example, load_data
from adapterhub.data.labels import order_labels
from adapterhub.errors import AdapterHubError, ConfigError, MetricBelowMinimum
from adapterhub.export.importing import canonical_base_id
from adapterhub.methods import METHODS
from adapterhub.names import validate_name
from adapterhub.registry import AdapterRecord, BaseInfo, Card, DataInfo, InferenceSettings, Registry
from adapterhub.tasks import Task, get_task
from adapterhub.tasks.generate import TEMPLATE
from adapterhub.tasks.task import Chance, Encoded
from adapterhub.training.config import TrainConfig
from adapterhub.training.positions import check_positions
from adapterhub.training.sharding import check_fsdp_settings, fsdp_requested, gather_adapter, is_sharded

if TYPE_CHECKING:  # the loop imports torch: it is imported once every check has passed
    from adapterhub.training.loop import FitResult

BELOW_CHANCE = "below-chance"  # the card's tag for an adapter that scored no better than chance


class TrainingInterrupted(AdapterHubError):
    """Ctrl-C during training; nothing (or the best checkpoint, when asked) was published."""

    exit_code = 130


class BaseChanged(AdapterHubError):
    """A base weight changed during training: the adapter would not be separable from its base."""


@dataclass(frozen=True)
class TrainResult:
    record: AdapterRecord
    fit: FitResult  # complete on the main process; other processes of a distributed run hold no evaluations
    data: DataSplit
    main_process: bool = True
    warnings: tuple[str, ...] = ()  # one line each, e.g. that the adapter scored no better than chance


def train(
    config: TrainConfig | None = None,
    *,
    registry: Registry | str | None = None,
    report: Callable[[str, dict[str, Any]], None] | None = None,
    **overrides: Any,
) -> TrainResult:
    """Train an adapter and publish it to the registry; what ``hub train`` runs.

    Raises:
        ConfigError: Bad settings, data or labels (before anything heavy is imported).
        BaseNotFound: A base that is neither a local model directory nor a hub id found online or in the cache.
        MetricBelowMinimum: The adapter scored worse than ``config.min_metric``; nothing was published.

    Example:
        >>> result = train(task="sentiment", epochs=1)          # doctest: +SKIP
        >>> result.record.ref, result.record.card.metrics["accuracy"]  # doctest: +SKIP
        ('sentiment@1', 0.87)
    """
    config = (config or TrainConfig()).merged(**overrides)
    registry = registry if isinstance(registry, Registry) else Registry(registry)
    task, split, names = _checked(config)

    from adapterhub.training.loop import agree, process_state  # loads torch: on first use

    state = process_state()  # one process, or one of several under accelerate launch / torchrun
    report = report if report and state.is_main_process else (lambda event, values: None)
    if config.quantize:
        quantization_config(config.quantize)  # refuse at once, before the base loads, without CUDA or bitsandbytes
    report("data", {"train": len(split.train), "eval": len(split.eval), "labels": names})
    tokenizer = load_tokenizer(config.base)
    run = _run(config, task, split, tokenizer, report)
    if run.fit.interrupted and not (config.save_on_interrupt and run.fit.best_metrics):
        raise TrainingInterrupted(
            "interrupted: nothing was published"
            + (
                " (no evaluation had finished yet)"
                if config.save_on_interrupt
                else "; pass --save-on-interrupt to publish the best checkpoint so far"
            )
        )

    score = agree(run.fit.best_metrics.get(task.metric))  # evaluations happen on the main process
    chance = task.chance(split.eval, dict(zip(split.labels, names, strict=True)), len(tokenizer))
    useless = score is not None and not _better(task, score, chance.value)
    if config.min_metric is not None and score is not None and not _at_least(task, score, config.min_metric):
        raise MetricBelowMinimum(
            f"{config.adapter_name} scored {task.metric} {score:.4f}, "
            f"{'below' if task.greater_is_better else 'above'} --min-metric {config.min_metric:g}"
            f"{'' if task.greater_is_better else ' (lower perplexity is better)'}; nothing was published: train "
            "longer (--epochs), try another --lr or more data, or lower --min-metric"
        )
    card = _card(config, task, split, names, run, chance, useless)
    record = None
    if state.is_main_process:  # one version, published once, by the process that evaluated
        with tempfile.TemporaryDirectory(prefix="adapterhub-train-") as out:
            run.model.save_pretrained(out, save_embedding_layers=False)
            record = registry.publish(config.adapter_name, out, card)
    ref = agree(record.ref if record else None)  # every process returns the same record
    record = record or registry.get(ref)
    warnings = (_below_chance(record.ref, task, score, chance),) if useless and score is not None else ()
    return TrainResult(record=record, fit=run.fit, data=split, main_process=state.is_main_process, warnings=warnings)


@dataclass
class _Run:
    """A finished run: the trained PEFT model, its fit, the base's fingerprint, the sets it saw and, with
    ``--augment``, what augmentation did."""

    model: Any
    fit: FitResult
    base_print: str
    train_set: list[Encoded]
    eval_set: list[Encoded]
    augmentation: dict[str, Any]


def _run(
    config: TrainConfig, task: Task, split: DataSplit, tokenizer: Any, report: Callable[[str, dict[str, Any]], None]
) -> _Run:
    """Encode the data, check it fits the base's positions, and train (twice with ``--augment``)."""
    from transformers import AutoConfig  # transformers: loaded on first use

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def encode(examples: Sequence[Example]) -> list[Encoded]:
        return [e for e in (task.encode(x, tokenizer, split.labels, config.max_length) for x in examples) if e]

    train_set, eval_set = encode(split.train), encode(split.eval)
    if not train_set or not eval_set:
        raise ConfigError(f"no example fits in --max-length {config.max_length}; raise it")
    method = METHODS[config.method]
    check_positions(
        context_length(AutoConfig.from_pretrained(locate_base(config.base))),
        max(len(e["input_ids"]) for e in (*train_set, *eval_set)),
        config.max_length,
        method.virtual_tokens(method.settings_of(config)),
    )
    if not config.augment:
        model, result, base_print = _fit_once(config, task, split.labels, train_set, eval_set, pad_id, report)
        return _Run(model, result, base_print, train_set, eval_set, {})
    augmented = encode(
        Augmenter.fit(split.train, config.augment_copies, config.augment_strength).augment(split.train, config.seed)
    )
    model, result, base_print, augmentation = _fit_augmented(
        config, task, split.labels, (train_set, augmented), eval_set, pad_id, report
    )
    kept = augmented if augmentation.get("kept") == "augmented" else train_set
    return _Run(model, result, base_print, kept, eval_set, augmentation)


def _card(
    config: TrainConfig,
    task: Task,
    split: DataSplit,
    names: tuple[str, ...],
    run: _Run,
    chance: Chance,
    useless: bool,
) -> Card:
    """The card of the run's adapter; the PEFT config is pointed at the base's canonical id on the way."""

    base_id = canonical_base_id(config.base or DEFAULT_BASE)
    model, result = run.model, run.fit
    model.peft_config["default"].base_model_name_or_path = base_id
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return Card(
        task=task.name,
        task_type=task.task_type,
        method=config.method,
        base=BaseInfo(id=base_id, fingerprint=run.base_print),
        labels=names,
        method_config=METHODS[config.method].settings_of(config).card(model.get_base_model()),
        hyperparameters={
            **config.hyperparameters(),
            "trained_parameters": trained,
            "samples_per_second": round(result.samples_per_second, 1),
            "steps": result.steps,
            "best_step": result.best_step,
            "stopped_early": result.stopped_early,
            "interrupted": result.interrupted,
            "chance": round(chance.value, 6),
            **({"data_labels": list(split.labels)} if tuple(split.labels) != tuple(names) else {}),
            **({"processes": result.processes, "sharded": result.sharded} if result.processes > 1 else {}),
            **({"augmentation": run.augmentation} if run.augmentation else {}),
        },
        inference=InferenceSettings(
            max_length=config.max_length,
            pooling=_pooling(model.get_base_model()),
            prompt_template=_prompt_template(task.kind, split),
            quantize=config.quantize,
        ),
        metrics={k: v for k, v in result.best_metrics.items() if k not in ("step", "epoch", "train_loss")},
        headline_metric=task.metric,
        data=DataInfo(
            description=split.description,
            fingerprint=split.fingerprint,
            train_examples=len(run.train_set),
            eval_examples=len(run.eval_set),
        ),
        tags=tuple(config.tags)
        + (("interrupted",) if result.interrupted else ())
        + ((BELOW_CHANCE,) if useless else ()),
        history=tuple({k: round(v, 6) if isinstance(v, float) else v for k, v in h.items()} for h in result.history),
    )


def _checked(config: TrainConfig) -> tuple[Task, DataSplit, tuple[str, ...]]:
    """Every check that needs no model, before torch is imported: (task, data, label names).

    The base is located before the data is read, so a mistyped base is refused without reading a large file."""
    task = get_task(config.task)
    validate_name(config.adapter_name)
    if task.needs_base and not config.base:
        raise ConfigError(f"--task {task.name} needs --base: a causal LM such as gpt2 or a local Llama directory")
    if config.rdrop and task.kind == "generation":
        raise ConfigError(f"--rdrop compares two predicted label distributions; {task.name} predicts none")
    if config.augment and task.kind != "text":
        raise ConfigError(f"--augment perturbs texts of sentiment and classify data; {task.name} has none")
    if config.labels is not None and task.kind != "text":
        raise ConfigError(
            f"--labels names the classes of sentiment and classify data; {task.name} takes its "
            f"{'tags' if task.kind == 'tokens' else 'targets'} from the data as they are (drop --labels)"
        )
    if config.min_metric is not None:
        if task.greater_is_better and config.min_metric > 1:
            raise ConfigError(f"--min-metric {config.min_metric:g} can never be met: {task.metric} is at most 1")
        if not task.greater_is_better and config.min_metric < 1:
            raise ConfigError(f"--min-metric {config.min_metric:g} can never be met: {task.metric} is at least 1")
    if fsdp_requested(config.fsdp):
        check_fsdp_settings(config.quantize)
    METHODS[config.method].check_base(locate_base(config.base))
    split = load_data(
        task.kind,
        config.data,
        eval_data=config.eval_data,
        eval_fraction=config.eval_fraction,
        seed=config.seed,
        text_column=config.text_column,
        label_column=config.label_column,
        default=str(task.default_data) if task.default_data else None,
    )
    if config.labels is None:
        return task, split, task.label_names(split.labels)
    order = order_labels(split.labels, config.labels, config.data or "the built-in data")
    task.label_names(order)  # the task's own checks (sentiment: two labels); the names are the given ones
    return task, dataclasses.replace(split, labels=order), tuple(config.labels)


def _better(task: Task, score: float, than: float) -> bool:
    """Strictly better, up to float rounding (an accuracy equal to the majority share is not better)."""
    margin = 1e-9 * max(1.0, abs(than))
    return score > than + margin if task.greater_is_better else score < than - margin


def _below_chance(ref: str, task: Task, score: float, chance: Chance) -> str:
    """The one-line warning for an adapter that scored no better than chance."""
    worse = "at or below" if task.greater_is_better else "at or above"
    return (
        f"{ref} scored {task.metric} {score:.4f}, {worse} chance ({chance.value:.4f}: {chance.how}), so it learned "
        f"nothing useful and is tagged {BELOW_CHANCE}; train longer (--epochs), try another --lr, check the data's "
        "labels, or pass --min-metric to refuse such an adapter"
    )


def fit(*args: Any, **kwargs: Any) -> FitResult:
    """:func:`adapterhub.training.loop.fit`, imported (with torch) when the first run starts."""
    from adapterhub.training.loop import fit as run  # loads torch: on first use

    return run(*args, **kwargs)


def _fit_once(
    config: TrainConfig,
    task: Task,
    labels: Sequence[str],
    train_set: list[Encoded],
    eval_set: list[Encoded],
    pad_id: int,
    report: Callable[[str, dict[str, Any]], None],
) -> tuple[Any, FitResult, str]:
    """A fresh adapter on a freshly loaded base, trained; (PEFT model, fit result, base fingerprint).

    Raises :class:`BaseChanged` when a base weight moved."""
    from transformers import set_seed  # transformers: loaded on first use

    set_seed(config.seed)
    model = task.build_model(config.base, labels, config.dropout, config.quantize)
    base_print = fingerprint(model)
    model = _with_adapter(model, config, task)
    result = fit(model, task, train_set, eval_set, labels, config, pad_id, report)
    if fingerprint(model) != base_print:  # sharded, every process takes part in gathering each weight
        raise BaseChanged(
            "a base weight changed during training, so the adapter is not separable from its base; "
            "nothing was published (report this as a bug)"
        )
    if is_sharded(model):
        model = _unsharded(model, config, task, labels)
    return model, result, base_print


def _with_adapter(model: Any, config: TrainConfig, task: Task) -> Any:
    """``model`` wrapped by PEFT with a fresh adapter of ``config.method``, as the method attaches it."""
    method = METHODS[config.method]
    return method.attach(model, method.settings_of(config), task.task_type)


def _unsharded(sharded: Any, config: TrainConfig, task: Task, labels: Sequence[str]) -> Any:
    """After an FSDP run: on the main process, a plain PEFT model with the trained weights, ready to save (its
    base is read again from disk, unchanged as the fingerprint just proved); the others keep their shards."""
    import torch  # torch: loaded on first use

    from adapterhub.training.loop import process_state  # loads torch: on first use

    trained = gather_adapter(sharded)  # collective: every process
    if not process_state().is_main_process:
        return sharded
    model = _with_adapter(task.build_model(config.base, labels, config.dropout, config.quantize), config, task)
    params = dict(model.named_parameters())
    missing = sorted(set(trained) - set(params))
    if missing:
        raise AdapterHubError(f"the sharded model has weights the plain one lacks: {', '.join(missing[:3])}")
    with torch.no_grad():
        for name, value in trained.items():
            params[name].copy_(value)
    return model


def _fit_augmented(
    config: TrainConfig,
    task: Task,
    labels: Sequence[str],
    train_sets: tuple[list[Encoded], list[Encoded]],
    eval_set: list[Encoded],
    pad_id: int,
    report: Callable[[str, dict[str, Any]], None],
) -> tuple[Any, FitResult, str, dict[str, Any]]:
    """A run without augmentation, then one with it; the augmented adapter is kept only when it scores at least
    as well (augmentation backs off to none when it hurts). An interrupted run ends the comparison."""
    from adapterhub.training.loop import agree  # loads torch: on first use

    plain, augmented = train_sets
    report("note", {"text": f"augment: {len(plain)} -> {len(augmented)} training examples; first a run without"})
    first = _fit_once(config, task, labels, plain, eval_set, pad_id, report)
    without = first[1].best_metrics.get(task.metric)  # evaluations happen on the main process only
    if not agree(not first[1].interrupted and without is not None):
        return (*first, {})
    report("note", {"text": f"without augmentation: {task.metric} {without:.4f}; now with it"})
    second = _fit_once(config, task, labels, augmented, eval_set, pad_id, report)
    score = second[1].best_metrics.get(task.metric)
    if not agree(not second[1].interrupted and score is not None):
        return (*second, {})
    keep = agree(score is not None and without is not None and _at_least(task, score, without))
    summary = {
        "train_examples": len(augmented),
        "without": without,
        "with": score,
        "kept": "augmented" if keep else "none (augmentation did not help)",
    }
    report("note", {"text": f"with augmentation: {task.metric} {score:.4f}; kept {summary['kept']}"})
    return (*(second if keep else first), summary)


def _at_least(task: Task, score: float, than: float) -> bool:
    return score >= than if task.greater_is_better else score <= than


def _pooling(model: Any) -> str | None:
    """How a sequence classifier pools, as its model was built (None for any other model: nothing pools)."""
    return model.pooling if getattr(model, "kind", None) == "sequence" else None


def _prompt_template(kind: str, split: DataSplit) -> str | None:
    """For generation: the template inference must wrap prompts in ('' when trained on plain text)."""
    if kind != "generation":
        return None

    return TEMPLATE if any(getattr(e, "prompt", "") for e in split.train) else ""

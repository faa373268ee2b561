"""``TrainConfig``: the one description of a training run, shared by the CLI flags, YAML files and Python.

Every setting is written once, as a field here with its default and its help; ``hub train`` builds its options
from them. Each registered method (:data:`adapterhub.methods.METHODS`) adds one field of its own, named after
it and holding its settings: ``config.lora.r`` in Python, ``lora: {r: 4}`` in YAML. The flags of a method's
settings name them as well: ``--lora-r``, ``lora_r: 4`` in YAML, ``merged(lora_r=4)`` in Python.

Defaults come first, then an optional YAML file (``--config``), then flags; every problem is collected and
reported once, in the names the user typed (``--lr`` for a flag, ``lr`` or ``lora.r`` for a YAML key). Every
value is checked against its field's type, so a wrong type is one line naming the key, the value and the
type expected. This module imports neither torch nor transformers: a bad setting is refused at once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from adapterhub.errors import ConfigError
from adapterhub.methods import METHODS
from adapterhub.suggest import did_you_mean
from adapterhub.typed_fields import flag_of, from_plain, setting, type_problems


def _one_of(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else "".join(names)


def _with_method_settings(cls: type) -> type:
    """Add one field per registered method, named after it, holding its settings (their defaults unless given)."""
    for method in METHODS.values():
        if method.name in cls.__annotations__:
            raise TypeError(f"method {method.name!r} has the name of a setting of {cls.__name__}")
        cls.__annotations__[method.name] = method.settings
        help_ = f"{method.name} settings: {method.summary}"
        setattr(cls, method.name, dataclasses.field(default_factory=method.settings, metadata={"help": help_}))
    return cls


@dataclass(frozen=True)
@_with_method_settings
class TrainConfig:
    """Everything ``hub train`` and :func:`adapterhub.train` accept.

    Besides the fields below, each registered method has a field named after it holding its settings
    (``config.lora``, ``config.prefix``); :meth:`method_settings` gives those of :attr:`method`.

    Example:
        >>> TrainConfig(task="sentiment", epochs=2).name
        'sentiment'
    """

    task: str = setting("sentiment", "sentiment, classify, ner or generate")
    name: str | None = setting(None, "Registry name", shown_default="the task's name")
    base: str | None = setting(None, "Base model: hub id or local directory", shown_default="all-MiniLM-L6-v2")
    method: str = setting("lora", _one_of(list(METHODS)))
    data: str | None = setting(None, "CSV/TSV/JSONL/CoNLL file, folder, or hf:NAME[:CONFIG]")
    eval_data: str | None = setting(None, "Evaluation data", shown_default="a seeded split of --data")
    eval_fraction: float = setting(0.1, "Share of --data held out for evaluation")
    text_column: str | None = setting(None, "Column holding the text")
    label_column: str | None = setting(None, "Column holding the label")
    epochs: int = setting(3, "Passes over the training data")
    lr: float | None = setting(
        None, "Peak learning rate", shown_default=", ".join(f"{m.name} {m.default_lr:g}" for m in METHODS.values())
    )
    batch_size: int = setting(32, "Examples per batch")
    grad_accum: int = setting(1, "Batches per optimizer step")
    max_grad_norm: float = setting(1.0, "Gradient clipping norm")
    weight_decay: float = setting(0.01, "AdamW weight decay")
    warmup_ratio: float = setting(0.06, "Share of steps spent warming up")
    schedule: Literal["linear", "cosine"] = setting("linear", "Decay after warmup: linear or cosine")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = setting(
        "auto", "auto, fp32, bf16 or fp16", shown_default="auto: bf16 on a GPU that has it"
    )
    max_length: int = setting(128, "Longest input in tokens")
    dropout: float = setting(0.1, "Dropout of the task head")
    seed: int = setting(13, "Seed for the split, initialisation and batch order")
    eval_every: int = setting(0, "Evaluate every N optimizer steps", shown_default="each epoch")
    patience: int = setting(3, "Evaluations without improvement before stopping; 0: never stop early")
    augment: bool = setting(
        False, "Text classification: also train on perturbed copies (swap/delete/insert); kept only if it helps"
    )
    augment_copies: int = setting(4, "Perturbed copies per example with --augment")
    augment_strength: float = setting(0.1, "Share of words each perturbation changes")
    loraplus_ratio: float = setting(1.0, "LoRA+: the B matrices' learning rate over the A matrices', e.g. 16; 1: plain")
    rdrop: float = setting(0.0, "R-Drop (classifiers, taggers): weight of the KL between two dropout passes; 0: off")
    ema: float = setting(0.0, "Evaluate and keep a moving average of the adapter weights with this decay; 0: off")
    quantize: Literal["4bit", "8bit"] | None = setting(None, "4bit or 8bit base through bitsandbytes (CUDA only)")
    fsdp: bool = setting(
        False,
        "Under torchrun / accelerate launch, shard base and adapter over the processes (FSDP2); also on under an "
        "FSDP accelerate config",
    )
    save_on_interrupt: bool = setting(False, "On Ctrl-C publish the best checkpoint so far")
    tags: tuple[str, ...] = setting((), "Free-form tag for the card (repeatable)", flag="--tag", split=False)
    labels: tuple[str, ...] | None = setting(
        None,
        "Class names in class-index order, comma-separated: names of labels 0..N-1, or an order of named ones",
        split="strict",  # an empty name is kept, so that the check below names it
    )
    min_metric: float | None = setting(
        None, "Publish only if the headline metric (accuracy, f1) is at least this; perplexity: at most [exit 7]"
    )

    def __post_init__(self) -> None:
        wrong_type = type_problems(type(self), {f.name: getattr(self, f.name) for f in fields(self)}, _flag)
        if wrong_type:  # the range checks below compare values, which needs the right types
            raise ConfigError("; ".join(wrong_type))
        problems = []
        if self.method not in METHODS:
            close = did_you_mean(self.method, METHODS)
            problems.append(f"--method must be one of {', '.join(METHODS)} (got {self.method!r}){close}")
        for flag, value, low in (
            ("--epochs", self.epochs, 1),
            ("--batch-size", self.batch_size, 1),
            ("--grad-accum", self.grad_accum, 1),
            ("--max-length", self.max_length, 8),
        ):
            if value < low:
                problems.append(f"{flag} must be at least {low} (got {value})")
        if self.lr is not None and self.lr <= 0:
            problems.append(f"--lr must be positive (got {self.lr})")
        if not 0 <= self.warmup_ratio < 1:
            problems.append(f"--warmup-ratio must be in [0, 1) (got {self.warmup_ratio})")
        if not 0 < self.eval_fraction <= 0.5:
            problems.append(f"--eval-fraction must be in (0, 0.5] (got {self.eval_fraction})")
        if not 0 <= self.dropout < 1:
            problems.append(f"--dropout must be in [0, 1) (got {self.dropout})")
        if self.augment_copies < 1 or not 0 < self.augment_strength < 1:
            problems.append(
                f"--augment-copies must be at least 1 and --augment-strength in (0, 1) "
                f"(got {self.augment_copies}, {self.augment_strength})"
            )
        if self.loraplus_ratio < 1:
            problems.append(f"--loraplus-ratio must be at least 1 (got {self.loraplus_ratio}); 16 is typical")
        if self.rdrop < 0:
            problems.append(f"--rdrop must not be negative (got {self.rdrop}); 0.1 to 1 is typical")
        if not 0 <= self.ema < 1:
            problems.append(f"--ema must be in [0, 1), e.g. 0.99 (got {self.ema})")
        if self.patience < 0 or self.eval_every < 0:
            problems.append("--patience and --eval-every must not be negative")
        if self.min_metric is not None and not 0 <= self.min_metric < float("inf"):
            problems.append(f"--min-metric must be a number of at least 0 (got {self.min_metric})")
        if self.labels is not None:
            problems += _label_problems(self.labels)
        if problems:
            raise ConfigError("; ".join(problems))

    @property
    def adapter_name(self) -> str:
        return self.name or self.task

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else METHODS[self.method].default_lr

    def settings_for(self, method: str) -> Any:
        """The settings of the registered method called ``method`` (as ``config.<method>``)."""
        if method not in METHODS:
            raise ConfigError(f"no method {method!r}; the methods are {', '.join(METHODS)}")
        return getattr(self, method)

    def method_settings(self) -> Any:
        """The settings of the method this run trains (:attr:`method`)."""
        return self.settings_for(self.method)

    def hyperparameters(self) -> dict[str, Any]:
        """What the card records about the run (data paths and registry bookkeeping left out)."""
        skip = {
            "name",
            "data",
            "eval_data",
            "tags",
            "labels",  # the card records the label names themselves
            "save_on_interrupt",
            "text_column",
            "label_column",
            "fsdp",  # the run records whether it was sharded (and over how many processes) itself
            *METHODS,  # the card records the method's settings as its method_config
        }
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}
        out["lr"] = self.learning_rate
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "config") -> TrainConfig:
        """Build from plain values (a YAML file's content): unknown keys (with the closest known one) and values
        of the wrong type are errors, listed together with every other problem in one :class:`ConfigError`."""
        values, problems = _nest_flag_names(values)
        config, found = from_plain(cls, values)
        problems += found
        if problems:
            raise ConfigError(f"{where}: " + "; ".join(problems))
        return config

    @classmethod
    def from_yaml(cls, path: str | Path) -> TrainConfig:
        import yaml  # yaml: loaded on first use

        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        content = yaml.safe_load(path.read_text()) or {}
        if not isinstance(content, dict):
            raise ConfigError(f"{path} must hold a mapping of settings, e.g. `epochs: 3`")
        return cls.from_dict(content, str(path))

    def merged(self, **overrides: Any) -> TrainConfig:
        """A copy with the given (non-None) values replaced; a method's settings are given by their flags' names
        (``lora_r``, ``prefix_tokens``, see :func:`method_setting_keys`), lists as tuples."""
        keys = method_setting_keys()
        top: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {}
        for key, value in overrides.items():
            if value is None:
                continue
            if key in keys:
                method, inner = keys[key]
                nested.setdefault(method, {})[inner] = tuple(value) if isinstance(value, list) else value
            else:
                top[key] = value
        for method, values in nested.items():
            top[method] = dataclasses.replace(top.get(method, getattr(self, method)), **values)
        return dataclasses.replace(self, **top)


def method_setting_keys() -> dict[str, tuple[str, str]]:
    """Each method setting's flag as a key (``--lora-r`` -> ``lora_r``) -> (method, field): the names YAML files,
    :meth:`TrainConfig.merged` and ``hub train`` take for settings that sit in a method's own field."""
    keys: dict[str, tuple[str, str]] = {}
    for method in METHODS.values():
        for spec in fields(method.settings):
            keys[method.flag(spec.name).removeprefix("--").replace("-", "_")] = (method.name, spec.name)
    return keys


def _nest_flag_names(values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A YAML file may use the flags' names (``lora_r``, ``prefix_tokens``) for a method's settings."""
    out, problems = dict(values), []
    for key, (group, inner) in method_setting_keys().items():
        if key not in out:
            continue
        value = out.pop(key)
        nested = out.get(group, {})
        if not isinstance(nested, dict) or inner in nested:
            problems.append(f"{key} and {group}.{inner} are the same setting; give one of them")
            continue
        out[group] = {**nested, inner: value}
    return out, problems


def _flag(field_name: str) -> str:
    """The command-line flag of a field, as problems name it."""
    return flag_of(TrainConfig, field_name)


def _label_problems(labels: tuple[str, ...]) -> list[str]:
    """--labels: at least two names, none empty, none twice."""
    problems = []
    if len(labels) < 2:
        problems.append(f"--labels names {len(labels)} class(es); give at least two names, comma-separated")
    if any(not label.strip() for label in labels):
        problems.append("--labels has an empty name; give one name per class, e.g. --labels world,sports,business")
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        problems.append(f"--labels names {', '.join(map(repr, twice))} more than once; each class needs its own name")
    return problems


def _check_method_setting_keys() -> None:
    """A method's flag must not take the name of a setting of the run (the two would be one key in YAML)."""
    names = {f.name for f in fields(TrainConfig)}
    taken = sorted(set(method_setting_keys()) & names)
    if taken:
        raise TypeError(f"method settings whose flags are settings of TrainConfig: {', '.join(taken)}")


_check_method_setting_keys()

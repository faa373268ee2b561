"""``TrainConfig``: the one description of a training run, shared by the CLI flags, YAML files and Python.

Defaults come first, then an optional YAML file (``--config``), then flags; every problem is collected and
reported once, in the names the user typed (``--lr`` for a flag, ``lr`` or ``lora.r`` for a YAML key). Every
value is checked against its field's type, so a wrong type is one line naming the key, the value and the
type expected. This module imports neither torch nor transformers: a bad setting is refused at once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from adapterhub.errors import ConfigError
from adapterhub.methods import METHODS, LoraSettings, PrefixSettings
from adapterhub.suggest import did_you_mean
from adapterhub.typed_fields import from_plain, type_problems

Precision = Literal["auto", "fp32", "bf16", "fp16"]
Schedule = Literal["linear", "cosine"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything ``hub train`` and :func:`adapterhub.train` accept.

    Example:
        >>> TrainConfig(task="sentiment", epochs=2).name
        'sentiment'
    """

    task: str = "sentiment"
    name: str | None = None  # registry name; default: the task's name
    base: str | None = None  # hub id or local directory; default: all-MiniLM-L6-v2 (embedded)
    method: str = "lora"
    data: str | None = None
    eval_data: str | None = None
    eval_fraction: float = 0.1
    text_column: str | None = None
    label_column: str | None = None
    epochs: int = 3
    lr: float | None = None  # default per method: lora 1e-3, prefix and head 1e-2
    batch_size: int = 32
    grad_accum: int = 1
    max_grad_norm: float = 1.0
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    schedule: Schedule = "linear"
    precision: Precision = "auto"
    max_length: int = 128
    dropout: float = 0.1
    seed: int = 13
    eval_every: int = 0  # optimizer steps between evaluations; 0 = once per epoch
    patience: int = 3  # evaluations without improvement before stopping; 0 = never stop early
    augment: bool = False  # text classification: also train on perturbed copies; kept only if it does not hurt
    augment_copies: int = 4
    augment_strength: float = 0.1  # share of each text's words an operation changes
    loraplus_ratio: float = 1.0  # LoRA+: learning rate of the B matrices over that of the A matrices; 1 = plain
    rdrop: float = 0.0  # R-Drop: weight of the KL between two dropout passes (classifiers, taggers); 0 = off
    ema: float = 0.0  # decay of an exponential moving average of the adapter weights, evaluated and kept; 0 = off
    quantize: Literal["4bit", "8bit"] | None = None
    fsdp: bool = False  # several processes: shard base and adapter (FSDP2); also on under an FSDP accelerate config
    save_on_interrupt: bool = False
    tags: tuple[str, ...] = ()
    labels: tuple[str, ...] | None = None  # names of the classes in class-index order (text tasks)
    min_metric: float | None = None  # publish only if the headline metric is at least this (perplexity: at most)
    lora: LoraSettings = field(default_factory=LoraSettings)
    prefix: PrefixSettings = field(default_factory=PrefixSettings)

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

    def method_settings(self) -> Any:
        return METHODS[self.method].settings_of(self)

    def hyperparameters(self) -> dict[str, Any]:
        """What the card records about the run (data paths and registry bookkeeping left out)."""
        skip = {
            "name",
            "data",
            "eval_data",
            "tags",
            "labels",  # the card records the label names themselves
            "lora",
            "prefix",
            "save_on_interrupt",
            "text_column",
            "label_column",
            "fsdp",  # the run records whether it was sharded (and over how many processes) itself
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
        import yaml

        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        content = yaml.safe_load(path.read_text()) or {}
        if not isinstance(content, dict):
            raise ConfigError(f"{path} must hold a mapping of settings, e.g. `epochs: 3`")
        return cls.from_dict(content, str(path))

    def merged(self, **overrides: Any) -> TrainConfig:
        """A copy with the given (non-None) values replaced; ``lora_*`` and ``prefix_tokens`` reach the nested
        method settings."""
        lora = {k[5:]: v for k, v in overrides.items() if k.startswith("lora_") and v is not None}
        if overrides.get("target_modules"):
            lora["target_modules"] = tuple(overrides["target_modules"])
        top = {
            k: v
            for k, v in overrides.items()
            if v is not None and not k.startswith("lora_") and k not in ("target_modules", "prefix_tokens")
        }
        if lora:
            top["lora"] = dataclasses.replace(self.lora, **lora)
        if overrides.get("prefix_tokens") is not None:
            top["prefix"] = PrefixSettings(num_virtual_tokens=overrides["prefix_tokens"])
        return dataclasses.replace(self, **top)


# Flags whose YAML key sits in a nested mapping: `lora_r: 4` is read as `lora: {r: 4}`
_NESTED_FLAGS = {
    "lora_r": ("lora", "r"),
    "lora_alpha": ("lora", "alpha"),
    "lora_dropout": ("lora", "dropout"),
    "target_modules": ("lora", "target_modules"),
    "prefix_tokens": ("prefix", "num_virtual_tokens"),
}


def _nest_flag_names(values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A YAML file may use the flags' names (``lora_r``, ``prefix_tokens``) for nested settings."""
    out, problems = dict(values), []
    for key, (group, inner) in _NESTED_FLAGS.items():
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
    return {"tags": "--tag"}.get(field_name, "--" + field_name.replace("_", "-"))


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

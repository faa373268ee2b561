"""``TrainConfig``: the one description of a training run, shared by the CLI flags, YAML files and Python.

Defaults come first, then an optional YAML file (``--config``), then flags; every problem is collected and
reported once, in the flag names the user typed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from adapterhub.errors import ConfigError
from adapterhub.methods import METHODS, HeadSettings, LoraSettings, PrefixSettings

Precision = Literal["auto", "fp32", "bf16", "fp16"]
Schedule = Literal["linear", "cosine"]
DEFAULT_LR = {"lora": 1e-3, "prefix": 1e-2, "head": 1e-2}


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
    lora: LoraSettings = field(default_factory=LoraSettings)
    prefix: PrefixSettings = field(default_factory=PrefixSettings)

    def __post_init__(self) -> None:
        problems = []
        if self.method not in METHODS:
            problems.append(f"--method must be one of {', '.join(METHODS)} (got {self.method!r})")
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
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            problems.append(f"--precision must be auto, fp32, bf16 or fp16 (got {self.precision!r})")
        if self.schedule not in ("linear", "cosine"):
            problems.append(f"--schedule must be linear or cosine (got {self.schedule!r})")
        if self.quantize not in (None, "4bit", "8bit"):
            problems.append(f"--quantize must be 4bit or 8bit (got {self.quantize!r})")
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
        if problems:
            raise ConfigError("; ".join(problems))

    @property
    def adapter_name(self) -> str:
        return self.name or self.task

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.method]

    def method_settings(self) -> LoraSettings | PrefixSettings | HeadSettings:
        return {"lora": self.lora, "prefix": self.prefix, "head": HeadSettings()}[self.method]

    def hyperparameters(self) -> dict[str, Any]:
        """What the card records about the run (data paths and registry bookkeeping left out)."""
        skip = {
            "name",
            "data",
            "eval_data",
            "tags",
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
        """Build from plain values (a YAML file's content); unknown keys are an error, not ignored."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown keys in {where}: {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        values = dict(values)
        try:
            if isinstance(values.get("lora"), dict):
                lora = dict(values["lora"])
                if lora.get("target_modules") is not None:
                    lora["target_modules"] = tuple(lora["target_modules"])
                values["lora"] = LoraSettings(**lora)
            if isinstance(values.get("prefix"), dict):
                values["prefix"] = PrefixSettings(**values["prefix"])
        except TypeError as exc:
            raise ConfigError(f"bad method settings in {where}: {exc}") from exc
        if "tags" in values:
            values["tags"] = tuple(values["tags"] or ())
        return cls(**values)

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

"""LoRA: low-rank updates on the body's linear layers (PEFT ``LoraConfig``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapterhub.errors import ConfigError
from adapterhub.typed_fields import type_problems

# Attention and feed-forward linears per architecture: the layers the fine-tuning literature adapts.
TARGETS = {
    "bert": ["query", "key", "value", "dense"],
    "roberta": ["query", "key", "value", "dense"],
    "xlm-roberta": ["query", "key", "value", "dense"],
    "electra": ["query", "key", "value", "dense"],
    "mpnet": ["q", "k", "v", "o", "intermediate.dense", "output.dense"],
    "distilbert": ["q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"],
    "deberta-v2": ["query_proj", "key_proj", "value_proj", "dense"],
    "gpt2": ["c_attn", "c_proj", "c_fc"],
    "t5": ["q", "k", "v", "o", "wi", "wo"],
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "mistral": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
}


_FLAGS = {"r": "--lora-r", "alpha": "--lora-alpha", "dropout": "--lora-dropout", "target_modules": "--target-module"}


@dataclass(frozen=True)
class LoraSettings:
    """LoRA hyper-parameters; ``target_modules`` None picks the architecture's default."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.1
    target_modules: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        wrong_type = type_problems(type(self), vars(self), _FLAGS.__getitem__)
        if wrong_type:
            raise ConfigError("; ".join(wrong_type))
        problems = []
        if self.r < 1:
            problems.append(f"--lora-r must be at least 1 (got {self.r})")
        if self.alpha <= 0:
            problems.append(f"--lora-alpha must be positive (got {self.alpha})")
        if not 0 <= self.dropout < 1:
            problems.append(f"--lora-dropout must be in [0, 1) (got {self.dropout})")
        if problems:
            raise ConfigError("; ".join(problems))

    def targets(self, model_type: str) -> list[str]:
        if self.target_modules:
            return list(self.target_modules)
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_DEFAULTS

        found = TARGETS.get(model_type) or PEFT_DEFAULTS.get(model_type)
        if not found:
            raise ConfigError(f"no default LoRA target modules for model type {model_type!r}; pass --target-modules")
        return list(found)

    def peft_config(self, task_type: str, model: Any) -> Any:
        from peft import LoraConfig

        return LoraConfig(
            task_type=task_type,
            r=self.r,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=self.targets(model.config.model_type),
            fan_in_fan_out=model.config.model_type == "gpt2",  # GPT-2's Conv1D stores weights transposed
        )

    def card(self, model: Any) -> dict[str, Any]:
        targets = sorted(self.targets(model.config.model_type))
        return {"r": self.r, "alpha": self.alpha, "dropout": self.dropout, "target_modules": targets}

"""LoRA: low-rank updates on the body's linear layers (PEFT ``LoraConfig``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapterhub.compat import linear_layer_types, lora_default_targets
from adapterhub.errors import ConfigError
from adapterhub.methods.method import Method
from adapterhub.typed_fields import type_problems

_GATED_MLP = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]  # Llama's layout
_FUSED_QKV = ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"]  # GPT-NeoX, Falcon, BLOOM
# Mixture-of-experts decoders keep their experts' weights as 3-D parameters (transformers 5), not linear layers,
# and their router is no linear layer either: the attention's projections are the linears there are to adapt.
_MOE_ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]

# Attention and feed-forward linears per architecture (``config.model_type``): the layers the fine-tuning
# literature adapts. PEFT's own table (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING) names only the
# attention's query and value, so it is the fallback for architectures missing here. A name matches every
# module whose dotted name ends with it, so "dense" covers BERT's attention output and both feed-forward layers.
TARGETS = {
    # encoders
    "bert": ["query", "key", "value", "dense"],
    "roberta": ["query", "key", "value", "dense"],
    "xlm-roberta": ["query", "key", "value", "dense"],
    "electra": ["query", "key", "value", "dense"],
    "albert": ["query", "key", "value", "dense", "ffn", "ffn_output"],
    "mpnet": ["q", "k", "v", "o", "intermediate.dense", "output.dense"],
    "distilbert": ["q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"],
    "deberta-v2": ["query_proj", "key_proj", "value_proj", "dense"],
    "modernbert": ["Wqkv", "Wo", "Wi"],  # fused query/key/value; Wo is both the attention's and the MLP's output
    # encoder-decoders
    "t5": ["q", "k", "v", "o", "wi", "wo"],
    # decoders
    "gpt2": ["c_attn", "c_proj", "c_fc"],
    "llama": _GATED_MLP,
    "olmo2": _GATED_MLP,
    "granite": _GATED_MLP,
    "smollm3": _GATED_MLP,
    "stablelm": _GATED_MLP,
    "mistral": _GATED_MLP,
    "qwen2": _GATED_MLP,
    "qwen3": _GATED_MLP,
    "gemma": _GATED_MLP,
    "gemma2": _GATED_MLP,
    "gemma3_text": _GATED_MLP,
    "phi3": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],  # fused query/key/value and gate/up
    "phi": ["q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"],
    "gpt_neox": _FUSED_QKV,
    "falcon": _FUSED_QKV,
    "bloom": _FUSED_QKV,
    "opt": ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"],
    "gptj": ["q_proj", "k_proj", "v_proj", "out_proj", "fc_in", "fc_out"],
    "mixtral": _MOE_ATTENTION,
    "qwen3_moe": _MOE_ATTENTION,
}

_FLAGS = {"r": "--lora-r", "alpha": "--lora-alpha", "dropout": "--lora-dropout", "target_modules": "--target-modules"}


@dataclass(frozen=True)
class LoraSettings:
    """LoRA hyper-parameters; ``target_modules`` None picks the architecture's default."""

    r: int = field(default=8, metadata={"help": "LoRA rank"})
    alpha: int = field(default=16, metadata={"help": "LoRA alpha: the update is scaled by alpha / r"})
    dropout: float = field(default=0.1, metadata={"help": "LoRA dropout on the adapted layers' inputs"})
    target_modules: tuple[str, ...] | None = field(
        default=None,
        metadata={
            "help": "LoRA targets: module names, comma-separated or repeated [the architecture's attention and MLP]",
            "flag": "--target-modules",
        },
    )

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

    def targets(self, model: Any) -> list[str]:
        """The module names to adapt: the ones given, else the architecture's default (:data:`TARGETS`, then
        PEFT's table); a :class:`ConfigError` listing ``model``'s linear layers when there is none."""
        model_type = model.config.model_type
        if self.target_modules:
            names = [name for name, _ in model.named_modules()]
            unmatched = [t for t in self.target_modules if not any(n == t or n.endswith(f".{t}") for n in names)]
            if unmatched:
                raise ConfigError(
                    f"--target-modules {','.join(unmatched)}: no such layer in this {model_type} base; its linear "
                    f"layers are {', '.join(linear_layer_names(model))}"
                )
            return list(self.target_modules)
        found = TARGETS.get(model_type) or lora_default_targets(model_type)
        if not found:
            names = linear_layer_names(model)
            raise ConfigError(
                f"no default LoRA target modules for model type {model_type!r}; pass --target-modules with some "
                f"of its linear layers ({', '.join(names)}), e.g. --target-modules {','.join(names[:2])}"
            )
        return list(found)

    def peft_config(self, task_type: str, model: Any) -> Any:
        from peft import LoraConfig

        return LoraConfig(
            task_type=task_type,
            r=self.r,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=self.targets(model),
            fan_in_fan_out=model.config.model_type == "gpt2",  # GPT-2's Conv1D stores weights transposed
        )

    def card(self, model: Any) -> dict[str, Any]:
        targets = sorted(self.targets(model))
        return {"r": self.r, "alpha": self.alpha, "dropout": self.dropout, "target_modules": targets}


def linear_layer_names(model: Any) -> list[str]:
    """The last name parts of ``model``'s linear layers (what ``target_modules`` matches); heads and poolers,
    which task models replace or drop, left out."""
    layer_types = linear_layer_types()
    heads = {"classifier", "lm_head", "score", "qa_outputs", "pooler"}
    found = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, layer_types) and not heads & set(name.split("."))
    }
    return sorted(found)


METHOD = Method(
    name="lora",
    summary="low-rank updates on the body's linear layers",
    settings=LoraSettings,
    default_lr=1e-3,
    peft_type="LORA",
)

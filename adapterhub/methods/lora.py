"""LoRA: low-rank updates on the body's linear layers (PEFT ``LoraConfig``)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapterhub.compat import linear_layer_types, lora_default_targets
from adapterhub.errors import ConfigError
from adapterhub.methods.method import Method, Tensor, sample
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

# A LoRA factor's key in a saved adapter, and PEFT's own tensors beside the factors (DoRA magnitudes, trainable
# tokens)
LORA_KEY = re.compile(r"^(?P<module>.+)\.lora_(?:embedding_)?(?P<part>A|B)(?:\.weight)?$")
_LORA_EXTRA = re.compile(r"(^|\.)(lora_magnitude_vector|trainable_tokens_\w+)(\.|$)")

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
        from peft import LoraConfig  # peft: loaded on first use

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


class LoraMethod(Method):
    """LoRA's answers: its search space, LoRA+ and what a saved LoRA adapter must hold."""

    def search(self, trial: Any) -> dict[str, Any]:
        r = trial.suggest_categorical("lora_r", [4, 8, 16, 32])
        return {
            "lora_r": r,
            "lora_alpha": r * trial.suggest_categorical("alpha_per_rank", [1, 2, 4]),
            "lora_dropout": trial.suggest_float("lora_dropout", 0.0, 0.3),
        }

    def optimizer(self, model: Any, config: Any) -> Any | None:
        """LoRA+ (``config.loraplus_ratio`` above 1): the B matrices learn that many times faster (PEFT's)."""
        if config.loraplus_ratio <= 1:
            return None
        import torch  # training is under way: importing methods stays light
        from peft.optimizers import create_loraplus_optimizer  # peft: loaded on first use

        return create_loraplus_optimizer(
            model,
            torch.optim.AdamW,
            lr=config.learning_rate,
            loraplus_lr_ratio=config.loraplus_ratio,
            loraplus_weight_decay=config.weight_decay,
        )

    def file_problems(
        self,
        method_config: Mapping[str, Any],
        config: Mapping[str, Any],
        body: Sequence[Tensor],
        base: Mapping[str, Any] | None,
    ) -> list[str]:
        return lora_file_problems(method_config, config, body)


def _targets(module: str, targets: Any) -> bool:
    if isinstance(targets, str):
        return re.fullmatch(targets, module) is not None
    return any(module == t or module.endswith(f".{t}") for t in targets)


def lora_file_problems(
    method_config: Mapping[str, Any], config: Mapping[str, Any], body: Sequence[Tensor]
) -> list[str]:
    """Where a LoRA adapter's tensors (``body``: all but the task head) disagree with its config and card: every
    factor paired, of rank ``r``, on a targeted module, every target with factors, nothing else unsaved."""
    problems = []
    targets = config.get("target_modules")
    saved = [m for m in config.get("modules_to_save") or () if isinstance(m, str)]
    pairs: dict[str, dict[str, Tensor]] = {}
    others = []
    for tensor in body:
        if match := LORA_KEY.match(tensor.key):
            pairs.setdefault(match.group("module"), {})[match.group("part")] = tensor
        elif _LORA_EXTRA.search(tensor.key):
            continue  # DoRA magnitudes, trainable tokens: PEFT's own, beside the factors
        elif not any(p in saved for p in tensor.key.split(".")[:-1]):
            others.append(tensor.key)
    if not pairs:
        problems.append("a LoRA adapter without lora_A/lora_B tensors")
    if others and (config.get("bias") or "none") == "none":
        problems.append(
            f"{len(others)} tensor(s) that are neither LoRA factors nor in modules_to_save: {sample(others)}"
        )
    halves = sorted(f"{m}.lora_{'B' if 'A' in p else 'A'}" for m, p in pairs.items() if len(p) < 2)
    if halves:
        problems.append(f"{len(halves)} LoRA factor(s) missing their pair: {sample(halves)}")
    if isinstance(targets, str | list) and targets != "all-linear":
        stray = sorted(m for m in pairs if not _targets(m, targets))
        if stray:
            problems.append(
                f"{len(stray)} module(s) with LoRA tensors that target_modules does not list: {sample(stray)}"
            )
        if isinstance(targets, list):
            unused = sorted(t for t in targets if not any(_targets(m, [t]) for m in pairs))
            if unused:
                problems.append(f"target module(s) {unused} have no lora_A/lora_B tensors")
    rank = config.get("r")
    if not config.get("rank_pattern"):
        wrong = sorted(
            m for m, p in pairs.items() if len(p) == 2 and (p["A"].shape[:1] != (rank,) or p["B"].shape[-1:] != (rank,))
        )
        if wrong:
            shapes = {p: list(t.shape) for p, t in pairs[wrong[0]].items()}
            problems.append(f"{len(wrong)} module(s) whose LoRA rank is not r={rank}: {wrong[0]} has {shapes}")
    for ours, theirs in (("r", "r"), ("alpha", "lora_alpha"), ("lora_alpha", "lora_alpha")):
        if ours in method_config and method_config[ours] != config.get(theirs):
            problems.append(
                f"the card's {ours}={method_config[ours]} but adapter_config.json has {theirs}={config.get(theirs)}"
            )
    listed = method_config.get("target_modules")
    if isinstance(listed, list) and isinstance(targets, list) and set(listed) != set(targets):
        problems.append(
            f"the card's target_modules {sorted(listed)} differ from adapter_config.json's {sorted(targets)}"
        )
    return problems


METHOD = LoraMethod(
    name="lora",
    summary="low-rank updates on the body's linear layers",
    settings=LoraSettings,
    default_lr=1e-3,
    peft_type="LORA",
    title="LoRA",
    lr_range=(1e-4, 5e-3),
    serving="bank",
    combine_as="lora",
    vllm=True,
)

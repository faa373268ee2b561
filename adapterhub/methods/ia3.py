"""(IA)³: learned vectors that rescale the keys, the values and the feed-forward's inner activations (PEFT
``IA3Config``).

An adapted attention layer's outputs are multiplied by its vector, an adapted feed-forward layer's inputs by
its own: one number per feature, so an adapter is a few thousand parameters. Hub inference serves it by layer
edits (each scales its own requests' rows), so its rows share a forward pass with LoRA and prefix rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapterhub.compat import ia3_default_targets, ia3_is_feedforward, layer_features, targeted_layers
from adapterhub.errors import ConfigError, IncompatibleAdapter
from adapterhub.methods.method import LayerEdit, Method, Tensor, sample

_BERT = (["key", "value", "output.dense"], ["output.dense"])  # "output.dense": the feed-forward's second layer
_GATED_MLP = (["k_proj", "v_proj", "down_proj"], ["down_proj"])  # Llama's layout
_FUSED_QKV = (["query_key_value", "dense_4h_to_h"], ["dense_4h_to_h"])  # GPT-NeoX, Falcon, BLOOM
# Mixture-of-experts decoders keep their experts' weights as 3-D parameters (transformers 5), not linear layers:
# the attention's keys and values are what there is to rescale.
_MOE = (["k_proj", "v_proj"], [])

# (target modules, feed-forward modules among them) per architecture (``config.model_type``), as in the (IA)³
# paper: keys, values and the feed-forward's second layer (whose input is rescaled). PEFT's own table
# (TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING) is the fallback for architectures missing here.
TARGETS: dict[str, tuple[list[str], list[str]]] = {
    # encoders
    "bert": _BERT,
    "roberta": _BERT,
    "xlm-roberta": _BERT,
    "electra": _BERT,
    "albert": (["key", "value", "ffn_output"], ["ffn_output"]),
    "mpnet": (["k", "v", "output.dense"], ["output.dense"]),
    "distilbert": (["k_lin", "v_lin", "lin2"], ["lin2"]),
    "deberta-v2": (["key_proj", "value_proj", "output.dense"], ["output.dense"]),
    "modernbert": (["Wqkv", "mlp.Wo"], ["mlp.Wo"]),  # fused query/key/value
    # encoder-decoders
    "t5": (["k", "v", "wo"], ["wo"]),
    # decoders
    "gpt2": (["c_attn", "mlp.c_proj"], ["mlp.c_proj"]),
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
    "phi3": (["qkv_proj", "down_proj"], ["down_proj"]),  # fused query/key/value
    "phi": (["k_proj", "v_proj", "fc2"], ["fc2"]),
    "gpt_neox": _FUSED_QKV,
    "falcon": _FUSED_QKV,
    "bloom": _FUSED_QKV,
    "opt": (["k_proj", "v_proj", "fc2"], ["fc2"]),
    "gptj": (["k_proj", "v_proj", "fc_out"], ["fc_out"]),
    "mixtral": _MOE,
    "qwen3_moe": _MOE,
}
_KEY = re.compile(r"^(?P<module>.+)\.ia3_l$")


def ia3_targets(model_type: str) -> tuple[list[str], list[str]]:
    """(target modules, feed-forward modules) for bases of ``model_type``: :data:`TARGETS`, then PEFT's table.

    Raises:
        ConfigError: Neither knows the architecture.
    """
    if model_type in TARGETS:
        targets, feedforward = TARGETS[model_type]
        return list(targets), list(feedforward)
    found = ia3_default_targets(model_type)
    if found is None:
        raise ConfigError(
            f"--method ia3 knows no layers to rescale in {model_type or 'this'} bases (model_type {model_type!r}); "
            "use --method lora"
        )
    return found


@dataclass(frozen=True)
class IA3Settings:
    """(IA)³ has no settings of its own: the layers it rescales follow the base's architecture."""

    def peft_config(self, task_type: str, model: Any) -> Any:
        from peft import IA3Config  # building a model: importing methods stays light

        targets, feedforward = ia3_targets(model.config.model_type)
        return IA3Config(
            task_type=task_type,
            target_modules=targets,
            feedforward_modules=feedforward,
            fan_in_fan_out=model.config.model_type == "gpt2",  # GPT-2's Conv1D stores weights transposed
        )

    def card(self, model: Any) -> dict[str, Any]:
        targets, feedforward = ia3_targets(model.config.model_type)
        return {"target_modules": sorted(targets), "feedforward_modules": sorted(feedforward)}


class _Scale(LayerEdit):
    """One adapted layer: its input (a feed-forward layer) or its output (any other) times a vector."""

    def __init__(self, vector: Any, on_input: bool) -> None:
        self.vector, self.on_input, self.on_output = vector, on_input, not on_input

    def before(self, x: Any) -> Any:
        return (x * self.vector).to(x.dtype)

    def after(self, out: Any) -> Any:
        return (out * self.vector).to(out.dtype)

    def tensors(self) -> list[Any]:
        return [self.vector]

    def to(self, device: Any, dtype: Any = None) -> LayerEdit:
        return _Scale(self.vector.to(device=device, dtype=dtype or self.vector.dtype), self.on_input)


class IA3Method(Method):
    """(IA)³'s answers: the bases it refuses, what its files hold, and its vectors as layer edits."""

    def check_base(self, location: str, instead: str = "") -> None:

        try:
            config = json.loads((Path(location) / "config.json").read_text())
        except (OSError, ValueError):
            return  # checked once the config loads, by IA3Settings
        if isinstance(config, dict):
            try:
                ia3_targets(str(config.get("model_type") or ""))
            except ConfigError as exc:
                raise ConfigError(f"{exc}; {instead}" if instead else str(exc)) from None

    def file_problems(
        self,
        method_config: Mapping[str, Any],
        config: Mapping[str, Any],
        body: Sequence[Tensor],
        base: Mapping[str, Any] | None,
    ) -> list[str]:
        """Every tensor a vector (or a saved module's), every target module with one."""
        saved = [m for m in config.get("modules_to_save") or () if isinstance(m, str)]
        vectors = {m.group("module"): t for t in body if (m := _KEY.match(t.key))}
        problems = []
        if not vectors:
            problems.append("an IA3 adapter without ia3_l vectors")
        others = [t.key for t in body if not _KEY.match(t.key) and not set(saved) & set(t.key.split(".")[:-1])]
        if others:
            problems.append(
                f"{len(others)} tensor(s) that are neither IA3 vectors nor in modules_to_save: {sample(others)}"
            )
        flat = sorted(m for m, t in vectors.items() if len(t.shape) != 2 or 1 not in t.shape)
        if flat:
            problems.append(f"{len(flat)} ia3_l vector(s) not of shape [n, 1] or [1, n]: {sample(flat)}")
        targets = config.get("target_modules")
        if isinstance(targets, list):
            unused = sorted(t for t in targets if not any(m == t or m.endswith(f".{t}") for m in vectors))
            if unused:
                problems.append(f"target module(s) {unused} have no ia3_l vectors")
            listed = method_config.get("target_modules")
            if isinstance(listed, list) and set(listed) != set(targets):
                problems.append(
                    f"the card's target_modules {sorted(listed)} differ from adapter_config.json's {sorted(targets)}"
                )
        return problems

    def layer_edits(self, ref: str, config: Mapping[str, Any], tensors: Mapping[str, Any], root: Any) -> Any:
        from peft import PeftConfig  # serving: importing methods stays light

        peft_config = PeftConfig.from_peft_type(**config)
        targeted = targeted_layers(root, peft_config)
        vectors = {m.group("module"): t for k, t in tensors.items() if (m := _KEY.match(k))}
        unexpected = [k for k in tensors if not _KEY.match(k)] + [f"{p}.ia3_l" for p in vectors if p not in targeted]
        missing = sorted(f"{p}.ia3_l" for p in targeted - set(vectors))
        if missing:
            raise IncompatibleAdapter(
                f"{ref} does not match this base's modules: {len(missing)} missing key(s) {sample(missing)}"
            )
        edits = {}
        for path in sorted(targeted):
            vector = vectors[path]
            n_in, n_out = layer_features(root.get_submodule(path)) or (0, 0)
            feedforward = ia3_is_feedforward(peft_config, path)
            want = (1, n_in) if feedforward else (n_out, 1)
            if tuple(vector.shape) != want:
                raise IncompatibleAdapter(
                    f"{ref}: {path} has an ia3_l vector of shape {tuple(vector.shape)} but the base layer maps "
                    f"{n_in} -> {n_out} (expected {want}); it was made for another base"
                )
            edits[path] = _Scale(vector.flatten(), on_input=feedforward)
        return edits, unexpected


METHOD = IA3Method(
    name="ia3",
    summary="learned vectors that rescale keys, values and feed-forward activations",
    settings=IA3Settings,
    default_lr=1e-2,
    peft_type="IA3",
    title="(IA)³",
    lr_range=(1e-3, 5e-2),
    serving="edits",
    unmergeable=None,
)

"""Prefix tuning: trained key/value vectors prepended at every layer (PEFT ``PrefixTuningConfig``).

A prefix is P virtual tokens' worth of keys and values in every layer's key/value cache, so it has the shape the
base's attention caches: key/value heads (fewer than the query heads under grouped- or multi-query attention)
of the attention's head size (not always hidden / heads). :func:`prefix_layout` says what that shape is for a
base, by PEFT's own rule; training, publish validation and inference all ask it, so an adapter that trains is
one that the registry accepts and the Hub serves. :data:`NO_PREFIX` lists the families whose models take no
key/value cache at all: prefix tuning cannot work on them, and ``hub train --method prefix`` says so at once.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapterhub.errors import ConfigError
from adapterhub.methods.method import Method, Tensor, sample
from adapterhub.typed_fields import type_problems

# model_type -> the family's name, for families whose attention takes no key/value cache (their forward has no
# ``past_key_values``): PEFT's prefix has nowhere to go. DeBERTa and ModernBERT then fail on the longer attention
# mask, ALBERT and MPNet swallow the cache in **kwargs and would train a prefix that changes nothing.
NO_PREFIX: dict[str, str] = {
    "albert": "ALBERT",
    "deberta": "DeBERTa",
    "deberta-v2": "DeBERTa-v2",
    "distilbert": "DistilBERT",
    "modernbert": "ModernBERT",
    "mpnet": "MPNet",
}
INSTEAD = "use --method lora (or --method head)"
# Model types whose prefix PEFT puts in a cache built from the config (``PeftModel.get_prompt``): per-layer cache
# kinds, so sliding-window layers keep their window over prefix and prompt alike.
CONFIG_CACHE_TYPES = ("gemma2", "gemma3_text", "gemma4")


@dataclass(frozen=True)
class PrefixLayout:
    """The shape of one virtual token's keys (and values) in each layer: ``heads`` key/value heads of
    ``head_dim`` each, in each of ``layers`` layers."""

    layers: int
    heads: int
    head_dim: int

    @property
    def token_dim(self) -> int:
        """PEFT's ``token_dim``: the width of one layer's keys for one token."""
        return self.heads * self.head_dim

    def __str__(self) -> str:
        return f"{self.layers} layers x {self.heads} key/value heads x {self.head_dim} dims"


def prefix_layout(config: Mapping[str, Any] | Any) -> PrefixLayout | None:
    """The prefix shape PEFT builds for a base whose config (a transformers config or its ``config.json``) is
    ``config``, following ``_prepare_prompt_learning_config`` in peft.utils.other: ``token_dim`` the hidden size
    and the attention heads; for a config that declares key/value heads (grouped-query attention), those heads
    of ``head_dim`` (else hidden / heads). One family caches otherwise than that rule sizes it: Falcon's
    multi-query attention (``multi_query`` without ``new_decoder_architecture``) caches one key/value head, so
    its prefix has one (training passes it to PEFT explicitly).

    Returns None where the config lacks a size, or where PEFT sizes prefixes per layer (heterogeneous attention,
    ``global_head_dim`` or ``per_layer_config``): hub inference has no single shape to check such a prefix against.
    """
    values = dict(config) if isinstance(config, Mapping) else config.to_dict()
    declared_layers = None if isinstance(config, Mapping) else getattr(config, "num_hidden_layers", None)
    text = values.get("text_config")
    values = text if isinstance(text, Mapping) else values  # a vision-language model: its language model
    layers = declared_layers if isinstance(declared_layers, int) else _first(
        values, "num_hidden_layers", "num_layers", "n_layer"
    )  # fmt: skip
    hidden = _first(values, "hidden_size", "n_embd", "d_model")
    heads = _first(values, "num_attention_heads", "n_head", "num_heads", "encoder_attention_heads")
    if layers is None or hidden is None or not heads:
        return None
    head_dim = hidden // heads
    if "num_key_value_heads" in values:
        if values.get("global_head_dim") is not None or values.get("per_layer_config") is not None:
            return None
        head_dim = values["head_dim"] if values.get("head_dim") is not None else head_dim
        heads = values["num_key_value_heads"] or heads
    elif values.get("model_type") == "falcon" and values.get("multi_query"):
        heads = heads if values.get("new_decoder_architecture") else 1
    return PrefixLayout(layers=layers, heads=heads, head_dim=head_dim)


def prefix_mismatch(adapter_config: Mapping[str, Any], layout: PrefixLayout) -> str | None:
    """How a prefix adapter's ``adapter_config.json`` disagrees with the ``layout`` of the base it is put on, or
    None. A size the config leaves out is the base's (PEFT fills it in from the base when it loads the adapter)."""

    def size(key: str, default: int) -> Any:
        value = adapter_config.get(key)
        return default if value is None else value

    layers, heads, dim = size("num_layers", layout.layers), size("num_attention_heads", layout.heads), size(
        "token_dim", layout.token_dim
    )  # fmt: skip
    if (layers, heads, dim) == (layout.layers, layout.heads, layout.token_dim):
        return None
    per_head = dim // heads if isinstance(dim, int) and isinstance(heads, int) and heads > 0 else "?"
    return f"its prefix is for {layers} layers x {heads} key/value heads x {per_head} dims but the base caches {layout}"


def prefix_refusal(model_type: str, instead: str = INSTEAD) -> str | None:
    """Why prefix tuning cannot work on bases of ``model_type`` (one line ending in ``instead``, what works
    instead), or None."""
    family = NO_PREFIX.get(model_type)
    if family is None:
        return None
    return (
        f"--method prefix does not work on {family} bases (model_type {model_type}): their attention takes no "
        f"key/value cache, so a prefix has nowhere to go; {instead}"
    )


def check_prefix_folder(location: str, instead: str = INSTEAD) -> None:
    """:func:`check_prefix_base` on the ``config.json`` of a base folder, so before any weight loads; a base
    without a local config (a hub id not cached yet) is checked once its config loads, by ``PrefixSettings``."""

    try:
        config = json.loads((Path(location) / "config.json").read_text())
    except (OSError, ValueError):
        return
    if isinstance(config, dict):
        check_prefix_base(config, instead)


def check_prefix_base(config: Mapping[str, Any] | Any, instead: str = INSTEAD) -> None:
    """Refuse a base that prefix tuning cannot train or that hub inference could not serve a prefix on, from
    its config alone (``config.json`` or a transformers config), so before any weight is loaded.

    Raises:
        ConfigError: The family takes no key/value cache, or sizes it per layer.
    """
    values = config if isinstance(config, Mapping) else config.to_dict()
    model_type = str(values.get("model_type") or "")
    refusal = prefix_refusal(model_type, instead)
    if refusal:
        raise ConfigError(refusal)
    if prefix_layout(config) is None:
        raise ConfigError(
            f"--method prefix cannot size a prefix for {model_type or 'this'} bases (no single key/value shape for "
            f"every layer in its config); {instead}"
        )


def takes_cache(model: Any) -> bool:
    """Whether ``model.forward`` takes a key/value cache (PEFT's own test before it passes a prefix)."""
    parameters = inspect.signature(type(model).forward).parameters
    return "past_key_values" in parameters or "cache" in parameters


@dataclass(frozen=True)
class PrefixSettings:
    """Prefix-tuning hyper-parameters."""

    num_virtual_tokens: int = field(
        default=20, metadata={"help": "Prefix tuning: virtual tokens", "flag": "--prefix-tokens"}
    )

    def __post_init__(self) -> None:
        wrong_type = type_problems(type(self), vars(self), lambda _: "--prefix-tokens")
        if wrong_type:
            raise ConfigError("; ".join(wrong_type))
        if self.num_virtual_tokens < 1:
            raise ConfigError(f"--prefix-tokens must be at least 1 (got {self.num_virtual_tokens})")

    def peft_config(self, task_type: str, model: Any) -> Any:
        """PEFT's config for ``model`` (a task model with its ``body``, or a causal LM), sized as the base caches.

        Raises:
            ConfigError: A base prefix tuning cannot work on (see :func:`check_prefix_base`), or one whose model
                takes no key/value cache although its family is not listed in :data:`NO_PREFIX`.
        """
        from peft import PrefixTuningConfig  # peft: loaded on first use

        check_prefix_base(model.config)
        body = getattr(model, "body", model)  # a task model passes the prefix on to its body
        if not takes_cache(body):
            raise ConfigError(
                f"--method prefix does not work on {model.config.model_type} bases: {type(body).__name__} takes no "
                f"key/value cache, so a prefix has nowhere to go; {INSTEAD}"
            )
        layout = prefix_layout(model.config)
        assert layout is not None  # check_prefix_base refused the rest
        return PrefixTuningConfig(
            task_type=task_type,
            num_virtual_tokens=self.num_virtual_tokens,
            num_layers=layout.layers,
            token_dim=layout.token_dim,
            num_attention_heads=layout.heads,
        )

    def card(self, model: Any) -> dict[str, Any]:
        return {"num_virtual_tokens": self.num_virtual_tokens}


def _first(config: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        if isinstance(config.get(key), int) and not isinstance(config.get(key), bool):
            return config[key]
    return None


class PrefixMethod(Method):
    """Prefix tuning's answers: the bases it refuses, its virtual tokens, its search space, its files."""

    def check_base(self, location: str, instead: str = "") -> None:
        check_prefix_folder(location, instead or INSTEAD)

    def virtual_tokens(self, settings: Any) -> int:
        return settings.num_virtual_tokens

    def search(self, trial: Any) -> dict[str, Any]:
        return {"prefix_tokens": trial.suggest_categorical("prefix_tokens", [10, 20, 40])}

    def file_problems(
        self,
        method_config: Mapping[str, Any],
        config: Mapping[str, Any],
        body: Sequence[Tensor],
        base: Mapping[str, Any] | None,
    ) -> list[str]:
        """The prompt embeddings alone, sized by the config, on a base that caches keys and values of the
        shape PEFT sizes the prefix for."""
        problems = []
        tokens, layers, dim = (config.get(k) for k in ("num_virtual_tokens", "num_layers", "token_dim"))
        embeddings = next((t for t in body if t.key == "prompt_embeddings"), None)
        if embeddings is None:
            problems.append("a prefix adapter without prompt_embeddings")
        elif embeddings.shape[:1] != (tokens,):
            problems.append(f"prompt_embeddings has shape {list(embeddings.shape)} but num_virtual_tokens is {tokens}")
        elif isinstance(layers, int) and isinstance(dim, int) and embeddings.shape[1:] != (layers * 2 * dim,):
            problems.append(
                f"prompt_embeddings has shape {list(embeddings.shape)}, expected [{tokens}, {layers * 2 * dim}] "
                f"for {layers} layers of {dim} dims"
            )
        others = [t.key for t in body if t.key != "prompt_embeddings"]
        if others:
            problems.append(f"{len(others)} tensor(s) a prefix adapter does not have: {sample(others)}")
        if "num_virtual_tokens" in method_config and method_config["num_virtual_tokens"] != tokens:
            problems.append(
                f"the card's num_virtual_tokens={method_config['num_virtual_tokens']} but adapter_config.json "
                f"has {tokens}"
            )
        family = NO_PREFIX.get(str((base or {}).get("model_type") or ""))
        if family:
            problems.append(
                f"a prefix adapter on a {family} base, whose attention takes no key/value cache to put it in"
            )
        layout = prefix_layout(base) if base is not None else None
        mismatch = prefix_mismatch(config, layout) if layout is not None else None
        if mismatch:
            problems.append(f"{mismatch} (as PEFT sizes prefixes for it)")
        return problems


METHOD = PrefixMethod(
    name="prefix",
    summary="trained key/value vectors prepended at every layer",
    settings=PrefixSettings,
    default_lr=1e-2,
    peft_type="PREFIX_TUNING",
    title="prefix-tuning",
    serving="cache",
    unmergeable="a prefix-tuning adapter: its virtual tokens are not a weight update",
    generate_by_hand=True,
)

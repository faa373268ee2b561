"""Putting a registry adapter on a base model, refusing every mismatch instead of falling back silently."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapterhub.base import fingerprint, load_base
from adapterhub.compat import prompt_encoder_key
from adapterhub.errors import AdapterHubError, IncompatibleAdapter
from adapterhub.export.peft import HEAD_KINDS, is_task_model_layout

if TYPE_CHECKING:
    import torch

    from adapterhub.registry import AdapterRecord, LoadedAdapter


def attach(
    model: torch.nn.Module, adapter: LoadedAdapter, adapter_name: str = "default", base_fingerprint: str | None = None
) -> torch.nn.Module:
    """Return a ``PeftModel`` of ``model`` with ``adapter`` loaded as ``adapter_name`` and active.

    ``model`` may be a plain transformers model or a ``PeftModel`` that already holds other adapters; it must be
    in the layout the adapter was saved from, which :func:`load_base_for` builds (adapterhub's task model for the
    classifiers and taggers ``hub train`` makes). Raises :class:`IncompatibleAdapter`, in one line naming the
    adapter and what did not fit, when the base's fingerprint differs from the card's, when the model has another
    layout, or when PEFT cannot load the adapter's config, keys or shapes onto it. ``base_fingerprint`` may be
    passed by callers that already computed it for this base.
    """
    from peft import PeftConfig, PeftModel, get_peft_model, set_peft_model_state_dict  # peft: loaded on first use

    record = adapter.record
    require_base(record, base_fingerprint or fingerprint(model))
    _require_layout(model, adapter)
    added = False
    try:
        config = PeftConfig.from_peft_type(**adapter.config)
        config.inference_mode = True
        config.base_model_name_or_path = None  # the card names the base; PEFT would warn that the model is unnamed
        if isinstance(model, PeftModel):
            model.add_adapter(adapter_name, config)
        else:
            model = get_peft_model(model, config, adapter_name=adapter_name)
        added = True
        result = set_peft_model_state_dict(model, adapter.tensors, adapter_name=adapter_name)
    except Exception as exc:  # PEFT's KeyError, RuntimeError (shapes), ValueError, TypeError (config fields)…
        if isinstance(exc, AdapterHubError) or type(exc).__name__ == "OutOfMemoryError":
            raise
        if added:
            _drop(model, adapter_name)
        raise IncompatibleAdapter(f"{record.ref} does not fit this {_kind(model)}: {_detail(exc)}") from exc
    marker = f".{adapter_name}."
    missing = [k for k in result.missing_keys if marker in k or k.endswith(f".{adapter_name}")]
    unexpected = list(result.unexpected_keys)
    if config.is_prompt_learning:  # PEFT loads the prompt encoder from "prompt_embeddings" itself, shape-checked
        missing = [k for k in missing if not k.startswith(prompt_encoder_key(adapter_name))]
        unexpected = [k for k in unexpected if k != "prompt_embeddings"]
    if missing or unexpected:
        _drop(model, adapter_name)
        raise IncompatibleAdapter(
            f"{record.ref} does not match this base's modules: {len(missing)} missing key(s) "
            f"{key_sample(missing)}, {len(unexpected)} unexpected key(s) {key_sample(unexpected)}; "
            f"it was made for {record.card.base.id!r}"
        )
    model.set_adapter(adapter_name)
    model.requires_grad_(False)
    return model.eval()


def load_base_for(adapter: LoadedAdapter, quantize: str | None = None) -> torch.nn.Module:
    """The base named by ``adapter``'s card, frozen and in eval mode, in the layout the adapter was saved from.

    That is adapterhub's task model (``body`` + ``classifier``, pooled as the base was trained) for the
    classifiers and taggers ``hub train`` makes, and the transformers class of the adapter's task type otherwise
    (``AutoModelForCausalLM`` for ``generate``; the imported adapter's own head class).

    Example:
        >>> loaded = Registry().load("sentiment")
        >>> model = attach(load_base_for(loaded), loaded)
    """

    card = adapter.record.card
    if is_task_model_layout(card.task_type, adapter.tensors):
        from adapterhub.models import build_task_model  # loads torch: on first use

        kind = HEAD_KINDS[card.task_type]
        return build_task_model(card.base.id, len(card.labels), kind, 0.0, quantize).eval()  # type: ignore[arg-type]
    return load_base(card.base.id, card.task_type, num_labels=len(card.labels) or None, quantize=quantize)


def _require_layout(model: torch.nn.Module, adapter: LoadedAdapter) -> None:
    """Refuse a task-model adapter on a transformers model (whose head PEFT would look for under another name)."""
    from adapterhub.models import TaskModel  # loads torch: on first use

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    card = adapter.record.card
    if is_task_model_layout(card.task_type, adapter.tensors) and not isinstance(inner, TaskModel):
        raise IncompatibleAdapter(
            f"{adapter.record.ref} is a {card.task} adapter saved on adapterhub's task model (the base's body and a "
            f"classifier head), not on a {type(inner).__name__}; put it on "
            f"adapterhub.load_base_for(loaded), or use `hub export` for plain transformers + PEFT"
        )


def _kind(model: torch.nn.Module) -> str:
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return type(inner).__name__


def _detail(exc: BaseException) -> str:
    """One line of what PEFT or torch said: a size mismatch when there is one, else the first line."""
    lines = [" ".join(x.split()) for x in str(exc).splitlines() if x.strip()]
    detail = next((x for x in lines if "size mismatch" in x), lines[0] if lines else "")
    if isinstance(exc, KeyError):
        detail = f"it has no module for key {detail}"
    return f"{detail} ({type(exc).__name__})" if detail else type(exc).__name__


def require_base(record: AdapterRecord, actual: str) -> None:
    """Raise :class:`IncompatibleAdapter` unless ``actual`` (a base fingerprint) is the one in the card."""
    expected = record.card.base.fingerprint
    if expected != actual:
        raise IncompatibleAdapter(
            f"{record.ref} was trained on base {record.card.base.id!r} ({expected[:19]}…), but this base's "
            f"weights are {actual[:19]}…; it cannot run on this base: load it with the base it was made for "
            f"(`hub show {record.ref}`)"
        )


def _drop(model: torch.nn.Module, adapter_name: str) -> None:
    if len(getattr(model, "peft_config", {})) > 1:
        model.delete_adapter(adapter_name)


def key_sample(keys: list[str]) -> str:
    """The first three keys, for error messages."""
    return "[" + ", ".join(keys[:3]) + (", …" if len(keys) > 3 else "") + "]"

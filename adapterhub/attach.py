"""Putting a registry adapter on a base model, refusing every mismatch instead of falling back silently."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapterhub.base import fingerprint
from adapterhub.errors import IncompatibleAdapter

if TYPE_CHECKING:
    import torch

    from adapterhub.registry import AdapterRecord, LoadedAdapter


def attach(
    model: torch.nn.Module, adapter: LoadedAdapter, adapter_name: str = "default", base_fingerprint: str | None = None
) -> torch.nn.Module:
    """Return a ``PeftModel`` of ``model`` with ``adapter`` loaded as ``adapter_name`` and active.

    ``model`` may be a plain transformers model or a ``PeftModel`` that already holds other adapters.
    Raises :class:`IncompatibleAdapter` when the base's fingerprint differs from the card's, or when the
    adapter's tensor keys or shapes do not match the modules the base has. ``base_fingerprint`` may be passed
    by callers that already computed it for this base.
    """
    from peft import PeftConfig, PeftModel, get_peft_model, set_peft_model_state_dict

    record = adapter.record
    require_base(record, base_fingerprint or fingerprint(model))
    config = PeftConfig.from_peft_type(**adapter.config)
    config.inference_mode = True
    config.base_model_name_or_path = None  # the card names the base; PEFT would warn that the model is unnamed
    if isinstance(model, PeftModel):
        model.add_adapter(adapter_name, config)
    else:
        model = get_peft_model(model, config, adapter_name=adapter_name)
    try:
        result = set_peft_model_state_dict(model, adapter.tensors, adapter_name=adapter_name)
    except (RuntimeError, KeyError) as exc:  # shape mismatches; a head saved under another layout's name
        _drop(model, adapter_name)
        lines = [x.strip() for x in str(exc).splitlines() if x.strip()]
        detail = next((x for x in lines if "size mismatch" in x), lines[0] if lines else repr(exc))
        raise IncompatibleAdapter(f"{record.ref} does not fit this base: {detail}") from exc
    marker = f".{adapter_name}."
    missing = [k for k in result.missing_keys if marker in k or k.endswith(f".{adapter_name}")]
    unexpected = list(result.unexpected_keys)
    if config.is_prompt_learning:  # PEFT loads the prompt encoder from "prompt_embeddings" itself, shape-checked
        missing = [k for k in missing if not k.startswith(f"prompt_encoder.{adapter_name}.")]
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

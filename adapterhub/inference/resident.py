"""An adapter made ready for inference on one base: LoRA factors per module, prefix key/values, layer edits
(for a method whose :attr:`~adapterhub.methods.method.Method.serving` is ``"edits"``), task head.

Parsing checks the adapter against the base it will run on and refuses every mismatch (a tensor for a module
the base lacks, a targeted module without tensors, wrong shapes, a head of the wrong width): a mismatched
adapter must never run as if it were the base.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from adapterhub.compat import layer_features, targeted_layers
from adapterhub.errors import IncompatibleAdapter
from adapterhub.export.attach import key_sample
from adapterhub.methods import METHODS, for_peft_type
from adapterhub.methods.method import LayerEdit
from adapterhub.methods.prefix import NO_PREFIX, prefix_layout, prefix_mismatch
from adapterhub.tasks import task_for

if TYPE_CHECKING:
    from adapterhub.registry import AdapterRecord, LoadedAdapter

_LORA_KEY = re.compile(r"^(?P<module>.+)\.lora_(?P<part>A|B)\.weight$")
_HEAD_KEY = re.compile(r"^classifier\.1\.(?P<part>weight|bias)$")
_PREFIX_KEY = "prompt_embeddings"
_UNSUPPORTED = {
    "use_dora": "DoRA",
    "lora_bias": "LoRA bias terms",
}


@dataclass(frozen=True)
class LoraFactors:
    """One adapted layer: ``delta(x) = x @ a.T @ b_t`` with the LoRA scale already folded into ``b_t``.

    Both are stored row-major as the products read them: ``a`` as PEFT's ``lora_A`` (r, in), ``b_t`` as the
    transpose of PEFT's ``lora_B`` (r, out), so stacking several adapters copies contiguous memory.
    """

    a: torch.Tensor  # (r, in)
    b_t: torch.Tensor  # (r, out)

    @property
    def rank(self) -> int:
        return self.a.shape[0]


@dataclass
class ResidentAdapter:
    """A verified adapter in the form the engine runs, on its base's device and dtype."""

    record: AdapterRecord
    lora: dict[str, LoraFactors] = field(default_factory=dict)  # module path (relative to the host root) ->
    prefix: torch.Tensor | None = None  # (layers, 2, key/value heads, P, head_dim)
    head: tuple[torch.Tensor, torch.Tensor] | None = None  # weight (C, H), bias (C,)
    edits: dict[str, LayerEdit] = field(default_factory=dict)  # module path -> what it does to its rows there

    @property
    def ref(self) -> str:
        return self.record.ref

    @property
    def identity(self) -> str:
        """The content hash of its files: a name re-published with other bytes is another adapter."""
        return self.record.card.content_hash

    @property
    def task(self) -> str:
        return self.record.card.task

    @property
    def task_type(self) -> str:
        return self.record.card.task_type

    @property
    def labels(self) -> tuple[str, ...]:
        return self.record.card.labels

    @property
    def prefix_length(self) -> int:
        return 0 if self.prefix is None else int(self.prefix.shape[3])

    @property
    def max_length(self) -> int:
        return self.record.card.inference.max_length

    def tensors(self) -> list[torch.Tensor]:
        out = [t for f in self.lora.values() for t in (f.a, f.b_t)]
        out += [self.prefix] if self.prefix is not None else []
        out += list(self.head) if self.head is not None else []
        out += [t for edit in self.edits.values() for t in edit.tensors()]
        return out

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.tensors())

    @property
    def device(self) -> torch.device:
        return self.tensors()[0].device if self.tensors() else torch.device("cpu")

    def to(self, device: torch.device | str) -> ResidentAdapter:
        """The same adapter with its tensors on ``device`` (itself when they are there already)."""
        device = torch.device(device)
        if self.device == device:
            return self
        return ResidentAdapter(
            record=self.record,
            lora={p: LoraFactors(f.a.to(device), f.b_t.to(device)) for p, f in self.lora.items()},
            prefix=None if self.prefix is None else self.prefix.to(device),
            head=None if self.head is None else (self.head[0].to(device), self.head[1].to(device)),
            edits={p: edit.to(device) for p, edit in self.edits.items()},
        )


def parse_adapter(
    loaded: LoadedAdapter, root: nn.Module, *, device: torch.device, dtype: torch.dtype
) -> ResidentAdapter:
    """Turn a registry adapter into a :class:`ResidentAdapter` for the base ``root`` (the training layout:
    ``body`` + ``classifier`` for task models, the causal LM itself for generation)."""
    record, config = loaded.record, loaded.config
    for key, what in _UNSUPPORTED.items():
        if config.get(key):
            raise IncompatibleAdapter(f"{record.ref} uses {what}, which hub inference does not run; retrain with LoRA")
    peft_type = str(config.get("peft_type", ""))
    tensors = {_strip(k): v for k, v in loaded.tensors.items()}
    adapter = ResidentAdapter(record=record)
    unexpected: list[str] = []
    move = {"device": device, "dtype": dtype}

    head = {m.group("part"): t for k, t in tensors.items() if (m := _HEAD_KEY.match(k))}
    if task_for(record.card).has_head:
        if "weight" not in head or "bias" not in head:
            raise IncompatibleAdapter(
                f"{record.ref} is a {record.card.task} adapter without its task head (classifier.1.weight/bias); "
                "hub inference serves adapters trained with `hub train`"
            )
        width = len(record.card.labels)
        if head["weight"].shape[0] != width or head["weight"].shape[1] != root.config.hidden_size:
            raise IncompatibleAdapter(
                f"{record.ref}: its head is {tuple(head['weight'].shape)} but the card has {width} labels and the "
                f"base's hidden size is {root.config.hidden_size}"
            )
        adapter.head = (head["weight"].to(**move), head["bias"].to(**move))
    elif head:
        unexpected += [k for k in tensors if _HEAD_KEY.match(k)]

    method = METHODS.get(record.card.method)
    if method is None or method.peft_type != peft_type:
        method = for_peft_type(peft_type)
    if method is None:
        served = list(dict.fromkeys(m.peft_type for m in METHODS.values()))
        raise IncompatibleAdapter(
            f"{record.ref} is a {peft_type or 'unknown'} adapter; hub inference runs "
            f"{', '.join(served[:-1])} and {served[-1]} adapters"
        )
    if method.serving == "bank":
        adapter.lora, bad = _lora(record.ref, config, tensors, root, move)
        unexpected += bad
    elif method.serving == "cache":
        adapter.prefix = _prefix(record.ref, config, tensors.get(_PREFIX_KEY), root.config).to(**move)
        unexpected += [k for k in tensors if k != _PREFIX_KEY and not _HEAD_KEY.match(k)]
    else:
        body = {k: t for k, t in tensors.items() if not _HEAD_KEY.match(k)}
        edits, bad = method.layer_edits(record.ref, config, body, root)
        adapter.edits = {path: edit.to(device, dtype) for path, edit in edits.items()}
        unexpected += bad
    if unexpected:
        raise IncompatibleAdapter(
            f"{record.ref} does not match base {record.card.base.id!r}: {len(unexpected)} unexpected key(s) "
            f"{key_sample(unexpected)}"
        )
    return adapter


def _strip(key: str) -> str:
    for prefix in ("base_model.model.", "base_model."):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def _lora(
    ref: str, config: dict[str, Any], tensors: dict[str, torch.Tensor], root: nn.Module, move: dict[str, Any]
) -> tuple[dict[str, LoraFactors], list[str]]:
    from peft import PeftConfig  # peft: loaded on first use

    pairs: dict[str, dict[str, torch.Tensor]] = {}
    unexpected = []
    for key, tensor in tensors.items():
        if match := _LORA_KEY.match(key):
            pairs.setdefault(match.group("module"), {})[match.group("part")] = tensor
        elif not _HEAD_KEY.match(key):
            unexpected.append(key)
    peft_config = PeftConfig.from_peft_type(**config)
    targeted = targeted_layers(root, peft_config)
    missing = sorted(f"{m}.lora_{p}.weight" for m in targeted for p in "AB" if p not in pairs.get(m, {}))
    factors = {}
    for path, pair in pairs.items():
        if path not in targeted:
            unexpected += [f"{path}.lora_{p}.weight" for p in pair]
            continue
        if len(pair) < 2:
            continue  # reported as missing above
        a, b = pair["A"], pair["B"]
        n_in, n_out = layer_features(root.get_submodule(path))
        if a.shape[1] != n_in or b.shape[0] != n_out or a.shape[0] != b.shape[1]:
            raise IncompatibleAdapter(
                f"{ref}: {path} has LoRA shapes A{tuple(a.shape)} B{tuple(b.shape)} but the base layer maps "
                f"{n_in} -> {n_out}; it was made for another base"
            )
        if not torch.any(b):
            continue  # a zero update (e.g. the frozen pair of a head-only adapter) adds nothing
        scale = _scale(config, path, a.shape[0])
        factors[path] = LoraFactors(a=a.to(**move).contiguous(), b_t=(b.float() * scale).t().to(**move).contiguous())
    if missing:
        raise IncompatibleAdapter(
            f"{ref} does not match this base's modules: {len(missing)} missing key(s) {key_sample(missing)}"
        )
    return factors, unexpected


def _scale(config: dict[str, Any], path: str, rank: int) -> float:
    alpha = config.get("lora_alpha", 8)
    for pattern, value in (config.get("alpha_pattern") or {}).items():
        if re.match(rf"(.*\.)?({pattern})$", path):
            alpha = value
            break
    return alpha / rank**0.5 if config.get("use_rslora") else alpha / rank


def _prefix(ref: str, config: dict[str, Any], embeddings: torch.Tensor | None, base_config: Any) -> torch.Tensor:
    """The prefix as (layers, 2, key/value heads, P, head_dim), reshaped as PEFT's ``get_prompt`` does, after
    checking that the base's attention caches keys and values of that shape."""
    model_type = str(getattr(base_config, "model_type", "") or "")
    if model_type in NO_PREFIX:
        raise IncompatibleAdapter(
            f"{ref} is a prefix adapter, but {NO_PREFIX[model_type]} bases take no key/value cache, so its prefix "
            "would change nothing; retrain it with --method lora"
        )
    if embeddings is None:
        raise IncompatibleAdapter(f"{ref} is a prefix adapter without prompt_embeddings; the file is incomplete")
    layout = prefix_layout(base_config)
    if layout is None:
        raise IncompatibleAdapter(
            f"{ref}: base type {model_type or '?'} caches keys and values of different shapes in different layers; "
            "hub inference serves prefixes only where every layer caches one shape (retrain with --method lora)"
        )
    mismatch = prefix_mismatch(config, layout)
    if mismatch or int(config.get("num_transformer_submodules") or 1) != 1:
        raise IncompatibleAdapter(f"{ref}: {mismatch or 'its prefix is for an encoder-decoder model'}")
    tokens = embeddings.shape[0]
    width = layout.layers * 2 * layout.token_dim
    if embeddings.dim() != 2 or embeddings.shape[1] != width:
        raise IncompatibleAdapter(f"{ref}: prompt_embeddings is {tuple(embeddings.shape)}, expected (P, {width})")
    # (P, L*2*dim) -> (P, L*2, heads, head_dim) -> (L*2, heads, P, head_dim) -> (L, 2, heads, P, head_dim)
    kv = embeddings.view(tokens, layout.layers * 2, layout.heads, layout.head_dim).permute(1, 2, 0, 3)
    return kv.reshape(layout.layers, 2, layout.heads, tokens, layout.head_dim).contiguous()

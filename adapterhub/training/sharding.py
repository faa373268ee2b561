"""FSDP for bases too large for one device: every process holds a shard of each weight, adapter included.

Sharding is PyTorch's own FSDP2 (``fully_shard``): each transformer block is one unit (the classes the model
names in ``_no_split_modules``), then the whole model, on a one-dimensional mesh over all processes. It runs the
same on CUDA (NCCL) and on CPU processes (gloo), so the path the tests take is the path GPUs take.
Gradients are averaged over processes as under DDP, so the loop's loss weighting holds unchanged.

A sharded forward pass is a collective operation: every process runs every evaluation batch. The weights are
gathered one tensor at a time when they must be whole (the base fingerprint, the adapter to publish).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from adapterhub.compat import PEFT_PARTS
from adapterhub.errors import ConfigError

if TYPE_CHECKING:  # torch is imported where it is used: the settings checks above need none of it
    import torch


def fsdp_requested(fsdp_flag: bool) -> bool:
    """``--fsdp``, or an accelerate config with ``distributed_type: FSDP`` (``accelerate launch`` says so in
    ``ACCELERATE_USE_FSDP``)."""
    return fsdp_flag or os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"


def check_fsdp_settings(quantize: str | None) -> None:
    """Refuse what this FSDP path does not do, before any data is read."""
    if quantize:
        raise ConfigError(
            "--quantize and FSDP do not combine here: a quantized base already fits one GPU; drop --fsdp "
            "(or the FSDP accelerate config) and train data parallel"
        )
    for key in ("FSDP_OFFLOAD_PARAMS", "FSDP_ACTIVATION_CHECKPOINTING"):
        if os.environ.get(key, "false").lower() == "true":
            raise ConfigError(f"{key.lower()} is not supported here; set it to false in the accelerate config")
    if os.environ.get("FSDP_VERSION", "2") not in ("", "2"):
        raise ConfigError("adapterhub shards with FSDP2; set fsdp_version: 2 in the accelerate config")


@contextlib.contextmanager
def accelerate_without_fsdp() -> Iterator[None]:
    """accelerate would shard the model itself when preparing it; here the loop shards it and accelerate
    handles processes, autocast and the optimizer only."""
    saved = os.environ.pop("ACCELERATE_USE_FSDP", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["ACCELERATE_USE_FSDP"] = saved


def shard(model: torch.nn.Module, device: torch.device) -> None:
    """Shard ``model`` (a PeftModel) in place over all processes, block by block, then as a whole."""
    import torch  # torch: loaded on first use
    from torch.distributed.device_mesh import init_device_mesh  # torch: loaded on first use
    from torch.distributed.fsdp import fully_shard  # torch: loaded on first use

    world = torch.distributed.get_world_size()
    modules = list(model.modules())
    # transformers models name their blocks; task models wrap a transformers body, so look at every module
    block_names = {name for m in modules for name in (getattr(m, "_no_split_modules", None) or ())}
    blocks = [m for m in modules if type(m).__name__ in block_names]
    if not blocks:
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        raise ConfigError(
            f"FSDP needs the model's transformer blocks, and {type(base).__name__} names none "
            "(_no_split_modules); train data parallel instead (drop --fsdp)"
        )
    mesh = init_device_mesh(device.type, (world,))
    # accelerate's fsdp_reshard_after_forward: false keeps each block whole between forward and backward
    reshard = os.environ.get("FSDP_RESHARD_AFTER_FORWARD", "true").lower() != "false"
    for block in blocks:
        fully_shard(block, mesh=mesh, reshard_after_forward=reshard)
    # a block's weights can also be reachable outside it (PEFT's prompt methods keep a second handle on the
    # word embeddings): they stay with the block that already shards them
    taken = {p for p in model.parameters() if is_distributed_tensor(p)}
    fully_shard(model, mesh=mesh, reshard_after_forward=reshard, ignored_params=taken)


def is_sharded(model: torch.nn.Module) -> bool:
    return any(is_distributed_tensor(p) for p in model.parameters())


def is_distributed_tensor(value: Any) -> bool:
    from torch.distributed.tensor import DTensor  # torch: loaded on first use

    return isinstance(value, DTensor)


def whole(value: torch.Tensor) -> torch.Tensor:
    """The full tensor behind a shard (a collective call: every process must ask, in the same order)."""
    return value.full_tensor() if is_distributed_tensor(value) else value


def gather_adapter(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The adapter's weights (trainable or not: the head method keeps LoRA matrices frozen) and the head,
    whole and on the CPU, on every process."""
    return {
        n: whole(p.detach()).cpu()
        for n, p in model.named_parameters()
        if p.requires_grad or any(part in n for part in PEFT_PARTS)
    }

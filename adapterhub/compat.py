"""Every use of what PEFT, transformers and accelerate do not promise as public API, in one module.

A new release of one of them can change any of these without notice, so each one sits here, once, with what it
works around and the releases it was last checked against (``CHECKED``); ``tests/test_compat.py`` tests each
one against the installed releases. Nothing outside this module imports a private (``_``-prefixed) name of
these libraries, or a name from inside their packages that their documentation does not give; a test greps
the tree for that. What our own wrapper model gives PEFT (``TaskModel``) is spelled out on that class.
"""

from __future__ import annotations

import functools
from typing import Any

# The releases every touch below was checked against: the oldest (the floors in pyproject.toml) and the
# newest (locks/lock.txt and `scripts/test.sh --newest`).
CHECKED: dict[str, tuple[str, str]] = {
    "peft": ("0.21.0", "0.22.0"),
    "transformers": ("5.23.0", "5.25.0"),
    "accelerate": ("1.0.0", "1.16.0"),
}

# The names PEFT's tuners give what they add to a model: LoRA factors, trained copies of whole modules (the task
# head), the prefix encoder, and LoRA's trainable token embeddings. Stable since PEFT 0.12 and used by PEFT's
# own state-dict code; not exported as a constant.
PEFT_PARTS = ("lora_", "modules_to_save.", "prompt_encoder", "word_embeddings_adapter")


@functools.cache
def peft_cache_keyword() -> str:
    """The keyword PEFT hands a prefix's key/values to the model by.

    PEFT 0.22 and transformers 5.24 renamed it from ``past_key_values`` to ``cache``; PEFT then checks the
    model's ``forward`` signature for that name and, when it is missing, calls the model's backbone itself and
    reads ``num_labels`` off the model. Older PEFT has no helper and always uses ``past_key_values``.
    """
    try:
        from peft.import_utils import get_transformers_cache_name  # peft >= 0.22
    except ImportError:
        return "past_key_values"
    return str(get_transformers_cache_name())


def lora_default_targets(model_type: str) -> list[str] | None:
    """PEFT's default LoRA target modules for a transformers ``model_type``, or None when it has none.

    The table lives in ``peft.utils.constants`` (public module, undocumented constant; present since 0.3).
    """
    from peft.utils.constants import (  # peft: loaded on first use
        TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as table,
    )

    found = table.get(model_type)
    return list(found) if found else None


def module_is_targeted(peft_config: Any, name: str) -> bool:
    """Whether PEFT would adapt the module called ``name`` under ``peft_config`` (its own matching rules:
    lists match name suffixes, strings are regexes, ``layers_to_transform`` limits the blocks)."""
    from peft.tuners.tuners_utils import check_target_module_exists  # peft: loaded on first use

    return bool(check_target_module_exists(peft_config, name))


def ia3_default_targets(model_type: str) -> tuple[list[str], list[str]] | None:
    """PEFT's default IA³ target modules and, of those, its feed-forward ones for a transformers ``model_type``,
    or None when it has none. The tables live in ``peft.utils.constants`` (public module, undocumented
    constants; present since 0.4)."""
    from peft.utils.constants import (  # peft: loaded on first use
        TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING as feedforward,
    )
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING as targets  # peft: ditto

    if model_type not in targets:
        return None
    return list(targets[model_type]), list(feedforward.get(model_type, []))


def ia3_is_feedforward(peft_config: Any, name: str) -> bool:
    """Whether PEFT rescales the input (a feed-forward layer) rather than the output of the module called
    ``name`` under an IA³ ``peft_config``: ``IA3Model._check_target_module_feedforward``, the rule PEFT itself
    applies when it builds the layer."""
    from peft.tuners.ia3 import IA3Model  # peft: loaded on first use

    return bool(IA3Model._check_target_module_feedforward(peft_config, name))


def tuner_layer_type() -> type:
    """The base class of every layer a PEFT tuner wraps (LoRA, IA³, ...): ``peft.tuners.tuners_utils.BaseTunerLayer``,
    whose ``base_layer`` holds the layer it wrapped."""
    from peft.tuners.tuners_utils import BaseTunerLayer  # peft: loaded on first use

    return BaseTunerLayer


def layer_features(module: Any) -> tuple[int, int] | None:
    """(in, out) of a layer an adapter can change: a Linear (also bitsandbytes') or transformers' ``Conv1D``
    (GPT-2's transposed linear, whose output width is its ``nf``); None for any other module."""
    if hasattr(module, "in_features") and hasattr(module, "out_features"):
        return int(module.in_features), int(module.out_features)
    if type(module).__name__ == "Conv1D" and hasattr(module, "nf"):
        return int(module.weight.shape[0]), int(module.nf)
    return None


def targeted_layers(root: Any, peft_config: Any) -> set[str]:
    """The names of the layers of ``root`` (the base body) that PEFT adapts under ``peft_config``: linear layers
    its rules match, the task head (``classifier``) aside."""
    return {
        name
        for name, module in root.named_modules()
        if name
        and layer_features(module)
        and not name.startswith("classifier")
        and module_is_targeted(peft_config, name)
    }


def reset_accelerate_state() -> None:
    """Forget accelerate's process-wide settings (mixed precision, gradient accumulation) before a new run.

    accelerate keeps them in singletons and refuses a second ``Accelerator`` with other settings in one process
    (a notebook, ``hub tune``). transformers' Trainer resets them the same way; the process group stays.
    """
    from accelerate.state import AcceleratorState, GradientState  # accelerate: loaded on first use

    AcceleratorState._reset_state()
    GradientState._reset_state()


def import_dynamo_first() -> None:
    """Import ``torch._dynamo`` before a process group exists.

    Imported after it (optimizers import it), dynamo keeps the group alive past ``destroy_process_group``: its
    gloo threads then outlive the interpreter and can abort the process at exit after a successful run
    ("terminate called without an active exception").
    """
    import torch._dynamo  # noqa: F401


def linear_layer_types() -> tuple[type, ...]:
    """The layer classes LoRA adapts: ``nn.Linear`` and transformers' ``Conv1D`` (GPT-2's transposed linear,
    from ``transformers.pytorch_utils``, the module PEFT imports it from)."""
    from torch import nn  # torch: loaded on first use
    from transformers.pytorch_utils import Conv1D  # transformers: loaded on first use

    return (nn.Linear, Conv1D)


def prompt_encoder_key(adapter_name: str) -> str:
    """The state-dict prefix of a prompt-learning adapter's encoder in a ``PeftModel`` (PEFT fills it from the
    saved ``prompt_embeddings`` tensor itself, shape-checked, so it is never a missing key of ours)."""
    return f"prompt_encoder.{adapter_name}."


# Forward passes we compute ourselves instead of calling PEFT's, for many adapters in one batch. A PEFT or
# transformers release that changes its own computation changes what these must equal; each is tested against
# plain PEFT on the installed releases by the tests named here.
REIMPLEMENTED: dict[str, tuple[str, ...]] = {
    "LoRA update x @ A.T @ B.T * scale per row (inference/lora_bank.py), as peft.tuners.lora.Linear.forward": (
        "tests/inference/test_predict.py::test_classification_equals_peft",
        "tests/inference/test_predict.py::test_generation_equals_peft_greedy",
        "tests/inference/test_predict.py::test_mixed_batch_equals_each_adapter_alone_in_order",
    ),
    "prefix key/values per row (inference/prefix_cache.py, inference/resident.py), as PeftModel.get_prompt": (
        "tests/inference/test_prefix_families.py::test_a_decoder_prefix_generates_what_peft_does_alone_and_mixed_with_lora",
        "tests/inference/test_prefix_families.py::test_an_encoder_prefix_classifies_as_peft_does_alone_and_mixed_with_lora",
        "tests/inference/test_prefix_families.py::test_prefixes_of_different_lengths_and_lora_rows_decode_in_one_pass_as_peft_does",
    ),
    "greedy and sampled decoding with a prefix (inference/decoding.py), as model.generate on a PeftModel": (
        "tests/inference/test_predict.py::test_generation_equals_peft_greedy",
        "tests/inference/test_prefix_families.py::test_a_prefix_longer_than_the_sliding_window_is_served_as_peft_does",
    ),
}

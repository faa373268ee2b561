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
    "peft": ("0.20.0", "0.22.0"),
    "transformers": ("5.18.0", "5.25.0"),
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
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as table

    found = table.get(model_type)
    return list(found) if found else None


def module_is_targeted(peft_config: Any, name: str) -> bool:
    """Whether PEFT would adapt the module called ``name`` under ``peft_config`` (its own matching rules:
    lists match name suffixes, strings are regexes, ``layers_to_transform`` limits the blocks)."""
    from peft.tuners.tuners_utils import check_target_module_exists

    return bool(check_target_module_exists(peft_config, name))


def reset_accelerate_state() -> None:
    """Forget accelerate's process-wide settings (mixed precision, gradient accumulation) before a new run.

    accelerate keeps them in singletons and refuses a second ``Accelerator`` with other settings in one process
    (a notebook, ``hub tune``). transformers' Trainer resets them the same way; the process group stays.
    """
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state()
    GradientState._reset_state()


def import_dynamo_first() -> None:
    """Import ``torch._dynamo`` before a process group exists.

    Imported after it (optimizers import it), dynamo keeps the group alive past ``destroy_process_group``: its
    gloo threads then outlive the interpreter and can abort the process at exit after a successful run
    ("terminate called without an active exception").
    """
    import torch._dynamo  # noqa: F401

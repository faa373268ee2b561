"""Warnings and log lines one installed library emits about another's code, silenced by their exact message in
``hub`` and the server's worker processes.

Each entry is a library calling another's deprecated API inside its own code, or reporting on a path of its own
that it falls back from, on every run, with nothing our users (or we) could change. Our own calls use the APIs the
installed versions want, so they raise none; any warning or log line not listed here still shows. The filters
are installed by the entry points only, never at import: a program that uses adapterhub as a library keeps its own
warning and logging settings.
"""

from __future__ import annotations

import logging
import re
import warnings

INTERNAL: tuple[tuple[type[Warning], str], ...] = (
    # peft's PeftModel reads transformers' deprecated property while wrapping a model (any get_peft_model)
    (
        FutureWarning,
        "`is_gradient_checkpointing` is deprecated and will be removed in v6. Use `is_activation_checkpointing` "
        "instead.",
    ),
)

# (logger, the record's message as the library writes it, before %-formatting): lines Python's last-resort handler
# prints on stderr, as no handler is configured
LOGGED: tuple[tuple[str, str], ...] = (
    # bitsandbytes' CPU backend, imported with peft whenever the quantize extra is installed, asks the kernels
    # package for an optional AVX512-BF16 kernel on CPUs that have it; offline, kernels says it skips its trust
    # check, then the kernel is not in the cache and bitsandbytes says it uses its own code instead
    (
        "kernels._internals.hf_hub",
        "Skipping publisher trust check for 'kernels-community/quantization-bitsandbytes' because Hugging Face Hub "
        "is in offline mode.",
    ),
    (
        "bitsandbytes.backends.cpu.ops",
        "Failed to load CPU gemm_4bit_forward from kernels-community: %s. Please make sure you already `pip install "
        "kernels` and the kernels >= 0.11.1",
    ),
)


class _Unlisted(logging.Filter):
    """Drops the records of one logger whose message is exactly one of ``messages``."""

    def __init__(self, messages: set[str]) -> None:
        super().__init__()
        self.messages = messages

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg in self.messages)


def silence_library_internals() -> None:
    """Ignore exactly the warnings in :data:`INTERNAL` and the log lines in :data:`LOGGED`, for the rest of this
    process."""
    for category, message in INTERNAL:
        warnings.filterwarnings("ignore", message=re.escape(message) + r"\Z", category=category)
    by_logger: dict[str, set[str]] = {}
    for name, message in LOGGED:
        by_logger.setdefault(name, set()).add(message)
    for name, messages in by_logger.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Unlisted) for f in logger.filters):  # once, however often this is called
            logger.addFilter(_Unlisted(messages))

"""Warnings one installed library raises about another's code, silenced by their exact message in ``hub`` and
the server's worker processes.

Each entry is a library calling another's deprecated API inside its own code, on every run, with nothing our users
(or we) could change. Our own calls use the APIs the installed versions want, so they raise none; any warning not
listed here still shows. The filters are installed by the entry points only, never at import: a program that uses
adapterhub as a library keeps its own warning settings.
"""

from __future__ import annotations

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


def silence_library_internals() -> None:
    """Ignore exactly the warnings in :data:`INTERNAL`, for the rest of this process."""
    for category, message in INTERNAL:
        warnings.filterwarnings("ignore", message=re.escape(message) + r"\Z", category=category)

"""The entry points' warning filters: exactly the listed library-internal messages, nothing else, never at import."""

from __future__ import annotations

import subprocess
import sys
import warnings

from adapterhub.library_warnings import INTERNAL, silence_library_internals


def test_only_the_exact_listed_messages_are_silenced() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        silence_library_internals()
        for category, message in INTERNAL:
            warnings.warn(message, category, stacklevel=1)
            warnings.warn(message + " And something else.", category, stacklevel=1)  # longer: not the same message
            warnings.warn(message, UserWarning, stacklevel=1)  # another category
        warnings.warn("`past_key_values` is deprecated", FutureWarning, stacklevel=1)
    shown = [(w.category, str(w.message)) for w in caught]
    assert shown == [
        *((c, m) for category, message in INTERNAL for c, m in ((category, message + " And something else."),
                                                                 (UserWarning, message))),
        (FutureWarning, "`past_key_values` is deprecated"),
    ]  # fmt: skip


def test_importing_adapterhub_changes_no_warning_filter() -> None:
    code = (  # the libraries first: torch and numpy install filters of their own when imported
        "import warnings, torch, transformers, peft, accelerate, fastapi, uvicorn, typer, rich; "
        "before = list(warnings.filters); "
        "import adapterhub, adapterhub.cli, adapterhub.inference, adapterhub.serving, adapterhub.training.train; "
        "assert warnings.filters == before, warnings.filters[:3]"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]

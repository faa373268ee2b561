"""The entry points' warning and log filters: exactly the listed library-internal messages, nothing else, never at
import."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings
from collections.abc import Iterator

import pytest

from adapterhub.library_warnings import INTERNAL, LOGGED, _Unlisted, silence_library_internals


@pytest.fixture(autouse=True)
def _loggers_as_they_were() -> Iterator[None]:
    """The log filters a test installs are taken out after it (the warning filters are, by catch_warnings)."""
    before = {name: list(logging.getLogger(name).filters) for name, _ in LOGGED}
    yield
    for name, filters in before.items():
        logging.getLogger(name).filters[:] = filters


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


def test_only_the_exact_listed_log_lines_are_silenced(caplog: pytest.LogCaptureFixture) -> None:
    loggers = {name: logging.getLogger(name) for name, _ in LOGGED}
    others = {name: [f for f in logger.filters if not isinstance(f, _Unlisted)] for name, logger in loggers.items()}
    silence_library_internals()
    silence_library_internals()  # twice, as a test run or a worker may (an earlier test too): one filter per logger
    ours = {name: sum(isinstance(f, _Unlisted) for f in logger.filters) for name, logger in loggers.items()}
    assert ours == dict.fromkeys(loggers, 1)
    assert {name: [f for f in logger.filters if not isinstance(f, _Unlisted)] for name, logger in loggers.items()} == (
        others
    )
    oom = "Failed to load CPU gemm_4bit_forward: out of memory"
    with caplog.at_level(logging.INFO):
        for name, message in LOGGED:
            args = ("Version 1 is not in the local cache",) if "%s" in message else ()  # as the library logs it
            loggers[name].warning(message, *args)
            loggers[name].warning(message + " And more.", *args)  # another message
            logging.getLogger("adapterhub.other").warning(message, *args)  # the same text from elsewhere
            loggers[name].error(oom)  # a real error
    assert [(r.name, r.msg) for r in caplog.records] == [
        row
        for name, message in LOGGED
        for row in ((name, message + " And more."), ("adapterhub.other", message), (name, oom))
    ]


def test_importing_adapterhub_changes_no_warning_filter() -> None:
    code = (  # the libraries first: torch and numpy install filters of their own when imported
        "import logging, warnings, torch, transformers, peft, accelerate, fastapi, uvicorn, typer, rich; "
        "before = list(warnings.filters); "
        "import adapterhub, adapterhub.cli, adapterhub.inference, adapterhub.serving, adapterhub.training.train; "
        "assert warnings.filters == before, warnings.filters[:3]; "
        f"assert not any(logging.getLogger(name).filters for name, _ in {LOGGED!r})"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]

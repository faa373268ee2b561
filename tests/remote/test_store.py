"""The object store's own behaviour, apart from push and pull."""

from __future__ import annotations

import asyncio
import logging
import threading

import aiohttp
import pytest

from adapterhub.remote.store import Store


def _report(loop: asyncio.AbstractEventLoop, error: BaseException) -> None:
    """What asyncio does with a task whose exception nobody retrieved, on ``loop``'s own thread."""
    done = threading.Event()

    def report() -> None:
        future = loop.create_future()
        loop.call_exception_handler(
            {"message": "Task exception was never retrieved", "exception": error, "future": future}
        )
        done.set()

    loop.call_soon_threadsafe(report)
    assert done.wait(10)


def test_a_connection_dropped_mid_upload_stays_one_line(caplog: pytest.LogCaptureFixture) -> None:
    """When the endpoint goes away mid-upload, aiohttp's body-writing task fails after the request has been
    reported; its traceback must not reach the user's terminal beside the one-line error."""
    fs = Store("s3://bucket/prefix", endpoint_url="http://127.0.0.1:9")._filesystem()
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        _report(fs.loop, aiohttp.ClientConnectionResetError("Cannot write to closing transport"))
        _report(fs.loop, ConnectionResetError("reset by peer"))
        assert caplog.records == []
        _report(fs.loop, ValueError("a bug elsewhere"))  # anything else still shows
    assert [r.getMessage().splitlines()[0] for r in caplog.records] == ["Task exception was never retrieved"]

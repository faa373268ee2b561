"""``hub serve``: an HTTP server over :class:`adapterhub.Hub` that batches concurrent requests across adapters."""

from adapterhub.serving.config import ServeConfig

__all__ = ["ServeConfig", "create_app"]


def __getattr__(name: str):  # the app (FastAPI, torch) loads on first use: bad settings are refused at once
    if name == "create_app":
        from adapterhub.serving.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

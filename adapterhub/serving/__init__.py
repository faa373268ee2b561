"""``hub serve``: an HTTP server over :class:`adapterhub.Hub` that batches concurrent requests across adapters."""

from typing import TYPE_CHECKING

from adapterhub.serving.config import ServeConfig

if TYPE_CHECKING:
    from adapterhub.serving.app import create_app

__all__ = ["ServeConfig", "create_app"]


def __getattr__(name: str):  # the app imports the web framework and torch; `ServeConfig` alone needs neither
    if name == "create_app":
        from adapterhub.serving.app import create_app  # loads torch: on first use

        return create_app
    raise AttributeError(f"module 'adapterhub.serving' has no attribute {name!r}")

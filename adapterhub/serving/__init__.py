"""``hub serve``: an HTTP server over :class:`adapterhub.Hub` that batches concurrent requests across adapters."""

from adapterhub.serving.app import create_app
from adapterhub.serving.config import ServeConfig

__all__ = ["ServeConfig", "create_app"]

"""Errors the server adds to the library's own: each maps to one HTTP status."""

from __future__ import annotations

from adapterhub.errors import (
    AdapterHubError,
    AdapterNotFound,
    ConfigError,
    ContextTooLong,
    IncompatibleAdapter,
    InvalidName,
    RegistryConflict,
    RegistryCorrupt,
    RemoteUnavailable,
)


class Overloaded(AdapterHubError):
    """The request queue is full: retry after ``retry_after`` seconds (HTTP 429)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ShuttingDown(AdapterHubError):
    """The server is draining for shutdown and takes no new work (HTTP 503)."""

    retry_after = 5


class TooLarge(AdapterHubError):
    """Too many inputs, too long an input or too many tokens asked for (HTTP 413)."""


class NotServed(AdapterHubError):
    """An adapter the server was told not to serve (``--only-preloaded``) (HTTP 404)."""


class WrongEndpoint(AdapterHubError):
    """An adapter sent to an endpoint that does not serve its task (HTTP 400)."""


class UnknownAdapter(AdapterNotFound):
    """A name the registry holds no version of (HTTP 404 with the closest names that exist)."""

    def __init__(self, name: str, message: str | None = None) -> None:
        super().__init__(message or f"no adapter named {name!r}; GET /v1/adapters lists every adapter")
        self.name = name


class ShadowRefused(ConfigError):
    """A shadow that cannot be compared with its primary: another task or label set, or the primary itself
    (exit 2, HTTP 409)."""


class NoShadow(AdapterNotFound):
    """A primary that has no shadow attached (exit 3, HTTP 404)."""


# error class -> (HTTP status, error type); the first match wins
STATUSES: tuple[tuple[type[Exception], int, str], ...] = (
    (NotServed, 404, "adapter_not_served"),
    (NoShadow, 404, "shadow_not_found"),
    (ShadowRefused, 409, "shadow_refused"),
    (AdapterNotFound, 404, "adapter_not_found"),
    (WrongEndpoint, 400, "wrong_endpoint"),
    (InvalidName, 422, "invalid_name"),
    (ContextTooLong, 413, "context_length_exceeded"),
    (ConfigError, 422, "invalid_request"),
    (TooLarge, 413, "too_large"),
    (Overloaded, 429, "overloaded"),
    (ShuttingDown, 503, "shutting_down"),
    (RemoteUnavailable, 503, "remote_unavailable"),
    (RegistryCorrupt, 409, "adapter_corrupt"),
    (IncompatibleAdapter, 409, "adapter_incompatible"),
    (RegistryConflict, 409, "conflict"),
)

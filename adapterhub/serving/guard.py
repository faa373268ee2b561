"""``RequestGuard``: the checks every request passes before any of its body is read or parsed.

In this order, each answered with the one JSON error shape:

1. ``Host`` must name this server (400): a page on another site whose name an attacker points at 127.0.0.1
   (DNS rebinding) sends its own name as the Host, so a server on a loopback address answers only to loopback
   names, its bound address and ``--allowed-host`` names. A server bound to 0.0.0.0 or :: accepts any Host
   unless ``--allowed-host`` names some.
2. The API key, when one is set (401), on every route but ``/health``, the API's description and the web page's
   own files under ``/ui`` (they hold no data: the page asks for the key when the API answers 401).
3. A state-changing request (POST, PUT, PATCH, DELETE) whose ``Origin`` is not this server is refused (403):
   a browser sends any page's form or ``fetch`` to any address, but always says where it came from.
4. A request body must be JSON, declared as ``Content-Type: application/json`` (415), which a browser never
   sends across origins without asking first.
5. A body larger than the server's limit is refused (413) from its ``Content-Length`` before it is read, or as
   soon as a chunked body passes the limit.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from starlette.exceptions import HTTPException

from adapterhub.serving.keys import KeyDigest
from adapterhub.serving.responses import error_response

OPEN_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/ui"})
OPEN_PREFIX = "/ui/"  # the web page's static files
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"0.0.0.0", "::", ""})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RequestGuard:
    """A plain ASGI middleware (no per-request task): see the module's docstring for what it checks."""

    def __init__(
        self,
        app: Any,
        *,
        bound_host: str,
        allowed_hosts: tuple[str, ...],
        key: KeyDigest | None,
        max_body: int,
    ) -> None:
        self.app, self.key, self.max_body = app, key, max_body
        names = {_host_name(h) for h in allowed_hosts}
        bound = _host_name(bound_host)
        # None: any Host (bound to every interface, and no --allowed-host narrowing it)
        self.hosts: frozenset[str] | None = (
            None
            if "*" in names or (bound in WILDCARDS and not names)
            else frozenset({*LOOPBACK_NAMES, *names, *([bound] if bound not in WILDCARDS else [])})
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value)  # the first of repeated headers, as starlette reads them
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        length = headers.get(b"content-length")
        if length is None and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)
            return
        received = 0

        async def counted() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                raise HTTPException(413, _too_large(self.max_body))
            return message

        await self.app(scope, counted, send)

    def _refusal(self, scope: dict[str, Any], headers: dict[bytes, bytes]) -> Any:
        host = headers.get(b"host", b"").decode("latin-1")
        if self.hosts is not None and _host_name(host) not in self.hosts:
            return error_response(
                400,
                "invalid_host",
                f"Host {host[:100]!r} is not a name of this server; use one of {', '.join(sorted(self.hosts))} "
                "or start the server with --allowed-host NAME",
            )
        path, method = scope["path"], scope["method"]
        if self.key is not None and not _open(path) and not self._authorized(headers):
            return error_response(401, "unauthorized", "missing or wrong API key: send `Authorization: Bearer <key>`")
        if method in SAFE_METHODS:
            return None
        origin = headers.get(b"origin")
        if origin is not None and origin.decode("latin-1").partition("://")[2].lower() != host.lower():
            return error_response(
                403,
                "cross_origin",
                f"refusing a {method} from the web page at {origin.decode('latin-1')[:100]!r}: "
                "this server takes no cross-origin requests that change state",
            )
        length = headers.get(b"content-length")
        has_body = (length is not None and length.strip() not in (b"", b"0")) or b"transfer-encoding" in headers
        if has_body:
            media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if media != b"application/json":
                shown = media.decode("latin-1")[:100] or "none"
                return error_response(
                    415,
                    "unsupported_media_type",
                    f"the body must be JSON sent with `Content-Type: application/json` (got {shown})",
                )
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                return error_response(400, "invalid_request", "Content-Length is not a number")
            if size > self.max_body:
                return error_response(413, "too_large", _too_large(self.max_body))
        return None

    def _authorized(self, headers: dict[bytes, bytes]) -> bool:
        scheme, _, credentials = headers.get(b"authorization", b"").partition(b" ")
        return scheme.lower() == b"bearer" and self.key is not None and self.key.matches(credentials.strip())


def _open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIX)


def _host_name(host: str) -> str:
    """The name part of a Host header or a bound address, lower-case: ``[::1]:8000`` -> ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") > 1:  # a bare IPv6 address (a bound host is given without brackets)
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            return host
    return host.partition(":")[0].rstrip(".")


def _too_large(limit: int) -> str:
    return f"the request body is larger than this server takes ({limit} bytes); send fewer or shorter inputs"

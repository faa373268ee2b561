"""``create_app``: the FastAPI application over a :class:`Hub`, with auth, metrics and one error shape.

Every error is ``{"error": {"message", "type", "param", "code"}}`` (the shape OpenAI clients parse), with
``available`` listing what exists for an unknown adapter.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from adapterhub.errors import (
    AdapterHubError,
    AdapterNotFound,
    ConfigError,
    ContextTooLong,
    IncompatibleAdapter,
    InvalidInput,
    InvalidName,
    RegistryConflict,
    RegistryCorrupt,
)
from adapterhub.inference import Hub
from adapterhub.library_warnings import silence_library_internals
from adapterhub.serving.config import CONFIG_ENV, ServeConfig
from adapterhub.serving.errors import NotServed, Overloaded, ShuttingDown, TooLarge, Unauthorized, WrongEndpoint
from adapterhub.serving.schemas import ErrorResponse
from adapterhub.serving.state import ServerState

log = logging.getLogger("adapterhub.serving")

# error class -> (HTTP status, error type); the first match wins
STATUSES: tuple[tuple[type[Exception], int, str], ...] = (
    (Unauthorized, 401, "unauthorized"),
    (NotServed, 404, "adapter_not_served"),
    (AdapterNotFound, 404, "adapter_not_found"),
    (WrongEndpoint, 400, "wrong_endpoint"),
    (InvalidName, 422, "invalid_name"),
    (ContextTooLong, 413, "context_length_exceeded"),
    (ConfigError, 422, "invalid_request"),
    (TooLarge, 413, "too_large"),
    (Overloaded, 429, "overloaded"),
    (ShuttingDown, 503, "shutting_down"),
    (RegistryCorrupt, 409, "adapter_corrupt"),
    (IncompatibleAdapter, 409, "adapter_incompatible"),
    (RegistryConflict, 409, "conflict"),
)

_bearer = HTTPBearer(auto_error=False, description="The server's API key, when it was started with one.")


def create_app(hub: Hub, config: ServeConfig | None = None) -> FastAPI:
    """The server's ASGI app. Its lifespan starts the batcher, preloads ``config.adapters`` and, on shutdown,
    finishes every queued request before it returns."""
    from adapterhub import __version__
    from adapterhub.serving import native_routes, openai_routes

    config = config or ServeConfig()
    state = ServerState(hub, config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.batcher.start()
        try:
            await run_in_threadpool(state.preload)
            yield
        finally:
            await run_in_threadpool(state.batcher.close, config.shutdown_timeout_s)

    body_limit = config.max_inputs * (config.max_input_chars * 4 + 16) + 65536  # UTF-8 worst case, plus JSON
    app = FastAPI(
        title="adapterhub",
        version=__version__,
        summary="Many task adapters hot-swapped on one frozen base, batched across adapters.",
        lifespan=lifespan,
        max_body_size=body_limit,
        responses={
            401: {"model": ErrorResponse, "description": "Missing or wrong API key."},
            422: {"model": ErrorResponse, "description": "Malformed body or bad field."},
        },
    )
    app.state.server = state
    protected = [Depends(require_key)]
    app.include_router(native_routes.public)
    app.include_router(native_routes.router, dependencies=protected)
    app.include_router(openai_routes.router, dependencies=protected)
    _install_error_handlers(app)
    _install_metrics(app, state)
    return app


def app_from_environment() -> FastAPI:
    """The app a worker process builds (``hub serve --workers N``) from the settings its parent exported."""
    silence_library_internals()  # a worker never runs `hub`'s entry point, which does this for one process
    config = ServeConfig.from_json(os.environ[CONFIG_ENV])
    hub = config.make_hub()
    return create_app(hub, config)


async def require_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    key = request.app.state.server.config.api_key
    if key is None:
        return
    if credentials is None or not hmac.compare_digest(credentials.credentials.encode(), key.encode()):
        raise Unauthorized("missing or wrong API key: send the header `Authorization: Bearer <key>`")


def error_response(status: int, kind: str, message: str, **extra: Any) -> JSONResponse:
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra.pop("retry_after"))
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    body = {"message": message, "type": kind, "param": extra.pop("param", None), "code": status, **extra}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    state: ServerState = app.state.server

    @app.exception_handler(AdapterHubError)
    async def _library_error(request: Request, exc: AdapterHubError) -> JSONResponse:
        for cls, status, kind in STATUSES:
            if isinstance(exc, cls):
                extra: dict[str, Any] = {}
                if isinstance(exc, AdapterNotFound | NotServed):
                    extra["available"] = await run_in_threadpool(state.available)
                if isinstance(exc, Overloaded | ShuttingDown):
                    extra["retry_after"] = exc.retry_after
                if isinstance(exc, InvalidInput):
                    extra["param"] = exc.param
                return error_response(status, kind, str(exc), **extra)
        log.exception("unexpected adapterhub error on %s", request.url.path, exc_info=exc)
        return error_response(500, "internal_error", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        first_param = None
        for error in exc.errors():
            where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
            first_param = first_param or where or None
            problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
        return error_response(422, "invalid_request", "; ".join(problems), param=first_param)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, kind, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path, exc_info=exc)
        return error_response(500, "internal_error", f"{type(exc).__name__}: {exc}")


def _install_metrics(app: FastAPI, state: ServerState) -> None:
    app.add_middleware(_MetricsMiddleware, state=state)


class _MetricsMiddleware:
    """Counts every HTTP request by route template and status, and times it to its last body byte
    (a plain ASGI middleware: no per-request task or stream, unlike ``@app.middleware``)."""

    def __init__(self, app: Any, state: ServerState) -> None:
        self.app, self.metrics = app, state.metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observe(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)

"""``create_app``: the FastAPI application over a :class:`Hub`, with auth, metrics and one error shape.

Every error is ``{"error": {"message", "type", "param", "code"}}`` (the shape OpenAI clients parse), with
``available`` listing the closest names that exist for an unknown adapter. No answer carries an absolute path
or, for an unexpected error, the exception's text: a 500 carries an ``id`` to find the traceback in the log.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.routing import Match

from adapterhub.errors import AdapterHubError, InvalidInput
from adapterhub.inference import Hub
from adapterhub.library_warnings import silence_library_internals
from adapterhub.serving import native_routes, openai_routes, shadow_routes, ui_routes
from adapterhub.serving.config import CONFIG_ENV, ServeConfig
from adapterhub.serving.errors import STATUSES, NotServed, Overloaded, ShuttingDown, UnknownAdapter
from adapterhub.serving.guard import RequestGuard
from adapterhub.serving.responses import error_response
from adapterhub.serving.schemas import ErrorResponse
from adapterhub.serving.state import ServerState
from adapterhub.version import __version__

log = logging.getLogger("adapterhub.serving")

# declared on every operation: what the request guard and the error boundary may answer anywhere
_COMMON = {
    400: {"model": ErrorResponse, "description": "A Host header that does not name this server."},
    422: {"model": ErrorResponse, "description": "Malformed body (not UTF-8 JSON, nested too deep) or bad field."},
    500: {"model": ErrorResponse, "description": "Unexpected error; `id` finds its traceback in the server log."},
}


def create_app(hub: Hub, config: ServeConfig | None = None) -> FastAPI:
    """The server's ASGI app. Its lifespan starts the batcher, preloads ``config.adapters`` and, on shutdown,
    finishes every queued request before it returns."""
    config = config or ServeConfig()
    state = ServerState(hub, config)
    key = config.key_digest()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.start()
        try:
            await run_in_threadpool(state.preload)
            yield
        finally:
            await run_in_threadpool(state.close)

    responses: dict[int | str, dict[str, Any]] = dict(_COMMON)
    if key is not None:
        responses[401] = {"model": ErrorResponse, "description": "Missing or wrong API key."}
    app = FastAPI(
        title="adapterhub",
        version=__version__,
        summary="Many task adapters hot-swapped on one frozen base, batched across adapters.",
        lifespan=lifespan,
        responses=responses,
    )
    app.state.server = state
    # The key is checked by RequestGuard before any body is read; the dependency only declares the scheme
    # in the OpenAPI schema, and only when there is a key to send.
    bearer = HTTPBearer(auto_error=False, description="The key the server was started with.")
    protected = [Depends(bearer)] if key is not None else []
    app.include_router(native_routes.public)
    app.include_router(ui_routes.router)  # the page's files hold no data: the API behind them asks for the key
    app.include_router(native_routes.router, dependencies=protected)
    app.include_router(openai_routes.router, dependencies=protected)
    app.include_router(shadow_routes.router, dependencies=protected)
    _install_error_handlers(app)
    _declare_limits(app, config)
    # added innermost first: metrics see every answer, the boundary catches whatever the guard raises
    body_limit = config.max_inputs * (config.max_input_chars * 4 + 16) + 65536  # UTF-8 worst case, plus JSON
    app.add_middleware(
        RequestGuard, bound_host=config.host, allowed_hosts=config.allowed_hosts, key=key, max_body=body_limit
    )
    app.add_middleware(_ErrorBoundary)
    app.add_middleware(_MetricsMiddleware, state=state)
    return app


def _declare_limits(app: FastAPI, config: ServeConfig) -> None:
    """Write this server's limits (beyond them: 413) into its OpenAPI schema, so the schema says what it takes:
    inputs per request, characters per input, messages per chat and tokens per generation."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()  # FastAPI keeps it as app.openapi_schema: changed in place, once
        models = schema["components"]["schemas"]
        count, chars = {"maxItems": config.max_inputs}, {"maxLength": config.max_input_chars}
        tokens = {"maximum": config.max_new_tokens}
        inputs = models["PredictRequest"]["properties"]["inputs"]
        inputs.update(count)
        inputs["items"].update(chars)
        _variant(models["Options"]["properties"]["max_new_tokens"], "integer").update(tokens)
        for request in ("CompletionRequest", "ChatRequest"):
            for field in ("max_tokens", "max_completion_tokens"):
                _variant(models[request]["properties"][field], "integer").update(tokens)
        prompt = models["CompletionRequest"]["properties"]["prompt"]
        _variant(prompt, "string").update(chars)
        prompts = _variant(prompt, "array")
        prompts.update(count)
        prompts["items"].update(chars)
        models["ChatRequest"]["properties"]["messages"].update(count)
        _variant(models["ChatMessage"]["properties"]["content"], "string").update(chars)
        models["TextPart"]["properties"]["text"].update(chars)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _variant(field: dict[str, Any], kind: str) -> dict[str, Any]:
    """The member of a field's ``anyOf`` of JSON type ``kind`` (the field itself when it has no ``anyOf``)."""
    return next((v for v in field.get("anyOf", []) if v.get("type") == kind), field)


def app_from_environment() -> FastAPI:
    """The app a worker process builds (``hub serve --workers N``) from the settings its parent exported."""
    silence_library_internals()  # a worker never runs `hub`'s entry point, which does this for one process
    config = ServeConfig.from_json(os.environ[CONFIG_ENV])
    hub = config.make_hub()
    return create_app(hub, config)


def _install_error_handlers(app: FastAPI) -> None:
    state: ServerState = app.state.server

    @app.exception_handler(AdapterHubError)
    async def _library_error(request: Request, exc: AdapterHubError) -> JSONResponse:
        for cls, status, kind in STATUSES:
            if isinstance(exc, cls):
                extra: dict[str, Any] = {}
                if isinstance(exc, UnknownAdapter | NotServed):
                    asked = exc.name if isinstance(exc, UnknownAdapter) else None
                    names, total = await run_in_threadpool(state.available, asked)
                    extra["available"], extra["available_count"] = names, total
                if isinstance(exc, Overloaded | ShuttingDown):
                    extra["retry_after"] = exc.retry_after
                if isinstance(exc, InvalidInput):
                    extra["param"] = exc.param
                return error_response(status, kind, state.redact(str(exc)), **extra)
        return _unexpected(request.scope, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        first_param = None
        for error in exc.errors():
            where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path"))
            first_param = first_param or where or None
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            problems.append(f"{where or 'body'}: {message}")
        return error_response(422, "invalid_request", state.redact("; ".join(problems)), param=first_param)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI answers 400 for a body json.loads cannot read although it is declared as JSON: bytes
            # that are not UTF-8, or nesting deeper than the parser's recursion limit
            return error_response(422, "invalid_request", f"body: {_unreadable(exc.__cause__)}")
        kind = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status_code, "http_error")
        headers = exc.headers
        if exc.status_code == 405:  # Starlette's Allow names the methods of the first route of the path only
            headers = {**(headers or {}), "Allow": ", ".join(_allowed(app, request.scope))}
        return error_response(exc.status_code, kind, str(exc.detail), headers=headers)


def _allowed(app: FastAPI, scope: dict[str, Any]) -> list[str]:
    """The methods some route of the app serves at the request's path."""
    methods = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")
    return [m for m in methods if any(r.matches({**scope, "method": m})[0] == Match.FULL for r in app.router.routes)]


def _unreadable(cause: BaseException) -> str:
    if isinstance(cause, UnicodeDecodeError):
        return f"not UTF-8 ({cause.reason} at byte {cause.start}); send JSON encoded as UTF-8"
    if isinstance(cause, RecursionError):
        return "JSON nested too deeply to read; flatten it"
    return "not readable as JSON"


def _unexpected(scope: dict[str, Any], exc: BaseException) -> JSONResponse:
    """A generic 500: the exception's text stays in the log, under an id the body carries."""
    ident = uuid.uuid4().hex[:16]
    log.error("unexpected error %s on %s %s", ident, scope.get("method"), scope.get("path"), exc_info=exc)
    message = f"unexpected server error (id {ident}); the server's log holds the details under this id"
    return error_response(500, "internal_error", message, id=ident)


class _ErrorBoundary:
    """Answers any unexpected exception with the generic 500 and does not raise it further.

    Starlette's own handler for ``Exception`` sits in ServerErrorMiddleware, which sends the 500 and then
    re-raises; uvicorn, seeing an exception after a response started, closes the connection, so a keep-alive
    client's next request fails too. Caught here, the connection stays usable. An exception after a response
    started (a stream cut short) cannot become a 500: it is logged, and the incomplete response makes uvicorn
    close the connection, which is how a client learns that the body is incomplete.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            response = _unexpected(scope, exc)
            if not started:
                await response(scope, receive, send)


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

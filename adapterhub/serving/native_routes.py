"""The native API: health, the adapter list, predict, load and unload, and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from adapterhub.errors import ConfigError
from adapterhub.inference.decoding import GenerationOptions
from adapterhub.inference.ensemble import check_members, combine_mean
from adapterhub.names import EXACT_REF_PATTERN, NAME_PATTERN, Ref
from adapterhub.registry import AdapterRecord
from adapterhub.serving.route_params import NOT_FOUND, PREDICT_ERRORS, NamePath, RequestKey
from adapterhub.serving.schemas import (
    CROSS_ORIGIN,
    AdapterInfo,
    AdapterList,
    Health,
    LoadResponse,
    PredictRequest,
    PredictResponse,
    UnloadResponse,
    result_json,
)
from adapterhub.serving.state import ServerState

public = APIRouter()
router = APIRouter()

PAGE_DEFAULT, PAGE_MAX = 100, 1000  # adapter versions per page of GET /v1/adapters
DEFAULT_NEW_TOKENS = 64  # a generation's length when the request names none (within --max-new-tokens)


def _state(request: Request) -> ServerState:
    return request.app.state.server


@public.get("/health", response_model=Health, tags=["server"])
async def health(request: Request) -> Health:
    """Liveness: answers without an API key."""
    state = _state(request)
    return Health(hot=len(state.hub.loaded), queue=state.batcher.depth)


@router.get("/metrics", tags=["server"], response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text: requests, latency, batch sizes, queue depth and resident adapters."""
    state = _state(request)
    state.update_gauges()
    # off the event loop: a scrape of a hundred adapters' series takes tens of milliseconds to format
    return Response(await run_in_threadpool(state.metrics.render), media_type=state.metrics.content_type)


@router.get("/v1/adapters", response_model=AdapterList, responses=NOT_FOUND, tags=["adapters"])
async def adapters(
    request: Request,
    task: str | None = Query(None, description="Only adapters of this task."),
    name: str | None = Query(
        None,
        description="Only the versions of this name (404 when it has none).",
        json_schema_extra={"pattern": NAME_PATTERN},
    ),
    limit: int = Query(PAGE_DEFAULT, ge=1, le=PAGE_MAX, description="Versions per page."),
    cursor: str | None = Query(
        None, description="The `next` of the previous page.", json_schema_extra={"pattern": EXACT_REF_PATTERN}
    ),
    cards: bool = Query(False, description="Include each version's whole card."),
):
    """Adapter versions in the server's local registry, a page at a time (by name, then newest version first),
    with whether each is resident. Every version appears exactly once across the pages, however many are
    published while a client pages through them. A server with a remote also serves what only the remote holds
    (pulled on first request, then listed here); `remote` names it."""
    state = _state(request)
    after = Ref.parse(cursor) if cursor is not None else None
    if after is not None and after.version is None:
        raise ConfigError(f"cursor {cursor!r} is not a NAME@VERSION; pass the `next` of the previous page")
    records = await run_in_threadpool(_page, state, task, name, after, limit + 1)
    hot, warm = set(state.hub.loaded), set(state.hub.warm)
    page = records[:limit]
    return AdapterList(
        adapters=[
            AdapterInfo(
                ref=r.ref,
                name=r.name,
                version=r.version,
                aliases=list(r.aliases),
                alias_weights=dict(r.weights),
                task=r.card.task,
                method=r.card.method,
                base=state.redact.value(r.card.base.id),
                labels=list(r.card.labels),
                metrics=r.card.metrics,
                headline_metric=r.card.headline_metric,
                content_hash=r.card.content_hash,
                tags=list(r.card.tags),
                size_bytes=r.card.size_bytes,
                created=r.card.created,
                resident="hot" if r.ref in hot else "warm" if r.ref in warm else None,
                card=state.redact.value(r.card.to_dict()) if cards else None,
            )
            for r in page
        ],
        next=page[-1].ref if len(records) > limit else None,
        remote=state.hub.remote.remote.name if state.hub.remote is not None else None,
    )


def _page(state: ServerState, task: str | None, name: str | None, after: Ref | None, limit: int) -> list[AdapterRecord]:
    """Up to ``limit`` versions past ``after`` (of ``name`` only, when given): one indexed query, or, with
    --only-preloaded, the allowed versions (a handful) sorted the same way."""
    registry = state.hub.registry
    if state.allowed is None:
        return registry.list(task=task, name=name, after=after, limit=limit)
    allowed = state.allowed
    names = sorted({Ref.parse(spec).name for spec in allowed})
    if name is not None:
        names = [n for n in names if n == name]
    records = [r for n in names for r in registry.list(name=n, task=task) if r.ref in allowed]
    if after is not None:
        records = [r for r in records if (r.name, -r.version) > (after.name, -(after.version or 0))]
    return records[:limit]


@router.post("/v1/predict", response_model=PredictResponse, responses=PREDICT_ERRORS, tags=["inference"])
async def predict(body: PredictRequest, request: Request, key: str | None = RequestKey) -> JSONResponse:
    """Run inputs through an adapter. Concurrent requests, for any adapters, run as mixed batches. A weighted
    alias runs the request on one of its versions (by `X-Request-Key`, else at random by weight), and
    `adapter` in the answer names the exact version that answered."""
    state = _state(request)
    options = body.options.model_dump() if body.options else {}
    state.check_size(body.inputs, options.get("max_new_tokens"))
    if options.get("max_new_tokens") is None:
        options["max_new_tokens"] = min(DEFAULT_NEW_TOKENS, state.config.max_new_tokens)
    if body.combine is not None or isinstance(body.adapter, list):
        return await _ensemble(state, body)
    record = await state.record(body.adapter, key=key)
    spec = state.target(body.adapter, record)
    generation = GenerationOptions(**options) if record.card.task_type == "CAUSAL_LM" else None
    if generation is not None:
        await state.check_prompts(spec, body.inputs, generation.max_new_tokens)
    results = await state.run(spec, body.inputs, generation, asked=body.adapter)
    # built directly (the schema above documents it): no second validation of what the library returned
    return JSONResponse({"adapter": results[0].adapter, "results": [result_json(r) for r in results]})


async def _ensemble(state: ServerState, body: PredictRequest) -> JSONResponse:
    members = body.adapter
    if body.combine is None or not isinstance(members, list):
        raise ConfigError('an ensemble needs "adapter" to be a list of adapters and "combine": "mean"')
    labels = check_members(members, [await state.record(m) for m in members], body.combine)
    runs = await asyncio.gather(*(state.run(m, body.inputs) for m in members))  # one batch window for all
    results = combine_mean([r for run in runs for r in run], len(members), labels)
    return JSONResponse({"adapter": results[0].adapter, "results": [result_json(r) for r in results]})


@router.post("/v1/adapters/{name}/load", response_model=LoadResponse, responses=PREDICT_ERRORS, tags=["adapters"])
async def load(request: Request, name: str = NamePath) -> LoadResponse:
    """Resolve NAME (or NAME@VERSION, NAME:ALIAS) anew and make it resident: a newly published version is
    swapped in while traffic flows; requests already running finish on the version they started with. With a
    remote (hub serve --remote), NAME is resolved there (a version pushed from elsewhere, an alias moved on
    the remote) and pulled when the local registry lacks it; `ref` says which version is now loaded."""
    record = await run_in_threadpool(_state(request).load, name)
    return LoadResponse(ref=record.ref, content_hash=record.card.content_hash)


@router.delete(
    "/v1/adapters/{name}", response_model=UnloadResponse, responses={**NOT_FOUND, **CROSS_ORIGIN}, tags=["adapters"]
)
async def unload(request: Request, name: str = NamePath) -> UnloadResponse:
    """Free a resident adapter's memory (every loaded version of a bare name). A later request loads it again,
    unless the server runs with --only-preloaded."""
    refs = await run_in_threadpool(_state(request).unload, name)
    return UnloadResponse(unloaded=refs)

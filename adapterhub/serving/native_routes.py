"""The native API: health, the adapter list, predict, load and unload, and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from adapterhub.errors import ConfigError
from adapterhub.inference.decoding import GenerationOptions
from adapterhub.inference.ensemble import check_members, combine_mean
from adapterhub.serving.schemas import (
    AdapterInfo,
    AdapterList,
    ErrorResponse,
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

_NOT_FOUND = {404: {"model": ErrorResponse, "description": "Unknown adapter; `available` lists what exists."}}
_PREDICT_ERRORS = {
    **_NOT_FOUND,
    409: {"model": ErrorResponse, "description": "The adapter's files fail verification or do not fit its base."},
    413: {
        "model": ErrorResponse,
        "description": "Too many inputs, too long an input, too many tokens, or a prompt plus its new tokens past "
        "the base's context.",
    },
    429: {"model": ErrorResponse, "description": "The queue is full; retry after the Retry-After header."},
    503: {"model": ErrorResponse, "description": "The server is shutting down."},
}


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
    return Response(state.metrics.render(), media_type=state.metrics.content_type)


@router.get("/v1/adapters", response_model=AdapterList, tags=["adapters"])
async def adapters(request: Request, task: str | None = Query(None, description="Only adapters of this task.")):
    """Every adapter version in the registry with its card, and which are resident."""
    state = _state(request)
    records = await run_in_threadpool(state.hub.registry.list, task=task)
    hot, warm = set(state.hub.loaded), set(state.hub.warm)
    if state.allowed is not None:
        records = [r for r in records if r.ref in state.allowed]
    return AdapterList(
        adapters=[
            AdapterInfo(
                ref=r.ref,
                name=r.name,
                version=r.version,
                aliases=list(r.aliases),
                task=r.card.task,
                method=r.card.method,
                base=r.card.base.id,
                labels=list(r.card.labels),
                metrics=r.card.metrics,
                content_hash=r.card.content_hash,
                resident="hot" if r.ref in hot else "warm" if r.ref in warm else None,
                card=r.card.to_dict(),
            )
            for r in records
        ]
    )


@router.post("/v1/predict", response_model=PredictResponse, responses=_PREDICT_ERRORS, tags=["inference"])
async def predict(body: PredictRequest, request: Request) -> JSONResponse:
    """Run inputs through an adapter. Concurrent requests, for any adapters, run as mixed batches."""
    state = _state(request)
    options = body.options.model_dump() if body.options else {}
    state.check_size(body.inputs, options.get("max_new_tokens"))
    if body.combine is not None or isinstance(body.adapter, list):
        return await _ensemble(state, body)
    record = await state.record(body.adapter)
    generation = GenerationOptions(**options) if record.card.task_type == "CAUSAL_LM" else None
    if generation is not None:
        await state.check_prompts(body.adapter, body.inputs, generation.max_new_tokens)
    results = await state.run(body.adapter, body.inputs, generation)
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


@router.post("/v1/adapters/{name}/load", response_model=LoadResponse, responses=_PREDICT_ERRORS, tags=["adapters"])
async def load(name: str, request: Request) -> LoadResponse:
    """Resolve NAME (or NAME@VERSION, NAME:ALIAS) anew and make it resident: a newly published version is
    swapped in while traffic flows; requests already running finish on the version they started with."""
    record = await run_in_threadpool(_state(request).load, name)
    return LoadResponse(ref=record.ref, content_hash=record.card.content_hash)


@router.delete("/v1/adapters/{name}", response_model=UnloadResponse, responses=_NOT_FOUND, tags=["adapters"])
async def unload(name: str, request: Request) -> UnloadResponse:
    """Free a resident adapter's memory (every loaded version of a bare name). A later request loads it again,
    unless the server runs with --only-preloaded."""
    refs = await run_in_threadpool(_state(request).unload, name)
    return UnloadResponse(unloaded=refs)

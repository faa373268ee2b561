"""OpenAI-compatible routes for generate adapters: completions, chat completions (both stream by server-sent
events) and the model list, with ``model`` naming the adapter as ``NAME[@VERSION]``."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from adapterhub.errors import AdapterHubError
from adapterhub.inference.decoding import GenerationOptions
from adapterhub.inference.inputs import check_texts
from adapterhub.names import REF_PATTERN
from adapterhub.serving.errors import STATUSES, TooLarge, UnknownAdapter
from adapterhub.serving.openai_schemas import (
    AssistantMessage,
    ChatChoice,
    ChatRequest,
    ChatResponse,
    CompletionChoice,
    CompletionRequest,
    CompletionResponse,
    ModelCard,
    ModelList,
    Usage,
    _Sampling,
    chat_prompt,
)
from adapterhub.serving.route_params import NOT_FOUND, PREDICT_ERRORS, RequestKey
from adapterhub.serving.state import ServerState
from adapterhub.tasks.results import Generation

log = logging.getLogger("adapterhub.serving")
router = APIRouter(tags=["openai"])
_STREAM = {200: {"content": {"text/event-stream": {}}, "description": "JSON, or server-sent events with stream"}}


@router.get("/v1/models", response_model=ModelList)
async def models(request: Request) -> ModelList:
    """Generate adapters by name (each resolves to its newest version), with their base as ``parent``."""
    state: ServerState = request.app.state.server
    records = await run_in_threadpool(state.hub.registry.list, task="generate")
    newest = {}
    for record in records:  # newest first within a name
        newest.setdefault(record.name, record)
    if state.allowed is not None:
        newest = {n: r for n, r in newest.items() if n in state.allowed or r.ref in state.allowed}
    return ModelList(data=[_model(state, name, r) for name, r in sorted(newest.items())])


@router.get("/v1/models/{model}", response_model=ModelCard, responses=NOT_FOUND)
async def model(
    request: Request,
    model: str = Path(description="NAME, NAME@VERSION or NAME:ALIAS.", json_schema_extra={"pattern": REF_PATTERN}),
) -> ModelCard:
    """One generate adapter (``client.models.retrieve``): ``root`` is the version ``model`` resolves to."""
    state: ServerState = request.app.state.server
    record = await state.record(model)
    if record.card.task != "generate":
        raise UnknownAdapter(
            model, f"{record.ref} is a {record.card.task} adapter, not a model; GET /v1/models lists the models"
        )
    return _model(state, model, record)


def _model(state: ServerState, ident: str, record: Any) -> ModelCard:
    parent = state.redact.value(record.card.base.id)
    return ModelCard(id=ident, created=_timestamp(record.card.created), root=record.ref, parent=parent)


@router.post("/v1/completions", response_model=CompletionResponse, responses={**PREDICT_ERRORS, **_STREAM})
async def completions(body: CompletionRequest, request: Request, key: str | None = RequestKey) -> Any:
    """Complete one prompt or a list of prompts with a generate adapter. A weighted alias answers each `user`
    (or `X-Request-Key`) from one version; `model` in the answer names the exact version."""
    single = isinstance(body.prompt, str)
    prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
    params = ["prompt"] if single else [f"prompt[{i}]" for i in range(len(prompts))]
    state, options, ref = await _prepare(request, body, prompts, params, key=key)
    ident, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())
    if body.stream:

        def choice(index: int, text: str | None, finish: str | None) -> dict[str, Any]:
            return {"index": index, "text": text or "", "logprobs": None, "finish_reason": finish}

        return _stream(state, body, ref, prompts, options, choice, (ident, "text_completion", created))
    results = await state.run(ref, prompts, options, asked=body.model)
    return CompletionResponse(
        id=ident,
        created=created,
        model=results[0].adapter,
        choices=[
            CompletionChoice(index=i, text=r.text, finish_reason=_finish(r))
            for i, r in enumerate(_generations(results))
        ],
        usage=_usage(results),
    )


@router.post("/v1/chat/completions", response_model=ChatResponse, responses={**PREDICT_ERRORS, **_STREAM})
async def chat_completions(body: ChatRequest, request: Request, key: str | None = RequestKey) -> Any:
    """Answer the last user message with a generate adapter. System messages come first in the prompt and
    earlier turns as ``User: …`` / ``Assistant: …`` lines."""
    check_texts([m.text for m in body.messages], [f"messages[{i}].content" for i in range(len(body.messages))])
    prompts = [chat_prompt(body.messages)]
    _check_chat(request.app.state.server, body)
    state, options, ref = await _prepare(request, body, prompts, ["messages"], sized=[], key=key)
    ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if body.stream:

        def choice(index: int, text: str | None, finish: str | None) -> dict[str, Any]:
            delta = {"role": "assistant", "content": ""} if text is None else {"content": text} if text else {}
            return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}

        return _stream(state, body, ref, prompts, options, choice, (ident, "chat.completion.chunk", created))
    results = await state.run(ref, prompts, options, asked=body.model)
    return ChatResponse(
        id=ident,
        created=created,
        model=results[0].adapter,
        choices=[
            ChatChoice(index=i, message=AssistantMessage(content=r.text), finish_reason=_finish(r))
            for i, r in enumerate(_generations(results))
        ],
        usage=_usage(results),
    )


def _check_chat(state: ServerState, body: ChatRequest) -> None:
    """413 beyond the server's limits, which count each message as an input: at most --max-inputs messages,
    and --max-input-chars characters in each message's text (or in each of its parts)."""
    config = state.config
    if len(body.messages) > config.max_inputs:
        raise TooLarge(f"{len(body.messages)} messages in one chat; at most {config.max_inputs} (drop earlier turns)")
    for index, message in enumerate(body.messages):
        longest = max((len(piece) for piece in message.pieces), default=0)
        if longest > config.max_input_chars:
            raise TooLarge(
                f"message {index} has a text of {longest} characters; at most {config.max_input_chars} (shorten it)"
            )


async def _prepare(
    request: Request,
    body: _Sampling,
    prompts: list[str],
    params: list[str],
    sized: list[str] | None = None,
    key: str | None = None,
) -> tuple[ServerState, GenerationOptions, str]:
    """Every refusal a request can get before it joins a batch (size, input text, adapter, context); the
    options, and the exact NAME@VERSION the request runs on. The server's size limits apply to ``sized`` (the
    prompts unless given: a chat is sized message by message)."""
    state: ServerState = request.app.state.server
    tokens = body.requested_tokens
    if sized is None:
        state.check_size(prompts, tokens, params)
    else:
        state.check_size(sized, tokens)
    record = await state.record(body.model, task="generate", key=key if key is not None else body.user)
    spec = state.target(body.model, record)
    # Either way the adapter is made hot here, before the 200 of a stream goes out, so a broken adapter still
    # gets its status code.
    if tokens is None:  # no limit asked for: the request's default, within the server's and the context's
        cap = min(body.default_tokens or state.config.max_new_tokens, state.config.max_new_tokens)
        room = await run_in_threadpool(state.hub.room, spec, prompts)
        tokens = cap if room is None else min(cap, room)  # fits the context by construction
        if tokens < 1:
            raise TooLarge("the prompt fills the base's whole context, leaving no room for an answer; shorten it")
    else:
        await state.check_prompts(spec, prompts, tokens, params)
    options = GenerationOptions(
        max_new_tokens=tokens,
        temperature=body.temperature,
        top_k=max(body.top_k, 0),
        top_p=body.top_p,
        seed=body.seed,
    )
    record = state.hub.resident_record(spec) or record
    return state, options, record.ref


def _stream(
    state: ServerState,
    body: _Sampling,
    model: str,
    prompts: list[str],
    options: GenerationOptions,
    choice: Callable[[int, str | None, str | None], dict[str, Any]],
    header: tuple[str, str, int],
) -> EventSourceResponse:
    """Server-sent events: one chunk per decoded piece as it is generated (chat first sends each choice's
    role: ``choice(index, None, None)``), a last chunk per choice with its finish reason, usage when
    ``stream_options.include_usage``, then ``[DONE]``. ``header`` is the chunks' (id, object, created).

    The request runs on ``model``, the exact NAME@VERSION it resolved to, and every chunk names it. A failure
    after the 200 went out ends the stream with ``data: {"error": {...}}`` and then ``data: [DONE]``."""
    ident, kind, created = header
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[tuple[int, str]] = asyncio.Queue()

    def on_text(index: int, piece: str) -> None:  # called on the batcher's thread
        loop.call_soon_threadsafe(pieces.put_nowait, (index, piece))

    # a full queue is a 429 before the 200 goes out
    job = state.enqueue(model, prompts, options, on_text, asked=body.model)

    def chunk(model: str, choices: list[dict[str, Any]], **extra: Any) -> str:
        payload = {"id": ident, "object": kind, "created": created, "model": model, "choices": choices, **extra}
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    async def events() -> AsyncIterator[str]:
        if kind == "chat.completion.chunk":
            for index in range(len(prompts)):
                yield chunk(model, [choice(index, None, None)])
        try:
            while not job.done() or not pieces.empty():
                getter = asyncio.ensure_future(pieces.get())
                done, _ = await asyncio.wait({getter, job}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    index, piece = getter.result()
                    yield chunk(model, [choice(index, piece, None)])
                else:
                    getter.cancel()
            results = job.result()
            for index, result in enumerate(_generations(results)):
                yield chunk(model, [choice(index, "", _finish(result))])
            if body.stream_options is not None and body.stream_options.include_usage:
                yield chunk(model, [], usage=_usage(results).model_dump())
        except Exception as exc:  # the status line is sent: the error goes in the stream, which still ends
            yield f"data: {json.dumps({'error': _stream_error(exc, state.redact)}, ensure_ascii=False)}\n\n"
        finally:
            if not job.done():
                job.cancel()
        yield "data: [DONE]\n\n"

    return EventSourceResponse(events(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _stream_error(exc: Exception, redact: Callable[[str], str]) -> dict[str, Any]:
    """The error object of a stream that failed after its 200: the status, type and (path-free) message the same
    error gets as a response; an unexpected error is logged and named by its class only."""
    if isinstance(exc, AdapterHubError):
        for cls, status, kind in STATUSES:
            if isinstance(exc, cls):
                message = redact(str(exc))
                return {"message": message, "type": kind, "param": getattr(exc, "param", None), "code": status}
        return {"message": redact(str(exc)), "type": "internal_error", "param": None, "code": 500}
    log.error("a stream failed", exc_info=exc)
    message = f"internal error ({type(exc).__name__}) while generating; the server log has the details"
    return {"message": message, "type": "internal_error", "param": None, "code": 500}


def _generations(results: list[Any]) -> list[Generation]:
    return [r for r in results if isinstance(r, Generation)]


def _finish(result: Generation) -> str:
    return "stop" if result.finished else "length"


def _usage(results: list[Any]) -> Usage:
    prompt = sum(r.prompt_tokens for r in _generations(results))
    completion = sum(r.tokens for r in _generations(results))
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _timestamp(created: str) -> int:

    try:
        return int(datetime.fromisoformat(created).timestamp())
    except ValueError:
        return 0

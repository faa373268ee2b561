"""Shadow versions at run time: attach, list, report and detach (behind the API key, like load and unload)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from adapterhub.names import REF_PATTERN
from adapterhub.serving.schemas import CROSS_ORIGIN, NOT_JSON, AdapterRef, ErrorResponse
from adapterhub.serving.shadow import Shadow
from adapterhub.serving.state import ServerState

router = APIRouter(tags=["shadows"])

_NO_SHADOW = {404: {"model": ErrorResponse, "description": "The primary has no shadow."}}
_ATTACH_ERRORS = {
    **CROSS_ORIGIN,
    404: {"model": ErrorResponse, "description": "An unknown adapter, version or alias."},
    409: {
        "model": ErrorResponse,
        "description": "A shadow of another task, label set or base, the primary itself, a primary that has a "
        "shadow already, a shadow whose files fail verification, or a server with several workers.",
    },
    **NOT_JSON,
}
PrimaryPath = Path(
    description="The primary as clients name it: NAME, NAME@VERSION or NAME:ALIAS.",
    json_schema_extra={"pattern": REF_PATTERN},
)


class ShadowRequest(BaseModel):
    """A shadow to run on every request that names ``primary``."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"primary": "sentiment:prod", "shadow": "sentiment@4", "share": 0.25}]},
    )

    primary: AdapterRef = Field(description="The adapter as clients name it: NAME, NAME@VERSION or NAME:ALIAS.")
    shadow: AdapterRef = Field(description="The version to compare with it; resolved to its NAME@VERSION now.")
    share: float = Field(
        1.0, gt=0, le=1, description="Of the primary's requests that run the shadow too, evenly spread (1: all)."
    )


class SampleOut(BaseModel):
    input: str
    primary: str = Field(description="The primary's answer: its label, its tags, or its text.")
    shadow: str = Field(description="The shadow's answer, likewise.")
    difference: float | None = Field(description="|Δp| for classifiers, else null.")


class ShadowReport(BaseModel):
    primary: str = Field(description="As clients name it.")
    primary_version: str = Field(description="The NAME@VERSION the primary resolved to when the shadow was attached.")
    shadow: str = Field(description="NAME@VERSION.")
    task: str
    share: float = Field(description="Of the primary's requests that run the shadow too.")
    status: str = Field(description="running, or failed (it could not be loaded; attach it again to retry).")
    failure: str | None = Field(description="Why it failed, when it did.")
    total: int = Field(description="Inputs compared since the shadow was attached.")
    disagreements: int = Field(description="Compared inputs with another top label, tag sequence or text.")
    disagreement_rate: float | None
    mean_probability_difference: float | None = Field(
        description="Mean over classified inputs of the largest |Δp| of one label; null for other tasks."
    )
    errors: int = Field(description="Inputs the shadow could not answer; the primary answered them all.")
    samples: list[SampleOut] | None = Field(
        None, description="The last disagreeing inputs, newest first (kept only with --shadow-samples N)."
    )


class ShadowList(BaseModel):
    shadows: list[ShadowReport]


def _state(request: Request) -> ServerState:
    return request.app.state.server


def _report(request: Request, entry: Shadow, samples: bool = True) -> ShadowReport:
    report = entry.report(samples=samples)
    if report["failure"] is not None:  # an error's text: what failed, without the paths of this machine
        report["failure"] = _state(request).redact(report["failure"])
    return ShadowReport(**report)


@router.get("/v1/shadows", response_model=ShadowList)
async def shadows(request: Request) -> ShadowList:
    """Every shadow with its counts (samples: GET /v1/shadows/{primary})."""
    return ShadowList(shadows=[_report(request, s, samples=False) for s in _state(request).shadows.list()])


@router.post("/v1/shadows", response_model=ShadowReport, responses=_ATTACH_ERRORS)
async def attach(body: ShadowRequest, request: Request) -> ShadowReport:
    """Run ``shadow`` on every request that names ``primary`` (or on ``share`` of them), in the same batch; only
    the primary answers.
    Refused, changing nothing, for a shadow of another task, label set or base, or the primary itself."""
    entry = await run_in_threadpool(_state(request).add_shadow, body.primary, body.shadow, body.share)
    return _report(request, entry)


@router.get("/v1/shadows/{primary}", response_model=ShadowReport, responses=_NO_SHADOW)
async def report(request: Request, primary: str = PrimaryPath) -> ShadowReport:
    """Agreement of the primary's shadow: totals, disagreement rate, mean |Δp| and the kept samples."""
    return _report(request, _state(request).shadows.get(primary))


@router.delete("/v1/shadows/{primary}", response_model=ShadowReport, responses={**_NO_SHADOW, **CROSS_ORIGIN})
async def detach(request: Request, primary: str = PrimaryPath) -> ShadowReport:
    """Stop shadowing the primary; the answer is the shadow's final report."""
    entry = await run_in_threadpool(_state(request).remove_shadow, primary)
    return _report(request, entry)

"""Request and response bodies of the native API (``/v1/predict``, ``/v1/adapters``): the OpenAPI schema."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from adapterhub.names import REF_PATTERN
from adapterhub.tasks.results import Classification, Entities, Generation, Result


def _integral(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# An integer as JSON Schema means it (3 and 3.0, never true or 3.5) in the request models, which are strict
# because pydantic's lax mode also takes true, "3" and 1.0 for an integer and 1 or "yes" for a boolean.
Int = Annotated[int, BeforeValidator(_integral)]
MaybeInt = Annotated[int | None, BeforeValidator(_integral)]  # not `Int | None`: its schema would lose `ge`

# Seeds are the integers every JSON client writes exactly (JavaScript's safe integers): beyond 2**53 a number
# silently changes on its way through a client, and a schema's bounds are compared in floating point.
SEED_MIN, SEED_MAX = -(2**53 - 1), 2**53 - 1


def _seed_in_range(seed: int | None) -> int | None:
    if seed is not None and not SEED_MIN <= seed <= SEED_MAX:
        raise ValueError(f"a seed is an integer from {SEED_MIN} to {SEED_MAX} (2**53 - 1)")
    return seed


Seed = Annotated[
    MaybeInt,
    AfterValidator(_seed_in_range),
    # the range in the schema only: out of it, _seed_in_range's message names both ends
    Field(
        description="Seed for sampling, for reproducible outputs.",
        json_schema_extra={"minimum": SEED_MIN, "maximum": SEED_MAX},
    ),
]
# NAME, NAME@VERSION or NAME:ALIAS: the pattern documents the naming rules, which Ref.parse enforces (a 422 that
# says which rule a name breaks)
AdapterRef = Annotated[str, Field(json_schema_extra={"pattern": REF_PATTERN, "maxLength": 129})]


class Options(BaseModel):
    """How generate adapters pick tokens; other tasks ignore these."""

    model_config = ConfigDict(extra="forbid", strict=True)  # see Int

    max_new_tokens: MaybeInt = Field(
        None, ge=1, description="Longest continuation, in tokens [default: 64, or the server's limit if lower]."
    )
    temperature: float = Field(0.0, ge=0, description="0 is greedy decoding.")
    top_k: Int = Field(0, ge=0, description="Sample among the k likeliest tokens (0: all).")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling mass.")
    seed: Seed = None


class PredictRequest(BaseModel):
    """Inputs for one adapter; concurrent requests for any adapters are batched together."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"adapter": "sentiment", "inputs": ["great film", "dull and long"]}],
            # a list of adapters is an ensemble, and an ensemble is a list of at least two
            "allOf": [
                {
                    "if": {"required": ["combine"], "properties": {"combine": {"const": "mean"}}},
                    "then": {"properties": {"adapter": {"type": "array", "minItems": 2, "uniqueItems": True}}},
                },
                {
                    "if": {"required": ["adapter"], "properties": {"adapter": {"type": "array"}}},
                    "then": {"required": ["combine"], "properties": {"combine": {"const": "mean"}}},
                },
            ],
        },
    )

    adapter: AdapterRef | list[AdapterRef] = Field(
        min_length=1,
        description="NAME (newest version), NAME@VERSION or NAME:ALIAS; a list of them with `combine` (an ensemble).",
    )
    inputs: list[str] = Field(min_length=1, description="Texts to run through the adapter.")
    options: Options | None = None
    combine: Literal["mean"] | None = Field(
        default=None,
        description="mean: `adapter` lists classifiers of one label set whose class probabilities are averaged.",
    )


class ClassificationOut(BaseModel):
    type: Literal["classification"] = "classification"
    adapter: str
    label: str
    score: float
    scores: dict[str, float]


class EntityOut(BaseModel):
    text: str
    type: str
    start: int = Field(description="Character offset of the entity in the input.")
    end: int
    score: float


class EntitiesOut(BaseModel):
    type: Literal["entities"] = "entities"
    adapter: str
    entities: list[EntityOut]
    words: list[str]
    tags: list[str] = Field(description="The BIO tag of every word.")


class GenerationOut(BaseModel):
    type: Literal["generation"] = "generation"
    adapter: str
    text: str
    tokens: int
    prompt_tokens: int
    finished: bool = Field(description="True when the model ended the text itself, false when max_new_tokens cut it.")


ResultOut = Annotated[ClassificationOut | EntitiesOut | GenerationOut, Field(discriminator="type")]


class PredictResponse(BaseModel):
    adapter: str = Field(description="The exact adapter version that answered, e.g. sentiment@3.")
    results: list[ResultOut] = Field(description="One result per input, in input order.")


def result_json(result: Result) -> dict[str, Any]:
    """A library result as the JSON of its schema above (``type`` tells which)."""
    kind = {Classification: "classification", Entities: "entities", Generation: "generation"}[type(result)]
    return {"type": kind, **result.to_dict()}


class AdapterInfo(BaseModel):
    ref: str = Field(description="NAME@VERSION.")
    name: str
    version: int
    aliases: list[str]
    alias_weights: dict[str, float] = Field(
        description="This version's weight in each weighted alias (a canary) among `aliases`; plain aliases send "
        "it all their traffic."
    )
    task: str
    method: str
    base: str
    labels: list[str]
    metrics: dict[str, float]
    headline_metric: str = Field("", description="Which of `metrics` the registry ranks by (empty: the first).")
    content_hash: str = Field(description="sha256 over the adapter's files: its identity when resident.")
    tags: list[str] = Field(default_factory=list, description="The card's tags.")
    size_bytes: int = Field(0, description="The adapter's files, in bytes.")
    created: str = Field("", description="When the version was published (ISO 8601, UTC).")
    resident: Literal["hot", "warm"] | None = Field(description="hot: on the device; warm: parsed in CPU memory.")
    card: dict[str, Any] | None = Field(None, description="The whole card, with `?cards=true`.")


class AdapterList(BaseModel):
    adapters: list[AdapterInfo] = Field(description="By name, then newest version first.")
    next: str | None = Field(description="Pass as `?cursor=` for the next page; null on the last page.")
    remote: str | None = Field(
        None,
        description="The remote (hub serve --remote) that an adapter absent from this list is pulled from when "
        "requested: the list holds the server's local registry only (`hub list --remote NAME` lists the remote). "
        "Null when the server has no remote.",
    )


class LoadResponse(BaseModel):
    ref: str
    content_hash: str
    resident: Literal["hot"] = "hot"


class UnloadResponse(BaseModel):
    unloaded: list[str]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    hot: int = Field(description="Adapters on the device.")
    queue: int = Field(description="Inputs waiting or running.")


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: int
    available: list[str] | None = Field(
        None, description="For an unknown adapter: every name, or the closest ones when there are more than 20."
    )
    available_count: int | None = Field(None, description="How many names exist in all.")
    id: str | None = Field(None, description="For a 500: what the server's log records the error under.")


class ErrorResponse(BaseModel):
    error: ErrorDetail


# documented answers every state-changing route can give (the OpenAPI `responses` of a route)
CROSS_ORIGIN = {403: {"model": ErrorResponse, "description": "A cross-origin request (its Origin is another site)."}}
NOT_JSON = {415: {"model": ErrorResponse, "description": "A body not sent as `Content-Type: application/json`."}}

"""What the native and OpenAI-compatible routes declare alike: the request key header, the path's adapter
reference and the error answers a prediction may get (for the OpenAPI schema)."""

from __future__ import annotations

from fastapi import Header, Path

from adapterhub.names import REF_PATTERN
from adapterhub.serving.schemas import CROSS_ORIGIN, NOT_JSON, ErrorResponse

KEY_HEADER = "X-Request-Key"  # the caller's id a weighted alias routes by (OpenAI routes also take `user`)

NOT_FOUND = {404: {"model": ErrorResponse, "description": "Unknown adapter; `available` lists the closest names."}}
PREDICT_ERRORS = {
    **NOT_FOUND,
    **CROSS_ORIGIN,
    409: {"model": ErrorResponse, "description": "The adapter's files fail verification or do not fit its base."},
    413: {
        "model": ErrorResponse,
        "description": "Too many inputs, too long an input, too many tokens, or a prompt plus its new tokens past "
        "the base's context.",
    },
    **NOT_JSON,
    429: {"model": ErrorResponse, "description": "The queue is full; retry after the Retry-After header."},
    503: {"model": ErrorResponse, "description": "The server is shutting down, or its remote cannot be reached."},
}
# a path's {name}: the pattern documents the naming rules; Ref.parse enforces them with a message per rule
NamePath = Path(description="NAME, NAME@VERSION or NAME:ALIAS.", json_schema_extra={"pattern": REF_PATTERN})
RequestKey = Header(
    None,
    alias=KEY_HEADER,
    max_length=256,
    description="The caller's id: a weighted alias (a canary) sends every request with the same key to the same "
    "version. Without it, each request goes to a version picked at random by weight.",
)

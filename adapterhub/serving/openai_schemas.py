"""OpenAI-compatible bodies for ``/v1/completions``, ``/v1/chat/completions`` and ``/v1/models``.

``model`` names an adapter as ``NAME[@VERSION]`` (or ``NAME:ALIAS``). Fields this server cannot honour are
refused with 422 when they ask for something other than their default, never silently ignored; fields that do
not change the output (``user``, ``metadata``, ``service_tier``, ...) are accepted.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from adapterhub.serving.schemas import AdapterRef, Int, MaybeInt, Seed

# field -> the values that mean "not used"
UNSUPPORTED: dict[str, tuple[Any, ...]] = {
    "n": (1, None),
    "best_of": (1, None),
    "echo": (False, None),
    "logprobs": (None, False),
    "top_logprobs": (None, 0),
    "stop": (None, [], ""),
    "suffix": (None, ""),
    "presence_penalty": (0, 0.0, None),
    "frequency_penalty": (0, 0.0, None),
    "logit_bias": (None, {}),
    "tools": (None, []),
    "tool_choice": (None, "none"),
    "parallel_tool_calls": (None, True),
    "functions": (None, []),
    "function_call": (None, "none"),
    "response_format": (None, {"type": "text"}),
    "modalities": (None, ["text"]),
    "audio": (None,),
    "prediction": (None,),
    "web_search_options": (None,),
    "reasoning_effort": (None,),
    "store": (None, False),
}


class StreamOptions(BaseModel):
    model_config = ConfigDict(strict=True)

    include_usage: bool = False


class _Sampling(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        strict=True,  # see schemas.Int
        json_schema_extra={  # not both token limits
            "not": {
                "required": ["max_tokens", "max_completion_tokens"],
                "properties": {"max_tokens": {"type": "integer"}, "max_completion_tokens": {"type": "integer"}},
            }
        },
    )

    model: AdapterRef = Field(min_length=1, description="The adapter: NAME, NAME@VERSION or NAME:ALIAS.")
    max_tokens: MaybeInt = Field(None, ge=1, description="Longest completion, in tokens.")
    max_completion_tokens: MaybeInt = Field(None, ge=1, description="The same as max_tokens (its newer name).")
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: Int = Field(0, ge=-1, description="Sample among the k likeliest tokens; 0 or -1: all.")
    seed: Seed = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(
        None,
        max_length=256,
        description="The caller's id. A weighted alias (a canary) sends every request of one user to the same "
        "version; the `X-Request-Key` header, when sent, takes its place.",
    )

    @model_validator(mode="after")
    def _refuse_unsupported(self) -> _Sampling:
        for name, value in (self.model_extra or {}).items():
            if name in UNSUPPORTED and value not in UNSUPPORTED[name]:
                raise ValueError(f"{name}={value!r} is not supported by this server; leave it out")
        if self.max_tokens is not None and self.max_completion_tokens is not None:
            raise ValueError("give max_tokens or max_completion_tokens (its newer name), not both")
        return self

    # without a limit: at most this many tokens (None: as many as the server allows and the context holds)
    default_tokens: ClassVar[int | None] = None

    @property
    def requested_tokens(self) -> int | None:
        """The longest completion asked for, None when the request leaves it to the server."""
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(_Sampling):
    prompt: str | list[str] = Field(description="A prompt, or a list of prompts (one choice each).")

    default_tokens: ClassVar[int | None] = 16  # OpenAI's default for completions


class TextPart(BaseModel):
    model_config = ConfigDict(strict=True)

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(strict=True)

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]

    @property
    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)

    @property
    def pieces(self) -> list[str]:
        """The texts the server's per-input limits apply to: the content, or each of its parts."""
        return [self.content] if isinstance(self.content, str) else [p.text for p in self.content]


class ChatRequest(_Sampling):
    """A chat; without max_tokens the answer may run to the server's --max-new-tokens, as far as the base's
    context leaves room after the prompt."""

    messages: list[ChatMessage] = Field(
        min_length=1,
        description="The conversation; the last message must have role `user` (the one the adapter answers).",
        json_schema_extra={"x-last-message-role": "user"},
    )

    @model_validator(mode="after")
    def _ends_with_user(self) -> ChatRequest:
        if self.messages[-1].role != "user":
            raise ValueError("the last message must have role 'user': it is what the adapter answers")
        return self


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class CompletionChoice(BaseModel):
    index: int
    text: str
    logprobs: None = None
    finish_reason: Literal["stop", "length"] | None


class CompletionResponse(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str = Field(description="The exact adapter version that answered.")
    choices: list[CompletionChoice]
    usage: Usage | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]


class ChatResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "adapterhub"
    root: str = Field(description="The exact adapter version the name resolves to.")
    parent: str = Field(description="The base model the adapter runs on.")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def chat_prompt(messages: list[ChatMessage]) -> str:
    """The instruction a generate adapter answers: system text first, earlier turns as labelled lines, then the
    last user message."""
    system = [m.text for m in messages[:-1] if m.role in ("system", "developer")]
    turns = [f"{m.role.capitalize()}: {m.text}" for m in messages[:-1] if m.role in ("user", "assistant")]
    return "\n\n".join([*system, *(["\n".join(turns)] if turns else []), messages[-1].text])

"""OpenAI-compatible bodies for ``/v1/completions``, ``/v1/chat/completions`` and ``/v1/models``.

``model`` names an adapter as ``NAME[@VERSION]`` (or ``NAME:ALIAS``). Fields this server cannot honour are
refused with 422 when they ask for something other than their default, never silently ignored; fields that do
not change the output (``user``, ...) are accepted.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
    "response_format": (None, {"type": "text"}),
}


class StreamOptions(BaseModel):
    include_usage: bool = False


class _Sampling(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, description="The adapter: NAME, NAME@VERSION or NAME:ALIAS.")
    max_tokens: int = Field(16, ge=1, description="Longest completion, in tokens.")
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int = Field(0, ge=-1, description="Sample among the k likeliest tokens; 0 or -1: all.")
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None

    @model_validator(mode="after")
    def _refuse_unsupported(self) -> _Sampling:
        for name, value in (self.model_extra or {}).items():
            if name in UNSUPPORTED and value not in UNSUPPORTED[name]:
                raise ValueError(f"{name}={value!r} is not supported by this server; leave it out")
        return self


class CompletionRequest(_Sampling):
    prompt: str | list[str] = Field(description="A prompt, or a list of prompts (one choice each).")


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]

    @property
    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)


class ChatRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1)

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

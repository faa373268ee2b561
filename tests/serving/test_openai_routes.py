"""OpenAI-compatible completions, chat completions (plain and streamed) and the model list."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from adapterhub.inference import Hub
from adapterhub.registry import Registry
from adapterhub.serving.openai_schemas import ChatMessage, chat_prompt


def _events(response) -> list:
    assert response.headers["content-type"].startswith("text/event-stream")
    out = []
    for block in response.text.split("\n\n"):
        if block.strip():
            assert block.startswith("data: "), block
            payload = block[len("data: ") :]
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def test_models_lists_generate_adapters_with_their_base_as_parent(client: TestClient, tiny_gpt2) -> None:
    body = client.get("/v1/models").json()
    assert body["object"] == "list"
    # a base given as a local directory is named by its folder, never by where it lies on the server
    assert [(m["id"], m["root"], m["parent"]) for m in body["data"]] == [("poet", "poet@1", tiny_gpt2.name)]
    assert body["data"][0]["object"] == "model" and body["data"][0]["created"] > 0


def test_completion_equals_the_hub_and_counts_usage(client: TestClient, registry: Registry) -> None:
    hub = Hub(registry, device="cpu")
    request = {"model": "poet", "prompt": "the sea at night", "max_tokens": 6, "temperature": 0}
    body = client.post("/v1/completions", json=request).json()
    want = hub.predict("the sea at night", adapter="poet", max_new_tokens=6)
    assert body["object"] == "text_completion" and body["id"].startswith("cmpl-")
    assert body["model"] == "poet@1"
    choice = body["choices"][0]
    assert choice["text"] == want.text and choice["index"] == 0
    assert choice["finish_reason"] == ("stop" if want.finished else "length")
    assert body["usage"] == {
        "prompt_tokens": want.prompt_tokens,
        "completion_tokens": want.tokens,
        "total_tokens": want.prompt_tokens + want.tokens,
    }
    body = client.post(
        "/v1/completions", json={**request, "prompt": ["a", "the sea at night"], "model": "poet@1"}
    ).json()
    assert [c["index"] for c in body["choices"]] == [0, 1] and body["choices"][1]["text"] == want.text


def test_sampling_with_a_seed_is_reproducible(client: TestClient) -> None:
    request = {"model": "poet", "prompt": "the sea", "max_tokens": 8, "temperature": 1.0, "top_p": 0.9, "seed": 3}
    first = client.post("/v1/completions", json=request).json()["choices"][0]["text"]
    assert client.post("/v1/completions", json=request).json()["choices"][0]["text"] == first


def test_streamed_completion_sends_pieces_as_they_decode_then_done(client: TestClient) -> None:
    request = {"model": "poet", "prompt": "the sea at night", "max_tokens": 8, "temperature": 0}
    whole = client.post("/v1/completions", json=request).json()
    response = client.post(
        "/v1/completions", json={**request, "stream": True, "stream_options": {"include_usage": True}}
    )
    assert response.status_code == 200
    events = _events(response)
    assert events[-1] == "[DONE]"
    chunks, usage = events[:-2], events[-2]
    assert usage["usage"] == whole["usage"] and usage["choices"] == []
    assert all(c["object"] == "text_completion" and c["id"] == chunks[0]["id"] for c in chunks)
    pieces = [c["choices"][0]["text"] for c in chunks[:-1]]
    assert len([p for p in pieces if p]) >= 2  # streamed piece by piece, not as one block at the end
    assert "".join(pieces) == whole["choices"][0]["text"]
    assert chunks[-1]["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])


def test_chat_completion_answers_the_last_user_message(client: TestClient, registry: Registry) -> None:
    hub = Hub(registry, device="cpu")
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "hi"},
        {"role": "user", "content": [{"type": "text", "text": "write about the sea"}]},
    ]
    request = {"model": "poet", "messages": messages, "max_tokens": 6, "temperature": 0}
    body = client.post("/v1/chat/completions", json=request).json()
    prompt = chat_prompt([ChatMessage(**m) for m in messages])
    assert prompt == "be brief\n\nUser: hello\nAssistant: hi\n\nwrite about the sea"
    want = hub.predict(prompt, adapter="poet", max_new_tokens=6)
    assert body["object"] == "chat.completion" and body["model"] == "poet@1"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": want.text}
    assert body["usage"]["completion_tokens"] == want.tokens

    events = _events(client.post("/v1/chat/completions", json={**request, "stream": True}))
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == want.text
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")


def test_openai_errors(client: TestClient) -> None:
    base = {"model": "poet", "prompt": "x", "max_tokens": 4}
    response = client.post("/v1/completions", json={**base, "n": 2})
    assert response.status_code == 422 and "n=2 is not supported" in response.json()["error"]["message"]
    response = client.post("/v1/completions", json={**base, "stop": ["\n"]})
    assert response.status_code == 422 and "stop" in response.json()["error"]["message"]
    assert client.post("/v1/completions", json={**base, "user": "someone", "n": 1}).status_code == 200
    response = client.post("/v1/completions", json={**base, "model": "sentiment"})
    assert response.status_code == 400 and response.json()["error"]["type"] == "wrong_endpoint"
    assert "use POST /v1/predict" in response.json()["error"]["message"]
    response = client.post("/v1/completions", json={**base, "model": "poem"})
    assert response.status_code == 404 and "poet" in response.json()["error"]["available"]
    chat = {"model": "poet", "messages": [{"role": "assistant", "content": "hi"}]}
    response = client.post("/v1/chat/completions", json=chat)
    assert response.status_code == 422 and "last message" in response.json()["error"]["message"]
    response = client.post("/v1/chat/completions", json={**chat, "messages": [{"role": "robot", "content": "x"}]})
    assert response.status_code == 422 and response.json()["error"]["param"] == "messages.0.role"


def test_every_streamed_chunk_names_the_version_that_answers(client: TestClient) -> None:
    completion = {"model": "poet", "prompt": "the sea", "max_tokens": 4, "temperature": 0, "stream": True}
    chat = {"model": "poet", "messages": [{"role": "user", "content": "the sea"}], "max_tokens": 4, "stream": True}
    for path, body in (("/v1/completions", completion), ("/v1/chat/completions", chat)):
        body["stream_options"] = {"include_usage": True}
        events = _events(client.post(path, json=body))
        assert events[-1] == "[DONE]" and len(events) > 3
        assert {event["model"] for event in events[:-1]} == {"poet@1"}  # the role chunk and usage chunk too
        whole = client.post(path, json={**body, "stream": False}).json()
        assert whole["model"] == "poet@1"


def test_a_stream_that_fails_ends_with_an_error_event_then_done(client: TestClient, monkeypatch) -> None:
    from adapterhub.inference.host import Host

    def broken(self, batch, options, on_text):
        on_text(batch[0].index, "half a ")
        raise RuntimeError("the device fell over")

    monkeypatch.setattr(Host, "_generate", broken)
    for path, body in (
        ("/v1/completions", {"model": "poet", "prompt": "the sea", "max_tokens": 4}),
        ("/v1/chat/completions", {"model": "poet", "messages": [{"role": "user", "content": "x"}], "max_tokens": 4}),
    ):
        response = client.post(path, json={**body, "stream": True})
        assert response.status_code == 200
        events = _events(response)
        assert events[-1] == "[DONE]"
        error = events[-2]["error"]
        assert error["code"] == 500 and error["type"] == "internal_error"
        assert "RuntimeError" in error["message"] and "device fell over" not in error["message"]  # in the log


def test_max_completion_tokens_is_honoured_and_a_chat_without_a_limit_gets_what_fits(serve) -> None:
    chat = {"model": "poet", "messages": [{"role": "user", "content": "the sea"}], "temperature": 0}
    with serve() as client:
        body = client.post("/v1/chat/completions", json={**chat, "max_completion_tokens": 3}).json()
        assert body["usage"]["completion_tokens"] == 3 and body["choices"][0]["finish_reason"] == "length"
        body = client.post("/v1/completions", json={"model": "poet", "prompt": "x", "max_completion_tokens": 2}).json()
        assert body["usage"]["completion_tokens"] == 2
        response = client.post("/v1/chat/completions", json={**chat, "max_tokens": 3, "max_completion_tokens": 3})
        assert response.status_code == 422 and "not both" in response.json()["error"]["message"]

        # no limit: the server's --max-new-tokens (512) bounded by the base's context (128 positions here)
        body = client.post("/v1/chat/completions", json=chat).json()
        usage = body["usage"]
        assert usage["completion_tokens"] > 16
        if body["choices"][0]["finish_reason"] == "length":  # the random tiny model seldom ends a text itself
            assert usage["prompt_tokens"] + usage["completion_tokens"] == 128
        completion = client.post("/v1/completions", json={"model": "poet", "prompt": "x"}).json()
        assert completion["usage"]["completion_tokens"] <= 16  # completions keep OpenAI's default of 16
    with serve(max_new_tokens=5) as client:
        body = client.post("/v1/chat/completions", json=chat).json()
        assert body["usage"]["completion_tokens"] <= 5 and body["choices"][0]["finish_reason"] in ("stop", "length")
        assert client.post("/v1/completions", json={"model": "poet", "prompt": "x"}).status_code == 200
        body = client.post("/v1/predict", json={"adapter": "poet", "inputs": ["x"]}).json()
        assert body["results"][0]["tokens"] <= 5  # the native default (64) stays within the server's limit


def test_fields_the_server_cannot_honour_are_refused_and_their_defaults_accepted(client: TestClient) -> None:
    chat = {"model": "poet", "messages": [{"role": "user", "content": "x"}], "max_tokens": 2}
    function = {"name": "f", "parameters": {"type": "object"}}
    for field, value in (
        ("tool_choice", "auto"),
        ("tools", [{"type": "function", "function": function}]),
        ("parallel_tool_calls", False),
        ("functions", [function]),
        ("function_call", "auto"),
        ("logprobs", True),
        ("top_logprobs", 2),
        ("n", 2),
        ("modalities", ["text", "audio"]),
        ("audio", {"voice": "alloy", "format": "wav"}),
        ("response_format", {"type": "json_object"}),
        ("store", True),
    ):
        response = client.post("/v1/chat/completions", json={**chat, field: value})
        assert response.status_code == 422, field
        message = response.json()["error"]["message"]
        assert f"{field}=" in message and "leave it out" in message
    harmless = {
        "tool_choice": "none",
        "parallel_tool_calls": True,
        "functions": [],
        "function_call": "none",
        "logprobs": False,
        "n": 1,
        "modalities": ["text"],
        "store": False,
        "user": "someone",
        "metadata": {"a": "b"},
    }
    assert client.post("/v1/chat/completions", json={**chat, **harmless}).status_code == 200


def test_a_model_is_retrieved_by_name_and_an_unknown_one_is_a_json_404(client: TestClient, tiny_gpt2) -> None:
    for ident in ("poet", "poet@1"):
        body = client.get(f"/v1/models/{ident}").json()
        assert body == {
            "id": ident,
            "object": "model",
            "created": body["created"],
            "owned_by": "adapterhub",
            "root": "poet@1",
            "parent": tiny_gpt2.name,
        }
    for ident in ("poem", "sentiment"):
        response = client.get(f"/v1/models/{ident}")
        assert response.status_code == 404 and response.headers["content-type"] == "application/json"
        error = response.json()["error"]
        assert error["type"] == "adapter_not_found" and "poet" in error["available"]
    assert "not a model" in client.get("/v1/models/sentiment").json()["error"]["message"]

"""The official ``openai`` client against a real ``hub serve``: what its users call works, and refusals raise
the client's own error classes."""

from __future__ import annotations

import openai
import pytest

from adapterhub.registry import Registry
from tests.serving.test_process import _server


def test_the_official_openai_client_lists_retrieves_completes_and_streams(registry: Registry) -> None:
    with _server(registry, "--adapter", "poet") as (_, url):
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0, timeout=60)
        assert [m.id for m in client.models.list()] == ["poet"]
        assert client.models.retrieve("poet").id == "poet"
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve("poem")

        messages = [{"role": "user", "content": "write about the sea"}]
        chat = client.chat.completions.create(model="poet", messages=messages, max_completion_tokens=3, temperature=0)
        assert chat.model == "poet@1" and chat.usage.completion_tokens == 3
        assert chat.choices[0].finish_reason == "length"
        stream = client.chat.completions.create(
            model="poet", messages=messages, max_completion_tokens=3, temperature=0, stream=True
        )
        streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        assert streamed == chat.choices[0].message.content

        completion = client.completions.create(model="poet@1", prompt="the sea", max_tokens=2, temperature=1, seed=7)
        again = client.completions.create(model="poet@1", prompt="the sea", max_tokens=2, temperature=1, seed=7)
        assert completion.usage.completion_tokens == 2 and completion.choices[0].text == again.choices[0].text

        with pytest.raises(openai.UnprocessableEntityError, match="tool_choice='required' is not supported"):
            client.chat.completions.create(model="poet", messages=messages, tool_choice="required")
        with pytest.raises(openai.UnprocessableEntityError, match="seed"):
            client.completions.create(model="poet", prompt="x", max_tokens=2, seed=10**30)
    with _server(registry, key="other") as (_, url):
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0, timeout=60)
        with pytest.raises(openai.AuthenticationError):
            client.models.list()

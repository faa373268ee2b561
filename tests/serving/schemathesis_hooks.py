"""Schemathesis hooks for tests/serving/test_api_contract.py (loaded through SCHEMATHESIS_HOOKS).

JSON Schema cannot say "the last item of an array": the chat schema states that the last message must come
from the user in its description and as ``x-last-message-role``, and this hook makes the generated chats
keep to it. It changes only a role that is valid in the schema, so a body that breaks the schema still does.
"""

from __future__ import annotations

from typing import Any

import schemathesis

CHAT = "/v1/chat/completions"


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    body = case.body
    if case.operation.path != CHAT or not isinstance(body, dict):
        return
    messages = body.get("messages")
    last = messages[-1] if isinstance(messages, list) and messages else None
    if isinstance(last, dict) and last.get("role") in ("system", "developer", "assistant"):
        last["role"] = "user"

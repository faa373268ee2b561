"""What every answer of the server looks like: one JSON error shape, and no absolute path in any body.

Paths say where the server keeps its files, which is none of a client's business: the registry is named by
nothing ("the registry"), a base given as a local directory by its folder name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.responses import JSONResponse

# an absolute path inside a text: starts with '/' after a space, quote or bracket and runs to the next one
_PATH = re.compile(r"(?<![\w.~/:-])/[^\s'\"(),;]+")
# the server's own routes, which messages name and which are no file paths
_ROUTES = ("/v1/", "/health", "/metrics", "/docs", "/openapi.json", "/redoc")


def error_response(status: int, kind: str, message: str, headers: dict[str, str] | None = None, **extra: Any):
    """``{"error": {"message", "type", "param", "code", ...}}``, the shape OpenAI clients parse."""
    headers = dict(headers or {})
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra.pop("retry_after"))
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    body = {"message": message, "type": kind, "param": extra.pop("param", None), "code": status, **extra}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


class Redactor:
    """Takes the registry's location and every other absolute path out of texts the server sends.

    Example:
        >>> redact = Redactor("/srv/hub/registry")
        >>> redact("unreadable /srv/hub/registry/poet/aliases.json; base /models/tiny-gpt2, see /v1/models")
        'unreadable poet/aliases.json; base tiny-gpt2, see /v1/models'
    """

    def __init__(self, registry_root: str | Path) -> None:
        root = Path(registry_root)
        forms = {str(root), str(root.absolute()), str(root.resolve())}
        self._roots = [
            (form, _whole_path(form, inside=False), _whole_path(form, inside=True))
            for form in sorted((f for f in forms if f not in (".", "/")), key=len, reverse=True)
        ]

    def __call__(self, text: str) -> str:
        for root, bare, inside in self._roots:
            text = text.replace(f"no registry at {root} ", "no registry at the server's registry path ")
            text = inside.sub("", text)
            if root.startswith("/"):  # a relative root such as the default `registry` is also a plain word
                text = bare.sub("the registry", text)  # ("the local registry", `hub registry verify`): kept
        return _PATH.sub(_last_part, text)

    def value(self, value: Any) -> Any:
        """``value`` (JSON-like: dicts, lists, strings) with every string redacted."""
        if isinstance(value, str):
            return self(value) if "/" in value else value
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value


def _whole_path(root: str, *, inside: bool) -> re.Pattern[str]:
    """``root`` where it stands as a whole path (not the tail of a longer one), followed by ``/`` if ``inside``."""
    return re.compile(rf"(?<![\w.~/-]){re.escape(root)}" + ("/" if inside else r"(?![\w~/-]|\.[\w.~/-])"))


def _last_part(match: re.Match[str]) -> str:
    path = match.group(0)
    if path.startswith(_ROUTES):
        return path
    trail = len(path) - len(path.rstrip(".:"))
    core = path[: len(path) - trail].rstrip("/")
    return (core.rsplit("/", 1)[-1] or "/") + path[len(path) - trail :]

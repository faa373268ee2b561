"""The web page's files at /ui (served without the API key, kept to the server's own files) and the
`?name=` filter of GET /v1/adapters that its adapter page reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

AUTH = {"Authorization": "Bearer k"}


def test_the_page_is_served_without_the_key_and_loads_nothing_from_elsewhere(serve: Callable[..., Any]) -> None:
    with serve(api_key="k") as client:
        page = client.get("/ui")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert "/ui/app.js" in page.text and "http" not in page.text.replace("http-equiv", "")
        for script in ("app.js", "server.js"):
            assert f"/ui/{script}" in page.text
            assert client.get(f"/ui/{script}").headers["content-type"].startswith("text/javascript")
        missing = client.get("/ui/secrets.json")
        assert missing.status_code == 404 and "not a file of the web page" in missing.json()["error"]["message"]
        assert client.get("/v1/adapters").status_code == 401  # the data behind the page still needs the key


def test_adapters_of_one_name_with_their_cards(client: Any) -> None:
    body = client.get("/v1/adapters", params={"name": "topic", "cards": "true"}).json()
    assert [a["ref"] for a in body["adapters"]] == ["topic@1"]
    topic = body["adapters"][0]
    assert topic["card"]["method"] == "prefix" and topic["size_bytes"] == topic["card"]["size_bytes"] > 0
    assert topic["created"] == topic["card"]["created"] and topic["tags"] == []
    unknown = client.get("/v1/adapters", params={"name": "nosuch"})
    assert unknown.status_code == 404
    assert client.get("/v1/adapters", params={"name": "Bad Name"}).status_code == 422

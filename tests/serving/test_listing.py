"""A registry of thousands of versions: unknown names stay cheap to refuse and the listing comes in pages."""

from __future__ import annotations

import json
import statistics
import time

import pytest

from adapterhub.cards.card import Card
from adapterhub.registry import Registry

NAMES, VERSIONS = 1000, 2  # 2,000 versions besides the four the registry fixture publishes


def _many_versions(registry: Registry) -> int:
    """Version folders holding only a card (listing and name lookups read nothing else), then one reindex."""
    card = json.loads((registry.get("sentiment").path / "card.json").read_text())
    for i in range(NAMES):
        for version in range(1, VERSIONS + 1):
            folder = registry.root / f"adapter-{i:04d}" / str(version)
            folder.mkdir(parents=True)
            (folder / "card.json").write_text(json.dumps({**card, "name": f"adapter-{i:04d}", "version": version}))
    return registry.reindex()


@pytest.fixture
def card_reads(monkeypatch) -> list[str]:
    """Every card parsed from here on, by where it came from."""
    reads: list[str] = []
    parse = Card.from_json.__func__

    def counted(cls, text, where="card.json"):
        reads.append(where)
        return parse(cls, text, where)

    monkeypatch.setattr(Card, "from_json", classmethod(counted))
    return reads


def test_an_unknown_adapter_reads_no_card_and_lists_only_the_closest_names(serve, registry, card_reads) -> None:
    assert _many_versions(registry) == 2004
    with serve() as client:

        def median_seconds(call) -> float:
            times = []
            for _ in range(7):
                started = time.perf_counter()
                call()
                times.append(time.perf_counter() - started)
            return statistics.median(times)

        card_reads.clear()
        response = client.post("/v1/predict", json={"adapter": "adaptr-0123", "inputs": ["x"]})
        assert response.status_code == 404
        error = response.json()["error"]
        assert error["type"] == "adapter_not_found" and error["available_count"] == 1004
        assert error["available"][0] == "adapter-0123" and len(error["available"]) == 20  # the closest first
        assert str(registry.root) not in response.text
        assert client.post("/v1/adapters/adaptr-0007/load").status_code == 404
        assert card_reads == []  # before: every card of the registry, for every mistyped name

        unknown = median_seconds(lambda: client.post("/v1/predict", json={"adapter": "nope", "inputs": ["x"]}))
        one_item = median_seconds(lambda: client.get("/v1/adapters", params={"limit": 1}))
        assert unknown < 10 * one_item, (unknown, one_item)  # as cheap as a one-line listing, give or take


def test_the_listing_pages_through_every_version_exactly_once(serve, registry) -> None:
    _many_versions(registry)
    want = [r.ref for r in registry.list()]
    with serve() as client:
        seen: list[str] = []
        cursor, pages = None, 0
        while True:
            params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            body = client.get("/v1/adapters", params=params).json()
            assert len(body["adapters"]) <= 500
            seen += [a["ref"] for a in body["adapters"]]
            pages += 1
            cursor = body["next"]
            if cursor is None:
                break
        assert seen == want and len(set(seen)) == 2004 and pages == 5

        response = client.get("/v1/adapters")  # 100 by default, cards only when asked for
        body = response.json()
        assert [a["ref"] for a in body["adapters"]] == want[:100] and body["next"] == want[99]
        assert all(a["card"] is None for a in body["adapters"]) and len(response.content) < 100_000
        cards = client.get("/v1/adapters", params={"limit": 2, "cards": "true"}).json()["adapters"]
        assert [c["card"]["name"] for c in cards] == ["adapter-0000", "adapter-0000"]

        body = client.get("/v1/adapters", params={"task": "ner", "limit": 1}).json()
        assert [a["ref"] for a in body["adapters"]] == ["ner@1"] and body["next"] is None
        body = client.get("/v1/adapters", params={"task": "sentiment", "limit": 1, "cursor": "adapter-0999@1"}).json()
        assert [a["ref"] for a in body["adapters"]] == ["sentiment@1"]

        for params, param in (({"limit": 1001}, "limit"), ({"limit": 0}, "limit"), ({"cursor": "nope@x"}, None)):
            response = client.get("/v1/adapters", params=params)
            assert response.status_code == 422, params
            assert param is None or response.json()["error"]["param"] == param
        response = client.get("/v1/adapters", params={"cursor": "adapter-0001"})
        assert response.status_code == 422 and "NAME@VERSION" in response.json()["error"]["message"]

"""No answer says where the server keeps its files: the registry is named by nothing, a local base by its folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from adapterhub.registry import Registry
from adapterhub.serving.responses import Redactor


@pytest.fixture
def private(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The folder every test path lies under: the registry's and the tiny bases' alike."""
    return str(tmp_path_factory.getbasetemp())


def test_listings_name_a_local_base_by_its_folder_and_the_registry_not_at_all(
    client: TestClient, private: str, tiny_bert, tiny_gpt2
) -> None:
    for path in ("/v1/adapters?cards=true", "/v1/models", "/v1/models/poet"):
        response = client.get(path)
        assert response.status_code == 200 and private not in response.text, path
    adapters = {a["ref"]: a for a in client.get("/v1/adapters", params={"cards": "true"}).json()["adapters"]}
    assert adapters["sentiment@1"]["base"] == tiny_bert.name
    assert adapters["sentiment@1"]["card"]["base"]["id"] == tiny_bert.name
    assert client.get("/v1/models").json()["data"][0]["parent"] == tiny_gpt2.name


def test_errors_never_carry_an_absolute_path(client: TestClient, registry: Registry, private: str) -> None:
    response = client.post("/v1/predict", json={"adapter": "sentimnet", "inputs": ["x"]})
    assert response.status_code == 404 and private not in response.text
    (registry.root / "sentiment" / "aliases.json").write_text("{not json")
    response = client.post("/v1/predict", json={"adapter": "sentiment:prod", "inputs": ["x"]})
    assert response.status_code == 409 and private not in response.text
    assert "sentiment/aliases.json" in response.json()["error"]["message"]  # what is wrong is still said


def test_the_redactor_keeps_routes_and_relative_names() -> None:
    redact = Redactor("/srv/hub/registry")
    text = "unreadable /srv/hub/registry/poet/aliases.json: bad; base /models/tiny-gpt2, see /v1/models"
    assert redact(text) == "unreadable poet/aliases.json: bad; base tiny-gpt2, see /v1/models"
    assert redact("no adapter in /srv/hub/registry (available: a)") == "no adapter in the registry (available: a)"
    assert redact("base sentence-transformers/all-MiniLM-L6-v2") == "base sentence-transformers/all-MiniLM-L6-v2"
    card = {"a": ["/x/y/z.csv", 3], "b": "./data/train.csv"}
    assert redact.value(card) == {"a": ["z.csv", 3], "b": "./data/train.csv"}


def test_a_relative_registry_root_is_redacted_only_where_a_path_starts_with_it() -> None:
    """The default registry is ``./registry``: the word in a command or a route stays, the path prefix goes."""
    redact = Redactor("registry")
    text = "sentiment@1: corrupt; run `hub registry verify`, then `hub rm sentiment@1`; GET /v1/adapters lists them"
    assert redact(text) == text
    assert redact("unreadable registry/poet/aliases.json: bad") == "unreadable poet/aliases.json: bad"
    assert redact("the file my-registry/x and /v1/registry/y stay") == "the file my-registry/x and /v1/registry/y stay"


def test_the_redactor_of_a_relative_registry_leaves_the_word_registry_alone() -> None:
    redact = Redactor("registry")  # the default location, as `hub serve` runs it
    text = (
        "x is neither in the local registry (no adapter named 'x' in registry (available: a)) nor on remote origin; "
        "run `hub registry verify`"
    )
    assert redact(text) == text
    assert redact("unreadable registry/poet/aliases.json: bad") == "unreadable poet/aliases.json: bad"
    assert redact("files in my-registry/poet") == "files in my-registry/poet"  # another folder's name ends so
    absolute = str(Path("registry").absolute())
    assert redact(f"no adapter in {absolute}.") == "no adapter in the registry."
    assert redact(f"unreadable {absolute}/poet/aliases.json") == "unreadable poet/aliases.json"

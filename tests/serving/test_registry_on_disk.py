"""The server reads the registry the way `hub` does: a symlinked work folder is refused there too (nothing it
points to is deleted), and a path with no registry is a 404 that says so."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from adapterhub.registry import Registry


def test_listing_adapters_never_deletes_through_a_symlinked_journal(
    client: TestClient, registry: Registry, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in ("sentiment", "topic", "keep.txt"):  # named like adapters: what a journal replay would act on
        (elsewhere / name).write_text("sentinel")
    journal = registry.root / ".journal"
    if journal.exists():
        journal.rmdir()
    journal.symlink_to(elsewhere)
    response = client.get("/v1/adapters")
    assert response.status_code >= 400 and ".journal is a symlink" in response.json()["error"]["message"]
    assert sorted(p.name for p in elsewhere.iterdir()) == ["keep.txt", "sentiment", "topic"]
    assert all((elsewhere / n).read_text() == "sentinel" for n in ("sentiment", "topic", "keep.txt"))


def test_a_server_on_a_path_with_no_registry_says_so(tmp_path: Path) -> None:
    from adapterhub.inference import Hub
    from adapterhub.serving import ServeConfig, create_app

    missing = tmp_path / "not-yet"
    hub = Hub(Registry(missing), device="cpu")
    with TestClient(create_app(hub, ServeConfig(registry=str(missing))), base_url="http://127.0.0.1:8000") as client:
        response = client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["fine"]})
        listing = client.get("/v1/adapters")
    error = response.json()["error"]
    assert response.status_code == 404 and error["type"] == "adapter_not_found"
    assert error["message"].startswith("no registry at") and str(tmp_path) not in error["message"]  # no paths
    assert listing.status_code == 404 and not missing.exists()

"""The adapter listing reads the registry the way `hub list` does: a symlinked work folder is refused there too,
and nothing it points to is deleted."""

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

"""Push from one registry, pull into another: same numbers, same bytes, nothing sent twice, nothing corrupt
adopted, concurrent pushers safe. Every test runs on a real S3 server (moto, a separate process) and on a
folder remote."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from adapterhub.errors import IncompatibleAdapter, RegistryConflict, RegistryCorrupt
from adapterhub.registry import Registry
from adapterhub.remote import Remote, pull, push
from adapterhub.remote.catalog import blob_key, card_key
from tests.remote.conftest import catalog, corrupt_object, publish


def version_bytes(registry: Registry) -> dict[str, bytes]:
    """Every file of every version folder (card.json included), keyed ``name/version/file``."""
    return {
        str(p.relative_to(registry.root)): p.read_bytes()
        for p in sorted(registry.root.glob("*/[0-9]*/*"))
        if p.is_file()
    }


def test_push_then_pull_gives_the_same_versions_cards_and_aliases(remote: Remote, tmp_path: Path) -> None:
    a = Registry(tmp_path / "a")
    publish(a, "sentiment", tmp_path, fill=1)
    publish(a, "sentiment", tmp_path, fill=2)
    publish(a, "reviews", tmp_path, fill=3)
    a.remove("sentiment@1", force=True)  # pushing keeps numbers: sentiment@2 stays @2 without a @1
    a.tag("sentiment@2", "prod")
    results = push(a, catalog(remote), all_versions=True)
    assert [(r.ref, r.status) for r in results] == [("reviews@1", "pushed"), ("sentiment@2", "pushed")]
    record, before = catalog(remote).tag("sentiment@2", "prod")
    assert (record.ref, record.aliases, before) == ("sentiment@2", ("prod",), None)

    b = Registry(tmp_path / "b")
    pulled = pull(b, catalog(remote), all_versions=True)
    assert [(r.ref, r.status, r.aliases) for r in pulled] == [
        ("reviews@1", "pulled", ()),
        ("sentiment@2", "pulled", ("sentiment:prod",)),
    ]
    assert version_bytes(b) == version_bytes(a)
    assert b.aliases("sentiment") == a.aliases("sentiment") == {"prod": 2}
    assert b.verify() == []
    # later local versions are numbered past the pulled ones
    assert publish(b, "sentiment", tmp_path, fill=4).version == 3
    listed = [(r.ref, r.aliases, r.card) for r in catalog(remote).list()]
    assert listed == [(r.ref, r.aliases, r.card) for r in a.list()]


def test_pushing_the_same_bytes_again_uploads_nothing(remote: Remote, tmp_path: Path) -> None:
    a = Registry(tmp_path / "a")
    publish(a, "sentiment", tmp_path, fill=1, size=4096)
    first = catalog(remote)
    push(a, first, ["sentiment@1"])
    assert first.store.transfer.uploaded_objects == 3  # config, weights, card
    again = catalog(remote)
    assert [(r.status, r.uploaded_bytes) for r in push(a, again, ["sentiment"])] == [("present", 0)]
    assert (again.store.transfer.uploaded_bytes, again.store.transfer.uploaded_objects) == (0, 0)
    # another name with the same files shares their storage: only its card is sent
    publish(a, "copy", tmp_path, fill=1, size=4096)
    shared = catalog(remote)
    [result] = push(a, shared, ["copy"])
    assert (result.uploaded_files, result.skipped_files) == (0, 2)
    assert shared.store.transfer.uploaded_objects == 1


def test_an_interrupted_push_resumes_without_resending_finished_files(remote: Remote, tmp_path: Path) -> None:
    a = Registry(tmp_path / "a")
    publish(a, "sentiment", tmp_path, fill=1)

    def interrupt(ref: str, done: int, total: int) -> None:
        raise KeyboardInterrupt  # Ctrl-C after the first file

    with pytest.raises(KeyboardInterrupt):
        push(a, catalog(remote), ["sentiment"], report=interrupt)
    assert catalog(remote).versions("sentiment") == []  # no card: the version is not on the remote
    resumed = catalog(remote)
    [result] = push(a, resumed, ["sentiment"])
    assert (result.status, result.uploaded_files, result.skipped_files) == ("pushed", 1, 1)
    pull(Registry(tmp_path / "b"), catalog(remote), ["sentiment@1"])


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda data: data[:-1] + bytes([data[-1] ^ 1]), "sha256"),  # one flipped bit
        (lambda data: data[: len(data) // 2], "truncated"),
    ],
    ids=["flipped-byte", "truncated"],
)
def test_a_corrupt_remote_object_is_refused_by_name(remote: Remote, tmp_path: Path, change, words: str) -> None:
    a = Registry(tmp_path / "a")
    record = publish(a, "sentiment", tmp_path, fill=1)
    push(a, catalog(remote), ["sentiment"])
    corrupt_object(remote, blob_key(record.card.files["adapter_model.safetensors"].sha256), change)
    b = Registry(tmp_path / "b")
    with pytest.raises(RegistryCorrupt, match=rf"sentiment@1 .*adapter_model\.safetensors: .*{words}") as caught:
        pull(b, catalog(remote), ["sentiment"])
    assert "\n" not in str(caught.value)
    assert b.names() == [] and not list((b.root / ".staging").iterdir())


def test_a_card_that_does_not_match_its_files_is_refused(remote: Remote, tmp_path: Path) -> None:
    a = Registry(tmp_path / "a")
    publish(a, "sentiment", tmp_path, fill=1)
    push(a, catalog(remote), ["sentiment"])

    def three_labels(data: bytes) -> bytes:
        card = json.loads(data)
        card["labels"] = ["negative", "neutral", "positive"]  # the head has two rows
        return json.dumps(card).encode()

    corrupt_object(remote, card_key("sentiment", 1), three_labels)
    b = Registry(tmp_path / "b")
    with pytest.raises(IncompatibleAdapter, match=r"sentiment@1.*card disagrees with its files.*3 labels"):
        pull(b, catalog(remote), ["sentiment"])
    assert b.names() == []


def test_a_card_listing_a_path_is_refused(remote: Remote, tmp_path: Path) -> None:
    a = Registry(tmp_path / "a")
    publish(a, "sentiment", tmp_path, fill=1)
    push(a, catalog(remote), ["sentiment"])

    def escape(data: bytes) -> bytes:
        card = json.loads(data)
        card["files"]["../../evil.json"] = card["files"].pop("adapter_config.json")
        return json.dumps(card).encode()

    corrupt_object(remote, card_key("sentiment", 1), escape)
    with pytest.raises(RegistryCorrupt, match=r"'\.\./\.\./evil\.json', which is not a plain name"):
        pull(Registry(tmp_path / "b"), catalog(remote), ["sentiment"])
    assert not list(tmp_path.rglob("evil.json"))


def test_a_version_the_remote_holds_with_other_files_is_never_overwritten(remote: Remote, tmp_path: Path) -> None:
    a, b = Registry(tmp_path / "a"), Registry(tmp_path / "b")
    publish(a, "sentiment", tmp_path, fill=1)
    publish(b, "sentiment", tmp_path, fill=2)  # also sentiment@1, other weights
    push(a, catalog(remote), ["sentiment"])
    before, own = catalog(remote).card_bytes("sentiment", 1), version_bytes(b)
    with pytest.raises(RegistryConflict, match=r"refusing to push sentiment@1: remote origin .* other files"):
        push(b, catalog(remote), ["sentiment@1"])
    assert catalog(remote).card_bytes("sentiment", 1) == before
    with pytest.raises(RegistryConflict, match=r"refusing to pull sentiment@1"):
        pull(b, catalog(remote), ["sentiment@1"])
    assert version_bytes(b) == own


def test_concurrent_pushers_of_new_versions_all_succeed_and_nothing_is_lost(remote: Remote, tmp_path: Path) -> None:
    a = Registry(tmp_path / "a")
    for fill in range(1, 7):
        publish(a, "sentiment", tmp_path, fill=fill)
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def pusher(refs: list[str]) -> None:
        remote_registry = catalog(remote)  # each pusher its own client, as on its own machine
        start.wait()
        try:
            push(a, remote_registry, refs)
        except BaseException as exc:
            errors.append(exc)

    groups = [["sentiment@1", "sentiment@4"], ["sentiment@2", "sentiment@5"], ["sentiment@3", "sentiment@6"]]
    threads = [threading.Thread(target=pusher, args=(g,)) for g in groups]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert catalog(remote).versions("sentiment") == [1, 2, 3, 4, 5, 6]
    b = Registry(tmp_path / "b")
    pull(b, catalog(remote), all_versions=True)
    assert version_bytes(b) == version_bytes(a)


def test_racing_pushers_of_one_number_leave_exactly_one_winner(remote: Remote, tmp_path: Path) -> None:
    rivals = [Registry(tmp_path / f"r{i}") for i in range(4)]
    for i, registry in enumerate(rivals):
        publish(registry, "sentiment", tmp_path, fill=10 + i)  # four different sentiment@1
    start = threading.Barrier(len(rivals))
    outcome: dict[int, str] = {}

    def pusher(i: int) -> None:
        remote_registry = catalog(remote)
        start.wait()
        try:
            push(rivals[i], remote_registry, ["sentiment@1"])
            outcome[i] = "pushed"
        except RegistryConflict:
            outcome[i] = "refused"

    threads = [threading.Thread(target=pusher, args=(i,)) for i in range(len(rivals))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcome.values()) == ["pushed", "refused", "refused", "refused"]
    [winner] = [rivals[i] for i, status in outcome.items() if status == "pushed"]
    b = Registry(tmp_path / "b")
    pull(b, catalog(remote), ["sentiment@1"])
    assert version_bytes(b) == version_bytes(winner)

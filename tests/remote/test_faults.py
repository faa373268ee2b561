"""Faults during push and pull, with ``hub`` run as users run it (its own process) against a real S3 server (moto,
its own process) behind a proxy process that holds the transfer at a chosen request: the connection killed
mid-transfer, Ctrl-C mid-transfer, several machines pushing at once. Both sides stay consistent and a rerun
resumes without moving finished files again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from adapterhub.errors import RegistryCorrupt
from adapterhub.registry import Registry
from adapterhub.remote import Remote, RemoteRegistry, add_remote, pull, push
from tests.remote.conftest import Proxy, catalog, publish, s3_client
from tests.remote.test_push_pull import version_bytes

HUB = Path(sys.executable).with_name("hub")  # the installed entry point
WEIGHTS = "adapter_model.safetensors"


def hub_process(registry: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(HUB), "--registry", str(registry), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def hub_run(registry: Path, *args: str) -> tuple[int, str, str]:
    process = hub_process(registry, *args)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def new_bucket(endpoint: str) -> str:
    """The URL of a new, empty remote on the S3 server."""
    bucket = f"team-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/adapters"


def three_versions(root: Path, tmp_path: Path) -> Registry:
    """sentiment@1..3: one shared config file, three different weights files (four blobs in all)."""
    registry = Registry(root)
    for fill in (1, 2, 3):
        publish(registry, "sentiment", tmp_path, fill=fill, size=4096)
    return registry


def sha(registry: Registry, version: int, filename: str = WEIGHTS) -> str:
    return registry.get(f"sentiment@{version}").card.files[filename].sha256


def puts(proxy: Proxy) -> list[str]:
    """Paths of the objects written through the proxy, without the bucket."""
    return [line.split("/", 2)[2] for line in proxy.requests() if line.startswith("PUT ")]


def blob_gets(proxy: Proxy) -> list[str]:
    """The sha256 of every blob downloaded through the proxy."""
    return [line.rsplit("/", 1)[1] for line in proxy.requests() if line.startswith("GET ") and "/blobs/" in line]


def assert_one_line(err: str, start: str) -> None:
    assert err.count("\n") == 1 and err.startswith(start), err


def assert_intact(registry: Registry, before: dict[str, bytes]) -> None:
    """The registry holds exactly ``before`` and `hub registry verify` finds nothing wrong."""
    assert version_bytes(registry) == before
    code, out, err = hub_run(registry.root, "registry", "verify")
    assert code == 0, out + err


def stop_within_seconds(process: subprocess.Popen, fault) -> tuple[str, str, float]:
    """Apply ``fault`` and return the process's stdout, stderr and the seconds it took to exit after it."""
    started = time.monotonic()
    fault()
    out, err = process.communicate(timeout=120)
    return out, err, time.monotonic() - started


# ------------------------------------------------------------------------------------------------ push


@pytest.mark.parametrize("fault", ["server-gone", "ctrl-c", "killed"])
def test_an_interrupted_push_leaves_no_half_version_and_a_rerun_sends_only_the_rest(
    proxy: Proxy, s3_endpoint: str, tmp_path: Path, fault: str
) -> None:
    a = three_versions(tmp_path / "a", tmp_path)
    url = new_bucket(s3_endpoint)
    add_remote(a.root, Remote("origin", url, endpoint_url=proxy.endpoint))
    before = version_bytes(a)
    # the config and the weights of @1 and @2 go through; @3's weights hang half sent
    proxy.start("--stall", r"PUT \S*/blobs/:3")
    pushing = hub_process(a.root, "push", "--all")
    assert proxy.wait_until_stalled().endswith(f"/blobs/{sha(a, 3)}")
    if fault == "server-gone":
        out, err, seconds = stop_within_seconds(pushing, proxy.kill)
        assert pushing.returncode == 8
        assert_one_line(err, f"error: cannot reach remote {url} at {proxy.endpoint}: ")
    elif fault == "ctrl-c":
        out, err, seconds = stop_within_seconds(pushing, lambda: pushing.send_signal(signal.SIGINT))
        assert pushing.returncode == 130
        assert_one_line(err, "error: push to origin interrupted: a version whose card was not written is not on")
        proxy.kill()
    else:  # the machine pushing dies (kill -9, power cut): nothing of the command runs after this
        out, err, seconds = stop_within_seconds(pushing, pushing.kill)
        assert pushing.returncode == -signal.SIGKILL
        proxy.kill()
    assert out == "" and seconds < 10  # no retry storm
    assert_intact(a, before)
    direct = RemoteRegistry(Remote("direct", url, endpoint_url=s3_endpoint))
    assert direct.versions("sentiment") == [1, 2]  # @3 has blobs but no card: not a version
    assert direct.store.size(f"blobs/{sha(a, 2)}") == a.get("sentiment@2").card.files[WEIGHTS].bytes

    proxy.start()
    code, out, err = hub_run(a.root, "list", "--remote", "origin")
    assert code == 0 and [line.split()[:2] for line in out.splitlines()[1:]] == [["sentiment", "2"], ["sentiment", "1"]]
    code, out, err = hub_run(a.root, "push", "--all")
    assert code == 0, err
    assert out.splitlines()[:2] == [f"sentiment@{v} is on origin already; nothing sent" for v in (1, 2)]
    assert out.splitlines()[2].startswith("pushed sentiment@3 to origin: 1 file(s), ")
    assert out.splitlines()[2].endswith(" sent, 1 already there")
    assert puts(proxy) == [f"adapters/blobs/{sha(a, 3)}", "adapters/cards/sentiment/3.json"]
    b = Registry(tmp_path / "b")
    pull(b, direct, all_versions=True)
    assert version_bytes(b) == before


# ------------------------------------------------------------------------------------------------ pull


@pytest.mark.parametrize("fault", ["server-gone", "ctrl-c", "killed"])
def test_an_interrupted_pull_adds_nothing_and_a_rerun_downloads_only_the_rest(
    proxy: Proxy, s3_endpoint: str, tmp_path: Path, fault: str
) -> None:
    a = Registry(tmp_path / "a")
    publish(a, "sentiment", tmp_path, fill=1, size=4096)
    url = new_bucket(s3_endpoint)
    push(a, RemoteRegistry(Remote("direct", url, endpoint_url=s3_endpoint)), ["sentiment"])
    b = Registry(tmp_path / "b")
    add_remote(b.root, Remote("origin", url, endpoint_url=proxy.endpoint))
    # the config arrives whole; the weights' request hangs half sent
    proxy.start("--stall", r"GET \S*/blobs/:1")
    pulling = hub_process(b.root, "pull", "sentiment")
    assert proxy.wait_until_stalled().endswith(f"/blobs/{sha(a, 1)}")
    if fault == "server-gone":
        out, err, seconds = stop_within_seconds(pulling, proxy.kill)
        assert pulling.returncode == 8
        assert_one_line(err, f"error: cannot reach remote {url} at {proxy.endpoint}: ")
    elif fault == "ctrl-c":
        out, err, seconds = stop_within_seconds(pulling, lambda: pulling.send_signal(signal.SIGINT))
        assert pulling.returncode == 130
        assert_one_line(err, "error: pull from origin interrupted: no unfinished version was added locally")
        proxy.kill()
    else:  # the pulling machine dies: its staging folder stays until the next writer clears it
        out, err, seconds = stop_within_seconds(pulling, pulling.kill)
        assert pulling.returncode == -signal.SIGKILL
        proxy.kill()
    assert out == "" and seconds < 10
    assert_intact(b, {})
    assert b.names() == [] and b.reindex() == 0
    config = a.get("sentiment@1").card.files["adapter_config.json"].sha256
    assert [p.name for p in (b.root / ".downloads").iterdir()] == [config]  # verified, kept, never listed

    proxy.start()
    code, out, err = hub_run(b.root, "pull", "sentiment")
    assert code == 0, err
    assert out.startswith("pulled sentiment@1 from origin: ") and out.endswith(", verified\n")
    assert blob_gets(proxy) == [sha(a, 1)]  # the config, finished before the fault, is not downloaded again
    assert_intact(b, version_bytes(a))
    assert list(b.download_cache().iterdir()) == []  # emptied once the version is in
    assert list((b.root / ".staging").iterdir()) == []


def test_an_interrupted_pull_resumes_without_downloading_finished_files(remote: Remote, tmp_path: Path) -> None:
    a = Registry(tmp_path / "a")
    record = publish(a, "sentiment", tmp_path, fill=1, size=4096)
    push(a, catalog(remote), ["sentiment"])
    b = Registry(tmp_path / "b")

    def interrupt(ref: str, done: int, total: int) -> None:
        raise KeyboardInterrupt  # Ctrl-C once the first file is in

    first = catalog(remote)
    with pytest.raises(KeyboardInterrupt):
        pull(b, first, ["sentiment"], report=interrupt)
    config = record.card.files["adapter_config.json"]
    weights = record.card.files[WEIGHTS]
    assert b.names() == [] and b.verify() == []
    resumed = catalog(remote)
    [result] = pull(b, resumed, ["sentiment"])
    assert (result.status, result.downloaded_bytes) == ("pulled", weights.bytes)
    assert first.store.transfer.downloaded_bytes > config.bytes  # the first pull did fetch the config
    assert version_bytes(b) == version_bytes(a) and b.verify() == []


def test_a_damaged_download_cache_entry_is_downloaded_again(remote: Remote, tmp_path: Path) -> None:
    a = Registry(tmp_path / "a")
    record = publish(a, "sentiment", tmp_path, fill=1, size=4096)
    push(a, catalog(remote), ["sentiment"])
    b = Registry(tmp_path / "b")
    cache = b.download_cache()
    config, weights = record.card.files["adapter_config.json"], record.card.files[WEIGHTS]
    (cache / config.sha256).write_bytes(b"{}")  # a file of the right name and the wrong bytes
    (cache / weights.sha256).symlink_to(record.path / WEIGHTS)  # a link is never followed, even to good bytes
    [result] = pull(b, catalog(remote), ["sentiment"])
    assert result.downloaded_bytes == config.bytes + weights.bytes
    assert version_bytes(b) == version_bytes(a) and b.verify() == []
    assert list(cache.iterdir()) == []


def test_a_download_cache_that_is_a_link_is_refused_and_reported(remote: Remote, tmp_path: Path) -> None:
    a = Registry(tmp_path / "a")
    publish(a, "sentiment", tmp_path, fill=1)
    push(a, catalog(remote), ["sentiment"])
    b = Registry(tmp_path / "b")
    b.root.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (b.root / ".downloads").symlink_to(elsewhere)
    with pytest.raises(RegistryCorrupt, match=r"\.downloads is a symlink"):
        pull(b, catalog(remote), ["sentiment"])
    assert list(elsewhere.iterdir()) == []
    assert [(p.where, p.file) for p in b.verify()] == [("registry", ".downloads")]


# ------------------------------------------------------------------------------------------------ racing pushers


def test_pushers_on_several_machines_push_new_versions_of_one_name_at_once(
    proxy: Proxy, s3_endpoint: str, tmp_path: Path
) -> None:
    url = new_bucket(s3_endpoint)
    machines = []
    for i in range(3):  # machine i holds sentiment@(i+1) and @(i+4)
        registry = Registry(tmp_path / f"machine{i}")
        for fill in range(1, 7):
            publish(registry, "sentiment", tmp_path, fill=fill)
        registry.remove([f"sentiment@{v}" for v in range(1, 7) if v % 3 != (i + 1) % 3], force=True)
        add_remote(registry.root, Remote("origin", url, endpoint_url=proxy.endpoint))
        machines.append(registry)
    assert [m.versions("sentiment") for m in machines] == [[1, 4], [2, 5], [3, 6]]
    proxy.start("--gather", r"PUT \S*/cards/:3")  # every machine's first card reaches the server at once
    pushers = [hub_process(m.root, "push", "--all") for m in machines]
    results = [(p.communicate(timeout=120), p.returncode) for p in pushers]
    assert [code for _, code in results] == [0, 0, 0], results
    direct = RemoteRegistry(Remote("direct", url, endpoint_url=s3_endpoint))
    assert direct.versions("sentiment") == [1, 2, 3, 4, 5, 6]
    b = Registry(tmp_path / "b")
    pull(b, direct, all_versions=True)
    expected = {}
    for machine in machines:
        expected.update(version_bytes(machine))
    assert version_bytes(b) == expected


def test_machines_racing_to_push_one_number_leave_exactly_one_winner(
    proxy: Proxy, s3_endpoint: str, tmp_path: Path
) -> None:
    url = new_bucket(s3_endpoint)
    rivals = []
    for i in range(4):
        registry = Registry(tmp_path / f"machine{i}")
        publish(registry, "sentiment", tmp_path, fill=10 + i)  # four different sentiment@1
        add_remote(registry.root, Remote("origin", url, endpoint_url=proxy.endpoint))
        rivals.append(registry)
    # all four found no card, sent their blobs, and now create the card at the same moment
    proxy.start("--gather", r"PUT \S*/cards/:4")
    pushers = [hub_process(r.root, "push", "sentiment@1") for r in rivals]
    results = [(*p.communicate(timeout=120), p.returncode) for p in pushers]
    assert sorted(code for _, _, code in results) == [0, 6, 6, 6], results
    for out, err, code in results:
        if code == 6:
            assert out == ""
            assert_one_line(err, "error: refusing to push sentiment@1: remote origin and the local registry each")
    assert len([line for line in proxy.requests() if line.startswith("PUT ") and "/cards/" in line]) == 4
    [winner] = [rivals[i] for i, (_, _, code) in enumerate(results) if code == 0]
    b = Registry(tmp_path / "b")
    pull(b, RemoteRegistry(Remote("direct", url, endpoint_url=s3_endpoint)), ["sentiment@1"])
    assert version_bytes(b) == version_bytes(winner)

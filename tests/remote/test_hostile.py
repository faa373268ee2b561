"""A remote is untrusted input: every bad card of the hostile remote (tests/remote/hostile.py), on a folder and on
the S3 server, is refused in one line by `hub pull`, `hub serve --remote` and `hub list --remote`; nothing outside
the registry is touched, the local registry stays byte for byte what it was and `hub registry verify` finds it
clean; an oversized blob is refused without being read into memory."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapterhub.errors import RegistryCorrupt
from adapterhub.registry import Registry
from adapterhub.remote import Remote, RemoteRegistry, add_remote, pull, push
from adapterhub.remote.catalog import blob_key, card_key
from tests.inference.helpers import publish_adapter
from tests.remote.conftest import CREDENTIALS, publish, s3_client
from tests.remote.hostile import CASES, GOOD, WEIGHTS, Case, build, tree
from tests.remote.test_serving_from_remote import TEXTS, serving

Hub = Callable[..., tuple[int, str, str]]
HUB = Path(sys.executable).with_name("hub")
KEEP = "planted by the test; nothing may touch it\n"


@dataclass
class Hostile:
    kind: str
    remote: Remote
    cases: list[Case]
    template: Path  # a local registry: resident@1 on good's base, the hostile remote as origin
    outside: Path
    victims: dict[str, Path]


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory, tiny_bert: Path) -> Registry:
    """A training machine's registry with good@1, a real adapter of tiny_bert."""
    registry = Registry(tmp_path_factory.mktemp("honest") / "registry")
    publish_adapter(registry, tiny_bert, GOOD, seed=1)
    return registry


@pytest.fixture(scope="module", params=["file", "s3"])
def hostile(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, honest: Registry):
    """good@1 pushed to a folder or a bucket, then every bad case laid beside it."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in CREDENTIALS.items():
            patch.setenv(key, value)
        patch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        root = tmp_path_factory.mktemp(f"hostile-{request.param}")
        if request.param == "file":
            (root / "remote").mkdir()
            remote = Remote("origin", f"file://{root / 'remote'}")
        else:
            endpoint = request.getfixturevalue("s3_endpoint")
            bucket = f"hostile-{uuid.uuid4().hex[:12]}"
            s3_client(endpoint).create_bucket(Bucket=bucket)
            remote = Remote("origin", f"s3://{bucket}/adapters", endpoint_url=endpoint)
        push(honest, RemoteRegistry(remote), [GOOD])
        good = honest.get(GOOD)
        outside = root / "outside"
        outside.mkdir()
        victims = {"file": outside / "victim_file"}
        victims["file"].write_text(KEEP)
        files = {name: (good.path / name).read_bytes() for name in good.card.files}
        cases = build(remote, (good.path / "card.json").read_bytes(), files, outside, victims)
        template = root / "local"
        Registry(template).publish("resident", good.path, good.card)  # a local version on good's base
        add_remote(template, remote)
        yield Hostile(request.param, remote, cases, template, outside, victims)


@pytest.fixture
def local(hostile: Hostile, tmp_path: Path) -> Registry:
    """A copy of the template registry, and a folder beside it (``victim_dir``) that must survive."""
    root = tmp_path / "local"
    shutil.copytree(hostile.template, root, symlinks=True)
    (tmp_path / "victim_dir").mkdir()
    (tmp_path / "victim_dir" / "keep.txt").write_text(KEEP)
    return Registry(root)


def laid(hostile: Hostile, case: Case) -> None:
    if case not in hostile.cases:
        pytest.skip(f"{case.name} needs a folder remote (symlinks)")


def assert_one_line(message: str, words: str) -> None:
    assert message.count("\n") <= 1 and "Traceback" not in message, message
    assert re.search(words, message), message
    assert "\x1b" not in message and "\x07" not in message, message


def assert_untouched(hub: Hub, hostile: Hostile, local: Registry, before: dict[str, str]) -> None:
    """The local registry is byte for byte what it was and verifies clean; every victim is intact."""
    assert tree(local.root) == before
    assert (local.root.parent / "victim_dir" / "keep.txt").read_text() == KEEP
    assert hostile.victims["file"].read_text() == KEEP
    assert not (hostile.outside / "planted.json").exists() and not (local.root / "planted.json").exists()
    code, out, err = hub("--registry", str(local.root), "registry", "verify")
    assert code == 0, out + err


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hub_pull_refuses_each_bad_card_in_one_line_and_changes_nothing(
    hub: Hub, hostile: Hostile, local: Registry, case: Case
) -> None:
    laid(hostile, case)
    before = tree(local.root)
    code, out, err = hub("--registry", str(local.root), "pull", case.name)
    assert code in (4, 5) and out == "", err
    assert err.startswith("error: ")
    assert_one_line(err, case.words)
    assert_untouched(hub, hostile, local, before)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hub_serve_remote_refuses_each_bad_card_on_load_and_predict(
    hub: Hub, hostile: Hostile, local: Registry, case: Case
) -> None:
    laid(hostile, case)
    before = tree(local.root)
    with serving(local) as client:
        answers = [
            client.post(f"/v1/adapters/{case.name}/load"),
            client.post("/v1/predict", json={"adapter": case.name, "inputs": TEXTS}),
        ]
    for answer in answers:
        assert answer.status_code == 409, answer.text
        assert_one_line(answer.json()["error"]["message"], case.words)
    assert_untouched(hub, hostile, local, before)


def test_the_good_version_beside_them_pulls_and_serves(hub: Hub, hostile: Hostile, local: Registry) -> None:
    with serving(local) as client:
        answer = client.post("/v1/predict", json={"adapter": GOOD, "inputs": TEXTS})
        assert answer.status_code == 200, answer.text
    assert local.versions(GOOD) == [1] and local.verify() == []


def test_hub_list_remote_lists_the_rest_and_each_bad_card_as_broken(
    hub: Hub, hostile: Hostile, local: Registry
) -> None:
    before = tree(local.root)
    code, out, err = hub("--registry", str(local.root), "list", "--remote", "origin")
    assert code == 0, err
    assert "\x1b" not in out + err and "<script>" not in out
    rows = {tuple(line.split()[:2]): line for line in out.splitlines()[1:]}
    assert (GOOD, "1") in rows and "broken" not in rows[(GOOD, "1")]
    problems = err.splitlines()
    for case in hostile.cases:
        said = [line for line in problems if re.search(rf"(?<![\w-]){re.escape(case.name)}(?![\w-])", line)]
        if case.listed_broken:
            assert len(said) == 1, (case.name, err)
            assert_one_line(said[0], case.words)
            assert any(name == case.name and "broken" in line for (name, _), line in rows.items()), out
        else:  # the card is sound; what is wrong lies in a blob, which a pull refuses
            assert said == [] and (case.name, "1") in rows, (case.name, out, err)
    assert tree(local.root) == before


# ------------------------------------------------------------------------------------------------ memory

RSS = (
    "import json, resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(json.dumps({'code': done.returncode, 'err': done.stderr, 'peak_kb': peak}))\n"
)


def pull_process(registry: Path, ref: str) -> tuple[int, str, int]:
    """``hub pull REF`` as its own process: exit code, stderr and its peak resident memory in bytes (measured by
    a wrapper whose only child it is)."""
    command = [sys.executable, "-c", RSS, str(HUB), "--registry", str(registry), "pull", ref]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ})
    result = json.loads(done.stdout)
    return result["code"], result["err"], result["peak_kb"] * 1024


def oversized(remote: Remote, honest: Registry, name: str, plant: Callable[[str], None]) -> None:
    """Lay ``name@1``: good's card, but its weights a blob that ``plant(key)`` puts there, far larger than
    the card says."""
    card = json.loads((honest.get(GOOD).path / "card.json").read_text())
    card["name"] = name
    digest = "e" * 64
    card["files"][WEIGHTS]["sha256"] = digest
    plant(blob_key(digest))
    remote.store().put(card_key(name, 1), json.dumps(card).encode())


def test_a_3_gib_blob_on_a_folder_remote_is_refused_without_reading_it(honest: Registry, tmp_path: Path) -> None:
    folder = tmp_path / "team"
    folder.mkdir()
    remote = Remote("origin", f"file://{folder}")
    push(honest, RemoteRegistry(remote), [GOOD])

    def sparse(key: str) -> None:
        path = folder / key
        with open(path, "wb") as fh:
            fh.truncate(3 << 30)  # 3 GiB that take no disk

    oversized(remote, honest, "huge", sparse)
    claimed = honest.get(GOOD).card.files[WEIGHTS].bytes
    baseline, bad = tmp_path / "baseline", tmp_path / "bad"
    for root in (baseline, bad):
        add_remote(root, remote)
    code, err, good_peak = pull_process(baseline, GOOD)
    assert code == 0, err
    code, err, bad_peak = pull_process(bad, "huge")
    assert code == 5 and err.count("\n") == 1 and "Traceback" not in err, err
    assert f"{3 << 30} bytes on the remote, the card says {claimed}" in err
    assert bad_peak - good_peak < 200 << 20, (bad_peak, good_peak)
    assert Registry(bad).names() == []


def test_an_oversized_blob_on_s3_is_refused_before_it_is_downloaded(
    honest: Registry, s3_endpoint: str, tmp_path: Path
) -> None:
    bucket = f"huge-{uuid.uuid4().hex[:12]}"
    s3_client(s3_endpoint).create_bucket(Bucket=bucket)
    remote = Remote("origin", f"s3://{bucket}/adapters", endpoint_url=s3_endpoint)
    push(honest, RemoteRegistry(remote), [GOOD])
    blob = os.urandom(1 << 20) * 64  # 64 MiB

    def upload(key: str) -> None:
        s3_client(s3_endpoint).put_object(Bucket=bucket, Key=f"adapters/{key}", Body=blob)

    oversized(remote, honest, "huge", upload)
    reader = RemoteRegistry(remote)
    with pytest.raises(RegistryCorrupt, match=r"adapter_model\.safetensors: 67108864 bytes on the remote"):
        pull(Registry(tmp_path / "b"), reader, ["huge"])
    assert reader.store.transfer.downloaded_bytes < 1 << 20  # the card, and not one chunk of the blob
    baseline, bad = tmp_path / "baseline", tmp_path / "bad"
    for root in (baseline, bad):
        add_remote(root, remote)
    code, err, good_peak = pull_process(baseline, GOOD)
    assert code == 0, err
    code, err, bad_peak = pull_process(bad, "huge")
    assert code == 5 and err.count("\n") == 1, err
    assert bad_peak - good_peak < 32 << 20, (bad_peak, good_peak)


# ------------------------------------------------------------------------------------------------ leftovers

KILLED_AT_LINK = (
    "import os, signal, sys\n"
    "os.link = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)  # dies as the card goes in\n"
    "from adapterhub.cli import main\n"
    "sys.argv = ['hub', *sys.argv[1:]]\n"
    "main()\n"
)


def test_what_a_killed_push_left_on_a_folder_remote_is_cleared_by_the_next_push(hub: Hub, tmp_path: Path) -> None:
    a = Registry(tmp_path / "a")
    publish(a, "sentiment", tmp_path, fill=1)
    publish(a, "sentiment", tmp_path, fill=2)
    folder = tmp_path / "team"
    folder.mkdir()
    add_remote(a.root, Remote("origin", f"file://{folder}"))
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AT_LINK, "--registry", str(a.root), "push", "sentiment@1"], timeout=120
    )
    assert killed.returncode == -9
    assert [p.name for p in (folder / "cards" / "sentiment").iterdir() if p.name.endswith(".tmp")]  # it did die there
    code, out, err = hub("--registry", str(a.root), "list", "--remote", "origin")
    assert code == 0 and out.splitlines()[1:] == [] and err == ""  # a temporary file is never a version
    code, out, err = hub("--registry", str(a.root), "push", "sentiment@1", "sentiment@2")
    assert code == 0, err
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name.endswith(".tmp")) == []
    assert RemoteRegistry(Remote("origin", f"file://{folder}")).versions("sentiment") == [1, 2]

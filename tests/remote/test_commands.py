"""``hub remote``, ``hub push``, ``hub pull``, ``hub list --remote`` and ``hub tag --remote`` as users run them."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from adapterhub.registry import Registry
from adapterhub.remote import Remote
from tests.remote.conftest import free_port, publish

Hub = Callable[..., tuple[int, str, str]]


def add(hub: Hub, registry: Path, remote: Remote) -> None:
    extra = ["--endpoint-url", remote.endpoint_url] if remote.endpoint_url else []
    assert hub("--registry", str(registry), "remote", "add", "origin", remote.url, *extra)[0] == 0


def test_remote_add_list_rm(hub: Hub, tmp_path: Path) -> None:
    reg = str(tmp_path / "reg")
    code, out, _ = hub(
        "--registry",
        reg,
        "remote",
        "add",
        "origin",
        "s3://team/adapters",
        "--endpoint-url",
        "http://127.0.0.1:9000",
        "--profile",
        "minio",
    )
    assert (code, out.strip()) == (0, "added remote origin -> s3://team/adapters at http://127.0.0.1:9000")
    assert hub("--registry", reg, "remote", "add", "shared", f"file://{tmp_path}")[0] == 0
    code, out, _ = hub("--registry", reg, "remote", "list", "--json")
    assert json.loads(out)["remotes"] == [
        {"name": "origin", "url": "s3://team/adapters", "endpoint_url": "http://127.0.0.1:9000", "profile": "minio"},
        {"name": "shared", "url": f"file://{tmp_path}", "endpoint_url": None, "profile": None},
    ]
    stored = (tmp_path / "reg" / ".remotes.json").read_text()
    assert "secret" not in stored.lower() and "key" not in stored.lower()
    code, out, _ = hub("--registry", reg, "remote", "list")
    assert out.splitlines()[0].split() == ["NAME", "URL", "ENDPOINT", "PROFILE"] and len(out.splitlines()) == 3
    assert hub("--registry", reg, "remote", "rm", "origin")[0] == 0
    assert [r["name"] for r in json.loads(hub("--registry", reg, "remote", "list", "--json")[1])["remotes"]] == [
        "shared"
    ]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("add", "Bad/Name", "s3://b"), 2, "invalid remote name 'Bad/Name'"),
        (("add", "origin", "http://example.com/x"), 2, "is not s3://BUCKET[/PREFIX] or file:///FOLDER"),
        (("add", "origin", "s3://"), 2, "names no bucket"),
        (("add", "origin", "file://relative/path"), 2, "is not an absolute folder"),
        (("add", "origin", "file:///tmp", "--endpoint-url", "http://x"), 2, "a file:// remote takes neither"),
        (("rm", "nowhere"), 3, "no remote named 'nowhere'"),
    ],
)
def test_bad_remote_input_is_one_line(hub: Hub, tmp_path: Path, args: tuple[str, ...], code: int, message: str) -> None:
    got, _, err = hub("--registry", str(tmp_path / "reg"), "remote", *args)
    assert got == code
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err


def test_push_pull_list_and_tag_from_the_command_line(hub: Hub, remote: Remote, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    publish(Registry(a), "sentiment", tmp_path, fill=1)
    publish(Registry(a), "sentiment", tmp_path, fill=2)
    add(hub, a, remote)
    add(hub, b, remote)
    code, out, err = hub("--registry", str(a), "push", "sentiment@1", "sentiment")
    assert code == 0, err
    assert out.splitlines()[0].startswith("pushed sentiment@1 to origin: 2 file(s)")
    assert re.fullmatch(
        r"pushed sentiment@2 to origin: 1 file\(s\), [0-9.]+k?B sent, 1 already there", out.splitlines()[1]
    )
    code, out, _ = hub("--registry", str(a), "push", "--all")
    assert out.splitlines() == [f"sentiment@{v} is on origin already; nothing sent" for v in (1, 2)]
    code, out, _ = hub("--registry", str(a), "tag", "sentiment@1", "prod", "--remote", "origin")
    assert (code, out.strip()) == (0, "sentiment:prod -> sentiment@1")
    code, remote_table, _ = hub("--registry", str(b), "list", "--remote", "origin")
    local_table = hub("--registry", str(a), "list")[1]
    assert remote_table.splitlines()[0] == local_table.splitlines()[0]
    assert [line.split()[:3] for line in remote_table.splitlines()[1:]] == [
        ["sentiment", "2", "-"],
        ["sentiment", "1", "prod"],
    ]
    listed = json.loads(hub("--registry", str(b), "list", "--remote", "origin", "--json")[1])
    assert [(r["ref"], r["aliases"]) for r in listed] == [("sentiment@2", []), ("sentiment@1", ["prod"])]
    code, out, err = hub("--registry", str(b), "pull", "sentiment:prod")
    assert code == 0, err
    assert re.fullmatch(r"pulled sentiment@1 from origin: [0-9.]+k?B, verified \(sentiment:prod\)", out.strip())
    assert Registry(b).versions("sentiment") == [1] and Registry(b).aliases("sentiment") == {"prod": 1}
    code, out, _ = hub("--registry", str(b), "pull", "sentiment")
    assert out.strip().startswith("pulled sentiment@2 from origin")
    assert hub("--registry", str(b), "pull", "sentiment@7")[2].startswith("error: remote origin has no sentiment@7")


def test_an_unreachable_endpoint_is_one_line_naming_it_within_seconds(hub: Hub, tmp_path: Path) -> None:
    reg = tmp_path / "reg"
    publish(Registry(reg), "sentiment", tmp_path, fill=1)
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    hub("--registry", str(reg), "remote", "add", "origin", "s3://team", "--endpoint-url", endpoint)
    for command in (("push", "sentiment"), ("pull", "sentiment"), ("list", "--remote", "origin")):
        started = time.monotonic()
        code, out, err = hub("--registry", str(reg), *command)
        assert time.monotonic() - started < 15
        assert code == 8 and out == ""
        assert err.count("\n") == 1 and err.startswith(f"error: cannot reach remote s3://team at {endpoint}")


def test_a_missing_bucket_is_one_line(hub: Hub, s3_endpoint: str, tmp_path: Path) -> None:
    reg = tmp_path / "reg"
    publish(Registry(reg), "sentiment", tmp_path, fill=1)
    hub("--registry", str(reg), "remote", "add", "origin", "s3://no-such-bucket", "--endpoint-url", s3_endpoint)
    code, _, err = hub("--registry", str(reg), "push", "sentiment")
    assert code == 8 and err.count("\n") == 1 and "no bucket 'no-such-bucket'" in err


def test_push_without_a_remote_says_how_to_add_one(hub: Hub, tmp_path: Path) -> None:
    reg = tmp_path / "reg"
    publish(Registry(reg), "sentiment", tmp_path, fill=1)
    code, _, err = hub("--registry", str(reg), "push", "sentiment")
    assert code == 3 and "add one with `hub remote add origin URL`" in err

"""`hub rm`: dry runs always print the plan, aliases are named exactly, whole names ask first, several targets
are planned before anything goes."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapterhub import Registry
from tests.registry.helpers import CARD, fake_adapter

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    registry = Registry()
    for i in range(3):
        registry.publish("trec", fake_adapter(tmp_path / f"t{i}", fill=i), CARD)
    registry.publish("sentiment", fake_adapter(tmp_path / "s"), CARD)
    registry.tag("trec@3", "prod")
    return registry


def test_a_dry_run_prints_the_plan_and_what_force_would_also_do(hub, reg: Registry) -> None:
    for target, refs in (("trec", ["trec@1", "trec@2", "trec@3"]), ("trec:prod", ["trec@3"])):
        code, out, err = hub("rm", target, "--dry-run")
        assert code == 0 and err == ""
        lines = out.splitlines()
        assert [line.split()[2] for line in lines[: len(refs)]] == refs
        assert (
            lines[len(refs)]
            == "--force would also remove alias trec:prod (it points to trec@3); without it, rm refuses"
        )
        assert lines[-1].startswith("would free ")
    code, out, _ = hub("rm", "trec:prod", "--dry-run", "--force")
    assert code == 0 and "would remove alias trec:prod (it points to trec@3)" in out
    assert len(reg.list()) == 4 and reg.aliases("trec") == {"prod": 3}


def test_removing_a_version_through_its_alias_needs_force_and_says_so(hub, reg: Registry) -> None:
    code, out, err = hub("rm", "trec:prod")
    assert code == 6 and out == "" and err.count("\n") == 1
    assert "`hub rm trec:prod` means the version trec:prod points to (trec@3), not only the alias" in err
    code, out, _ = hub("rm", "trec:prod", "--force")
    assert code == 0 and out.splitlines()[1] == "removed alias trec:prod (it pointed to trec@3)"
    assert out.startswith("removed trec@3 ") and [r.ref for r in reg.list(name="trec")] == ["trec@2", "trec@1"]
    assert reg.aliases("trec") == {}


def test_removing_a_whole_name_without_a_terminal_needs_yes(hub, reg: Registry) -> None:
    code, out, err = hub("rm", "sentiment")
    assert code == 2 and out == ""
    assert err == (
        "error: removing every version of sentiment needs confirmation and stdin is not a terminal: "
        "pass -y (--yes), or --dry-run to see the plan\n"
    )
    assert len(reg.list()) == 4
    code, out, _ = hub("rm", "sentiment", "-y")
    assert code == 0 and out.startswith("removed sentiment@1 ") and [r.name for r in reg.list()] == ["trec"] * 3


def _on_a_terminal(registry: Path, args: list[str], answer: str) -> tuple[int, str]:
    """Run `hub ARGS` with a pseudo-terminal as stdin/stdout/stderr, answer its question, return (code, text)."""
    main, child = pty.openpty()
    env = {**os.environ, "ADAPTERHUB_REGISTRY": str(registry)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "adapterhub", *args], stdin=child, stdout=child, stderr=child, cwd=ROOT, env=env
    )
    os.close(child)
    seen, deadline, answered = b"", time.monotonic() + 60, False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(main, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        if not answered and b"[y/N]" in seen:
            os.write(main, answer.encode() + b"\n")
            answered = True
        if proc.poll() is not None and not ready:
            break
    os.close(main)
    return proc.wait(timeout=30), seen.decode(errors="replace")


def test_removing_a_whole_name_on_a_terminal_asks_first(reg: Registry) -> None:
    code, text = _on_a_terminal(reg.root, ["rm", "sentiment"], "n")
    assert code == 1 and "will remove sentiment@1" in text and "Remove every version of sentiment? [y/N]" in text
    assert "nothing was removed" in text and len(reg.list()) == 4
    code, text = _on_a_terminal(reg.root, ["rm", "sentiment"], "y")
    assert code == 0 and "removed sentiment@1" in text and [r.name for r in reg.list()] == ["trec"] * 3


def test_several_targets_one_bad_removes_nothing(hub, reg: Registry) -> None:
    code, out, err = hub("rm", "trec@1", "sentimnt", "-y")
    assert code == 3 and out == "" and "no adapter named 'sentimnt'" in err and "did you mean sentiment?" in err
    assert len(reg.list()) == 4
    code, out, _ = hub("rm", "trec@1", "trec@2", "sentiment", "-y")
    assert code == 0 and [line.split()[1] for line in out.splitlines()[:3]] == ["sentiment@1", "trec@1", "trec@2"]
    assert [r.ref for r in reg.list()] == ["trec@3"]


def test_rm_json_is_the_plan_with_executed(hub, reg: Registry) -> None:
    code, out, _ = hub("rm", "trec", "--dry-run", "--json")
    plan = json.loads(out)
    assert code == 0 and plan["schema"] == 1 and plan["executed"] is False and plan["removes_aliases"] is False
    assert plan["targets"] == ["trec"] and [v["ref"] for v in plan["versions"]] == ["trec@1", "trec@2", "trec@3"]
    assert plan["aliases"] == [{"alias": "trec:prod", "ref": "trec@3"}]
    assert plan["freed_bytes"] == sum(v["size_bytes"] for v in plan["versions"])
    code, out, _ = hub("rm", "trec@1", "--json")
    plan = json.loads(out)
    assert code == 0 and plan["executed"] is True and plan["aliases"] == [] and plan["versions"][0]["ref"] == "trec@1"

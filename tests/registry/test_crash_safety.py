"""A writer killed with SIGKILL before any of its durable steps leaves a consistent registry.

The child process counts its calls to os.fsync, os.rename and os.replace and kills itself with SIGKILL at the
K-th one, for every K until the operation completes: every point between durable steps is a crash point.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from adapterhub import Registry
from tests.registry.helpers import CARD, fake_adapter

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import os, signal, sys
root, op, arg, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
calls = [0]
def crash_before(fn):
    def wrapped(*args, **kwargs):
        calls[0] += 1
        if calls[0] == k:
            os.kill(os.getpid(), signal.SIGKILL)
        return fn(*args, **kwargs)
    return wrapped
os.fsync, os.rename, os.replace = crash_before(os.fsync), crash_before(os.rename), crash_before(os.replace)
from adapterhub import Registry
from tests.registry.helpers import CARD
reg = Registry(root)
if op == "publish":
    reg.publish("sentiment", arg, CARD)
elif op == "remove":
    reg.remove(arg, force=True)
else:
    reg.tag(arg, "prod")
"""


def _run(root: Path, op: str, arg: str, k: int) -> int:
    return subprocess.run([sys.executable, "-c", CHILD, str(root), op, arg, str(k)], cwd=ROOT, timeout=60).returncode


def _assert_consistent(reg: Registry) -> list[str]:
    refs = [r.ref for r in reg.list()]
    for ref in refs:
        loaded = reg.load(ref)  # every listed version is whole: its sha256s match
        assert loaded.tensors and loaded.config["peft_type"] == "LORA"
    assert reg.verify() == []
    on_disk = sorted(f"{n}@{v}" for n in reg.names() for v in reg.versions(n))
    assert sorted(refs) == on_disk
    return refs


@pytest.mark.parametrize("op", ["publish", "remove", "tag"])
def test_sigkill_at_every_durable_step_leaves_the_registry_consistent(op: str, tmp_path: Path) -> None:
    source = fake_adapter(tmp_path / "src", size=50_000)
    k, completed = 1, False
    while not completed:
        root = tmp_path / f"reg-{k}"
        reg = Registry(root)
        reg.publish("sentiment", source, CARD)
        reg.publish("sentiment", source, CARD)
        before = _assert_consistent(reg)
        arg = {"publish": str(source), "remove": "sentiment@1", "tag": "sentiment@2"}[op]
        code = _run(root, op, arg, k)
        completed = code == 0
        assert code in (0, -signal.SIGKILL)
        after = _assert_consistent(Registry(root))
        expected = {
            "publish": [["sentiment@2", "sentiment@1"], ["sentiment@3", "sentiment@2", "sentiment@1"]],
            "remove": [["sentiment@2", "sentiment@1"], ["sentiment@2"]],
            "tag": [before],
        }[op]
        assert after in expected, f"crash before durable step {k}: {after}"
        if completed:
            assert after == expected[-1]
        # the next writer works and cleans what the dead one left behind
        Registry(root).publish("sentiment", source, CARD)
        assert not any((root / ".staging").iterdir())
        assert not os.path.exists(root / ".journal") or not any((root / ".journal").iterdir())
        k += 1
    assert k > 4  # the operation really had several durable steps to crash at

"""``hub doctor`` through the real entry point: its lines, its JSON and its exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

NAMES = [
    "adapterhub",
    "python",
    "locks",
    "torch",
    "transformers",
    "peft",
    "accelerate",
    "bitsandbytes",
    "device",
    "registry",
    "chromium",
    "remotes",
]


@pytest.fixture
def no_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADAPTERHUB_CHROMIUM", str(tmp_path / "no-such-chromium"))


def _line(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line[4:].split(" ", 1)[0] == name)


@pytest.mark.skipif(
    os.environ.get("ADAPTERHUB_TESTED_SET", "lock") != "lock", reason="a --newest or --lowest run tests another set"
)
def test_doctor_on_this_install_finds_the_locked_libraries(hub, monkeypatch) -> None:
    monkeypatch.delenv("ADAPTERHUB_LOCKS", raising=False)  # the checkout's own locks/, as setup.sh installed them
    code, out, _ = hub("doctor")
    assert code == 0, out
    for name in ("torch", "transformers", "peft", "accelerate"):
        line = _line(out, name)
        assert line.startswith("[✓] ") and "(locked" in line, line
    assert _line(out, "registry").startswith("[!] ")  # the test's registry does not exist yet
    assert "fix: `hub train` or `hub import` creates one" in out
    assert out.rstrip().splitlines()[-1].endswith("nothing is broken.") or out.rstrip().endswith("No issues found.")


def test_json_has_every_check_with_its_status_detail_and_fix(hub, registry_dir: Path) -> None:
    code, out, _ = hub("--registry", str(registry_dir), "doctor", "--json")
    document = json.loads(out)
    assert code == 0 and document["schema"] == 1 and document["ok"] is True
    assert set(document) == {"schema", "ok", "summary", "checks"}
    assert [check["name"] for check in document["checks"]] == NAMES
    for check in document["checks"]:
        assert set(check) == {"name", "status", "detail", "fix"} and check["status"] in ("ok", "warn", "error")
        assert isinstance(check["detail"], str) and (check["fix"] is None) == (check["status"] == "ok"), check
    statuses = [check["status"] for check in document["checks"]]
    assert document["summary"] == {s: statuses.count(s) for s in ("ok", "warn", "error")}
    assert str(registry_dir) in document["checks"][NAMES.index("registry")]["detail"]


def test_something_asked_for_and_missing_exits_1_with_its_fix(hub, no_chromium) -> None:
    code, out, _ = hub("doctor")
    assert code == 0 and _line(out, "chromium").startswith("[!] ")  # only the browser tests need it
    code, out, _ = hub("doctor", "--browser")
    lines = out.splitlines()
    failing = lines.index(_line(out, "chromium"))
    assert code == 1 and lines[failing].startswith("[✗] chromium ")
    assert lines[failing + 1].lstrip().startswith("fix: sudo apt-get install chromium")
    assert lines[failing + 1].index("fix:") == lines[failing].index("/")  # under the detail
    assert lines[-1].startswith("1 error") and lines[-1].endswith("see the fix under each [✗] line.")
    code, out, _ = hub("doctor", "--browser", "--json")
    assert code == 1 and json.loads(out)["ok"] is False


def test_a_corrupt_registry_exits_1(hub, tmp_path: Path) -> None:
    from adapterhub.registry import Registry
    from tests.registry.helpers import CARD, fake_adapter

    record = Registry().publish("sentiment", fake_adapter(tmp_path / "a"), CARD)
    assert hub("doctor")[0] == 0
    (record.path / "adapter_model.safetensors").write_bytes(b"\x00")
    code, out, _ = hub("doctor")
    assert code == 1 and _line(out, "registry").startswith("[✗] registry ") and "1 problem" in out


def test_remotes_are_listed_one_a_line(hub, registry_dir: Path) -> None:
    from adapterhub.remote.config import Remote, add_remote

    add_remote(registry_dir, Remote("origin", f"file://{registry_dir.parent / 'shared'}"))
    code, out, _ = hub("doctor")
    line = _line(out, "remote")
    assert code == 0 and line.startswith("[✓] remote origin ") and line.endswith("(not contacted)")
    assert f"file://{registry_dir.parent / 'shared'}" in line


def test_the_quantize_probe_runs_bitsandbytes_for_real() -> None:
    pytest.importorskip("bitsandbytes")  # in the lock (the quantize extra); its CPU backend round-trips NF4
    from adapterhub.doctor import quantize_problem

    assert quantize_problem() is None


@pytest.mark.gpu
def test_cuda_and_quantize_asked_for_on_a_gpu(hub) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    pytest.importorskip("bitsandbytes")
    code, out, _ = hub("doctor", "--cuda", "--quantize")
    assert code == 0, out
    device = _line(out, "device")
    assert device.startswith("[✓] ") and "CUDA " in device and "bf16 yes" in device
    assert "quantizes on " in _line(out, "bitsandbytes")

"""A registry path where nothing exists: every read command says so (exit 3) and creates nothing; publishing
creates the registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

READS = [
    ["list"],
    ["list", "--json"],
    ["show", "trec"],
    ["tag", "trec@1", "prod"],
    ["rm", "trec", "--dry-run"],
    ["rm", "trec@1"],
    ["export", "trec", "OUT"],
    ["registry", "verify"],
    ["registry", "verify", "--json"],
    ["registry", "reindex"],
]


@pytest.mark.parametrize("args", READS, ids=lambda a: " ".join(a))
def test_every_read_command_says_no_registry_exists(hub, tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "path" / "that" / "does" / "not" / "exist"
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    code, out, err = hub("--registry", str(missing), *args)
    assert code == 3 and out == ""
    assert err == (
        f"error: no registry at {missing} (the path does not exist); `hub train` or `hub import` creates one "
        "there, or point --registry (or ADAPTERHUB_REGISTRY) at an existing registry\n"
    )
    assert not (tmp_path / "path").exists() and not (tmp_path / "out").exists()


def test_a_file_is_not_a_registry(hub, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    code, _, err = hub("--registry", str(tmp_path / "file"), "list")
    assert code == 3 and "(the path is not a directory)" in err


def test_import_creates_the_registry_on_a_new_path(hub, tiny_bert: Path, tmp_path: Path) -> None:
    from tests.tiny import make_lora_adapter

    source, _ = make_lora_adapter(tiny_bert, tmp_path / "peft")
    new = tmp_path / "new" / "registry"
    code, _, err = hub("--registry", str(new), "import", str(source), "--name", "imported")
    assert code == 0, err
    assert hub("--registry", str(new), "list", "-q")[1] == "imported@1\n"
    assert sorted(p.name for p in (new / "imported" / "1").iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
        "card.json",
    ]  # PEFT's template README.md, written by save_pretrained, is not stored


def test_registry_commands_never_import_torch(tmp_path: Path) -> None:
    """`hub list`, `show`, `rm --dry-run`, `tag`, `registry verify` stay instant: no torch, no transformers."""
    code = f"""
import sys
from adapterhub import Registry
from tests.registry.helpers import CARD, fake_adapter
reg = Registry({str(tmp_path / "reg")!r})
reg.publish("trec", fake_adapter(__import__("pathlib").Path({str(tmp_path / "a")!r})), CARD)
from adapterhub.cli import main
for args in (["list"], ["list", "trec", "-q", "--sort", "size"], ["show", "trec", "--json"], ["tag", "trec", "prod"],
             ["rm", "trec", "--dry-run", "--json"], ["registry", "verify", "--json"], ["show", "trek"]):
    sys.argv = ["hub", "--registry", reg.root.as_posix(), *args]
    try:
        main()
    except SystemExit:
        pass
heavy = sorted(m for m in ("torch", "transformers", "peft", "safetensors.torch") if m in sys.modules)
print("HEAVY", heavy, file=sys.stderr)
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in result.stderr, result.stderr[-2000:]

"""The ``hub`` registry commands, run in-process through the real entry point (error boundary included)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from adapterhub import AdapterNotFound, Registry
from tests.registry.helpers import CARD, fake_adapter

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    registry = Registry()
    for i in range(2):
        registry.publish("sentiment", fake_adapter(tmp_path / f"a{i}", fill=i), CARD)
    return registry


def test_list_prints_a_table_and_json(hub, reg: Registry) -> None:
    code, out, _ = hub("list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == [
        "NAME",
        "VERSION",
        "ALIASES",
        "TASK",
        "METHOD",
        "BASE",
        "PARAMS",
        "SIZE",
        "METRIC",
        "CREATED",
    ]
    assert [line.split()[:2] for line in lines[1:]] == [["sentiment", "2"], ["sentiment", "1"]]
    assert "accuracy=0.9" in lines[1] and "66" in lines[1]
    code, out, _ = hub("list", "--json", "--task", "sentiment")
    assert [item["ref"] for item in json.loads(out)] == ["sentiment@2", "sentiment@1"]
    assert json.loads(hub("list", "--json", "--task", "ner")[1]) == []


def test_registry_option_overrides_the_environment(hub, reg: Registry, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    code, out, _ = hub("--registry", str(tmp_path / "elsewhere"), "list", "--json")
    assert code == 0 and json.loads(out) == []


def test_show_prints_the_card(hub, reg: Registry) -> None:
    code, out, _ = hub("show", "sentiment@1")
    card = json.loads(out)
    assert code == 0 and (card["name"], card["version"], card["labels"]) == ("sentiment", 1, ["negative", "positive"])
    assert set(card["files"]) == {"adapter_config.json", "adapter_model.safetensors"}


def test_tag_and_rm_with_plan_dry_run_and_force(hub, reg: Registry) -> None:
    assert hub("tag", "sentiment@1", "prod")[1].strip() == "sentiment:prod -> sentiment@1"
    code, out, err = hub("rm", "sentiment@1")
    assert code == 6 and out == "" and err.count("\n") == 1 and "--force" in err and "Traceback" not in err
    code, out, _ = hub("rm", "sentiment", "--dry-run", "--force")
    assert code == 0 and "would remove sentiment@1" in out and "would free" in out and len(reg.list()) == 2
    code, out, _ = hub("rm", "sentiment:prod", "--force")
    assert code == 0 and "removed sentiment@1" in out and "removed alias sentiment:prod" in out
    assert [r.ref for r in reg.list()] == ["sentiment@2"]


def test_errors_are_one_line_with_the_fix_and_a_non_zero_code(hub, reg: Registry) -> None:
    code, _, err = hub("show", "sentimnt")
    assert code == 3 and err == (
        f"error: no adapter named 'sentimnt' in {reg.root}: did you mean sentiment? "
        "(available: sentiment; see `hub list`)\n"
    )
    for bad in ("../x", "a/b", ""):
        code, _, err = hub("show", bad)
        assert code == 2 and err.startswith("error: invalid adapter name") and err.count("\n") == 1


def test_debug_mode_shows_the_traceback(hub, reg: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADAPTERHUB_DEBUG", "1")
    with pytest.raises(AdapterNotFound):
        hub("show", "sentimnt")


def test_verify_lists_corrupt_files_and_fails(hub, reg: Registry) -> None:
    assert hub("registry", "verify")[0] == 0
    weights = reg.get("sentiment@2").path / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    code, out, _ = hub("registry", "verify")
    assert code == 1 and "sentiment@2" in out and "adapter_model.safetensors" in out and "sentiment@1" not in out


def test_reindex_rebuilds_a_deleted_index(hub, reg: Registry) -> None:
    before = hub("list", "--json")[1]
    (reg.root / ".index.sqlite").unlink()
    code, out, _ = hub("registry", "reindex")
    assert code == 0 and "indexed 2 versions" in out
    assert hub("list", "--json")[1] == before


def test_export_and_import_round_trip(hub, tiny_bert: Path, tmp_path: Path) -> None:
    from tests.tiny import make_lora_adapter

    source, _ = make_lora_adapter(tiny_bert, tmp_path / "peft")
    code, out, err = hub("import", str(source), "--name", "imported", "--labels", "neg,pos", "--tag", "demo")
    assert code == 0, err
    assert "imported" in out and "imported@1" in out
    card = json.loads(hub("show", "imported")[1])
    assert (card["labels"], card["tags"], card["task"]) == (["neg", "pos"], ["demo"], "classify")
    code, out, _ = hub("export", "imported", str(tmp_path / "out"))
    assert code == 0 and (tmp_path / "out" / "adapter_model.safetensors").is_file()
    code, _, err = hub("import", str(tmp_path / "nothing"), "--name", "x")
    assert code == 2 and "adapter_config.json" in err


def test_python_dash_m_runs_the_same_command(reg: Registry) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "adapterhub", "list", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and [x["ref"] for x in json.loads(result.stdout)] == ["sentiment@2", "sentiment@1"]

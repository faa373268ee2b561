"""``hub logs``: filters, JSON, refusals, and an export that ``hub eval`` reads."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from adapterhub.inference import Hub
from adapterhub.registry import Registry
from adapterhub.serving import ServeConfig, create_app
from adapterhub.serving.prediction_log import Prediction, PredictionLog, log_folder
from tests.cli.test_fast_refusals import assert_refused_before_torch
from tests.inference.helpers import publish_adapter

Run = Callable[..., tuple[int, str, str]]


def _write(registry_dir: Path, rows: list[Prediction]) -> None:
    log = PredictionLog(log_folder(registry_dir), max_bytes=2**30)
    registry_dir.mkdir(exist_ok=True)
    log.start()
    log.add(rows)
    log.close()


def _row(ago: float, adapter: str = "sentiment", version: int = 1, text: str | None = None) -> Prediction:
    return Prediction(
        time=time.time() - ago,
        request="r",
        adapter=adapter,
        version=version,
        task="sentiment",
        latency_s=0.012,
        input_chars=4,
        label="positive",
        score=0.75,
        input=text,
    )


def test_since_keeps_only_the_recent_rows(hub: Run, registry_dir: Path) -> None:
    _write(registry_dir, [_row(7200, text="old one"), _row(60, text="new one"), _row(30, adapter="topic")])
    code, out, _ = hub("logs", "--since", "1h", "--json")
    assert code == 0
    assert [(r["ref"], r["input"]) for r in json.loads(out)] == [("sentiment@1", "new one"), ("topic@1", None)]
    code, out, _ = hub("logs", "--since", "3h", "--adapter", "sentiment", "--json")
    assert [r["input"] for r in json.loads(out)] == ["old one", "new one"]
    code, out, _ = hub("logs", "--limit", "1", "--json")
    assert [r["ref"] for r in json.loads(out)] == ["topic@1"]  # the newest N
    code, out, _ = hub("logs")
    assert code == 0 and "sentiment@1" in out and "positive 0.750" in out and "12 ms" in out


def test_refusals_are_one_line(hub: Run, registry_dir: Path, tmp_path: Path) -> None:
    registry_dir.mkdir(exist_ok=True)
    code, _, err = hub("logs")
    assert code == 3 and "hub serve --log-predictions" in err and len(err.strip().splitlines()) == 1
    _write(registry_dir, [_row(60)])
    code, _, err = hub("logs", "--since", "yesterday")
    assert code == 2 and "--since 'yesterday'" in err
    code, _, err = hub("logs", "--export", str(tmp_path / "x.jsonl"))
    assert code == 2 and "add --adapter" in err
    code, _, err = hub("logs", "--adapter", "sentiment", "--export", str(tmp_path / "x.jsonl"))
    assert code == 2 and "without --log-inputs" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.jsonl").exists()


def test_an_export_of_logged_inputs_is_data_hub_eval_reads(hub: Run, registry_dir: Path, tiny_bert: Path) -> None:
    registry = Registry(registry_dir)
    publish_adapter(registry, tiny_bert, "sentiment", seed=1)
    config = ServeConfig(registry=str(registry_dir), log_predictions=True, log_inputs=True)
    texts = ["a fine film", "dull and long", "great acting", "a waste of time", "loved it", "boring plot"]
    with TestClient(create_app(Hub(registry, device="cpu"), config), base_url="http://127.0.0.1:8000") as client:
        assert client.post("/v1/predict", json={"adapter": "sentiment", "inputs": texts}).status_code == 200
    out_file = registry_dir.parent / "corrected.jsonl"
    code, out, err = hub("logs", "--adapter", "sentiment", "--export", str(out_file))
    assert code == 0, err
    assert out.strip() == f"wrote 6 examples of sentiment to {out_file}"
    lines = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [line["text"] for line in lines] == texts
    assert {line["label"] for line in lines} <= {"negative", "positive"}
    # a labelled data file: hub eval scores the adapter on it (and agrees with itself: accuracy 1)
    code, out, err = hub("eval", "sentiment", "--data", str(out_file), "--no-record", "--json")
    assert code == 0, err
    assert json.loads(out)["metrics"]["accuracy"] == 1.0
    code, _, err = hub("logs", "--adapter", "sentiment", "--export", str(out_file))
    assert code == 2 and "exists" in err  # never overwritten


def test_an_export_is_private_whatever_the_umask(hub: Run, registry_dir: Path, tmp_path: Path) -> None:
    _write(registry_dir, [_row(60, text="my private words")])
    before = os.umask(0o022)
    try:
        code, _, err = hub("logs", "--adapter", "sentiment", "--export", str(tmp_path / "out.jsonl"))
    finally:
        os.umask(before)
    assert code == 0, err
    assert stat.S_IMODE((tmp_path / "out.jsonl").stat().st_mode) == 0o600


def test_an_export_never_writes_through_a_link_at_a_temporary_name(
    hub: Run, registry_dir: Path, tmp_path: Path
) -> None:
    _write(registry_dir, [_row(60, text="a fine film")])
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / ".out.jsonl.tmp").symlink_to(victim)  # the temporary name exports were written to first
    code, _, err = hub("logs", "--adapter", "sentiment", "--export", str(tmp_path / "out.jsonl"))
    assert code == 0, err
    assert victim.read_text() == "precious"
    assert not (tmp_path / "out.jsonl").is_symlink()
    assert json.loads((tmp_path / "out.jsonl").read_text()) == {"text": "a fine film", "label": "positive"}
    assert sorted(os.listdir(tmp_path)) == [".out.jsonl.tmp", "out.jsonl", "registry", "victim.txt"]  # no leftovers


def test_a_symlinked_log_folder_is_refused_in_one_line_and_verify_reports_it(
    hub: Run, registry_dir: Path, tmp_path: Path
) -> None:
    registry_dir.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (registry_dir / ".logs").symlink_to(tmp_path / "elsewhere")
    refused = (5, f"{registry_dir / '.logs'} is a symlink (to {tmp_path / 'elsewhere'}); a registry holds no")
    cases = {("logs",): refused, ("serve", "--log-predictions"): refused}
    assert_refused_before_torch(cases, registry_dir, tmp_path)  # the server, before its port opens
    assert os.listdir(tmp_path / "elsewhere") == []
    code, out, _ = hub("registry", "verify")
    assert code != 0 and ".logs" in out and "is a symlink" in out

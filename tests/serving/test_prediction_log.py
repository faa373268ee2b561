"""The prediction log: rows per input with the right fields, inputs only when asked, rotation, shutdown."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from adapterhub.errors import AdapterNotFound, ConfigError, RegistryCorrupt
from adapterhub.registry import Registry
from adapterhub.serving.config import ServeConfig
from adapterhub.serving.prediction_log import (
    BACKUP_FILE,
    LOG_FILE,
    Prediction,
    PredictionLog,
    log_folder,
    read_predictions,
)


def _row(i: int, **fields: Any) -> Prediction:
    values: dict[str, Any] = dict(
        time=1_000_000.0 + i,
        request=f"r{i}",
        adapter="sentiment",
        version=1,
        task="sentiment",
        latency_s=0.01,
        input_chars=10,
        label="positive",
        score=0.9,
    )
    return Prediction(**{**values, **fields})


def test_the_server_logs_a_row_per_input_without_the_text(serve: Any, registry: Registry) -> None:
    with serve(log_predictions=True) as client:
        assert client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["great", "dull film"]}).json()
        completion = client.post("/v1/completions", json={"model": "poet", "prompt": "the sea", "max_tokens": 4})
        assert client.post("/v1/predict", json={"adapter": "ner", "inputs": ["Ada in Paris"]}).status_code == 200
    # the client's exit shut the server down: every row is written by then
    rows = read_predictions(log_folder(registry.root))
    assert [(r.ref, r.task) for r in rows] == [
        ("sentiment@1", "sentiment"),
        ("sentiment@1", "sentiment"),
        ("poet@1", "generate"),
        ("ner@1", "ner"),
    ]
    first, second, poet, ner = rows
    assert first.request == second.request != poet.request  # the inputs of one request share its id
    assert (first.input_chars, second.input_chars) == (5, 9)
    assert first.label in ("negative", "positive") and 0 < first.score <= 1
    assert first.latency_s > 0 and abs(first.time - time.time()) < 600
    assert poet.tokens == completion.json()["usage"]["completion_tokens"] and poet.label is None
    assert ner.entities is not None
    assert all(r.input is None and r.output is None and r.error is None for r in rows)
    assert b"dull film" not in (log_folder(registry.root) / LOG_FILE).read_bytes()


def test_log_inputs_keeps_the_text_and_the_outputs_that_reveal_it(serve: Any, registry: Registry) -> None:
    with serve(log_predictions=True, log_inputs=True) as client:
        assert client.post("/v1/predict", json={"adapter": "ner", "inputs": ["Ada in Paris"]}).status_code == 200
        body = client.post("/v1/completions", json={"model": "poet", "prompt": "the sea", "max_tokens": 4}).json()
    ner, poet = read_predictions(log_folder(registry.root))
    assert ner.input == "Ada in Paris" and json.loads(ner.output)["words"] == ["Ada", "in", "Paris"]
    assert len(json.loads(ner.output)["tags"]) == 3
    assert poet.input == "the sea" and poet.output == body["choices"][0]["text"]


def test_a_failed_request_is_logged_with_its_error(serve: Any, registry: Registry) -> None:
    weights = registry.get("topic").path / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with serve(log_predictions=True) as client:
        assert client.post("/v1/predict", json={"adapter": "topic", "inputs": ["x"]}).status_code == 409
    (row,) = read_predictions(log_folder(registry.root))
    assert (row.ref, row.error, row.label) == ("topic@1", "adapter_corrupt", None)


def test_no_log_unless_asked_for(client: Any, registry: Registry) -> None:
    assert client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["x"]}).status_code == 200
    assert not log_folder(registry.root).exists()


def test_log_inputs_alone_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"--log-inputs .* add --log-predictions"):
        ServeConfig(log_inputs=True)


def test_the_log_rotates_at_its_size_limit_keeping_one_backup(tmp_path: Path) -> None:
    limit = 64 * 1024
    log = PredictionLog(tmp_path, max_bytes=limit)
    log.start()
    for i in range(3000):  # about 3 limits' worth of rows, in batches of 100
        log.add([_row(i, input="x" * 40)])
        if i % 100 == 99:
            log.close()  # written and stopped; start again to write the next batch apart
            log.start()
    log.close()
    files = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert files == sorted([LOG_FILE, BACKUP_FILE])  # one numbered backup, never more
    assert (tmp_path / BACKUP_FILE).stat().st_size >= limit  # rotated once it reached the limit
    assert (tmp_path / LOG_FILE).stat().st_size < limit + 64 * 1024  # at most one batch past it
    rows = read_predictions(tmp_path)
    times = [r.time for r in rows]
    assert times == sorted(times) and times[-1] == 1_000_000.0 + 2999  # the newest rows are kept, in order
    assert 0 < len(rows) < 3000  # the oldest went with an earlier backup


def test_close_writes_every_queued_row(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, max_bytes=2**30)
    log.start()
    log.add([_row(i) for i in range(5000)])
    log.close()  # a clean shutdown, right after the rows were queued
    assert len(read_predictions(tmp_path)) == 5000


def test_adding_rows_never_waits_for_the_disk(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, max_bytes=2**30)
    log.start()
    with log._locked():  # the writer is held off the file: add() must still return
        log.add([_row(i) for i in range(100)])
        assert len(read_predictions(tmp_path)) == 0
    log.close()
    assert len(read_predictions(tmp_path)) == 100


def test_reading_without_a_log_says_how_to_keep_one(tmp_path: Path) -> None:
    with pytest.raises(AdapterNotFound, match="hub serve --log-predictions"):
        read_predictions(tmp_path)


def test_the_log_folder_is_no_adapter_and_verify_accepts_it(serve: Any, registry: Registry) -> None:
    with serve(log_predictions=True) as client:
        assert client.post("/v1/predict", json={"adapter": "sentiment", "inputs": ["x"]}).status_code == 200
    assert (registry.root / ".logs" / LOG_FILE).is_file()
    assert registry.verify() == []
    assert ".logs" not in registry.listed_names() and all(not r.name.startswith(".") for r in registry.list())


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_the_log_and_its_folder_are_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    folder = log_folder(tmp_path)
    before = os.umask(umask)
    try:
        log = PredictionLog(folder, max_bytes=16 * 1024)
        log.start()
        log.add([_row(i, input=f"private text {i}") for i in range(400)])  # past the limit: a backup too
        log.close()
    finally:
        os.umask(before)
    assert (folder / BACKUP_FILE).is_file()
    assert _mode(folder) == 0o700
    assert {p.name: _mode(p) for p in folder.iterdir()} == dict.fromkeys(os.listdir(folder), 0o600)


def test_a_log_left_readable_by_an_earlier_server_is_made_private(tmp_path: Path) -> None:
    folder = log_folder(tmp_path)
    log = PredictionLog(folder, max_bytes=2**20)
    log.start()
    log.close()
    folder.chmod(0o755)
    (folder / LOG_FILE).chmod(0o644)
    log.start()
    log.close()
    assert (_mode(folder), _mode(folder / LOG_FILE)) == (0o700, 0o600)


@pytest.mark.parametrize("entry", [".logs", f".logs/{LOG_FILE}", ".logs/.lock"])
def test_a_symlink_in_the_log_folder_is_refused_never_written_through(
    registry_dir: Path, tmp_path: Path, entry: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("sentinel")
    folder = log_folder(registry_dir)
    folder.mkdir(parents=True)
    if entry == ".logs":
        folder.rmdir()
    (registry_dir / entry).symlink_to(elsewhere if entry == ".logs" else elsewhere / "keep.txt")
    log = PredictionLog(folder, max_bytes=2**20)
    with pytest.raises(RegistryCorrupt, match=rf"{entry} is a symlink \(to .*elsewhere.*\); a registry holds no"):
        log.start()
    assert sorted(os.listdir(elsewhere)) == ["keep.txt"] and (elsewhere / "keep.txt").read_text() == "sentinel"
    if entry != ".logs/.lock":  # the reader takes no lock
        with pytest.raises(RegistryCorrupt, match=r"is a symlink"):
            read_predictions(folder)

"""Every ``bash`` and ``python`` block of the README and the docs pages runs, offline, as a reader would run it.

Each block runs in a fresh copy of one workspace (built once per session): a registry of adapters trained on
tiny random bases under the names the pages use (``sentiment@1``-``@4``, ``sst-prefix``, ``topic``, ``ner``,
``poet``, ``sql``), the data files the pages name, and a folder remote called ``origin``. The bases the pages
name are folders of the workspace holding tiny random models of their architecture: ``gpt2`` and
``sentence-transformers/all-MiniLM-L6-v2`` (the embedded default). A local folder is found before a hub id or
the embedded package, so every command runs exactly as written, in seconds. Shell blocks run with ``bash -e``
(a failing command fails the test) and ``.venv/bin`` first on the PATH; Python blocks run in this process, in
the copy.

A block that cannot run there carries ``<!-- not run: REASON -->`` on the line before it. Every other block
runs: a new block is tested by default.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUNNABLE = ("bash", "python")
MARKER = re.compile(r"^<!-- not run: (.*?) -->$")
# a line of a non-runnable block that is a command belongs in a bash block (output goes in text blocks)
COMMAND = re.compile(r"^(\$ )?(hub|curl|python|bash|accelerate|torchrun|\.venv/bin/\S+) ")
DEFAULT_BASE = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Block:
    """One fenced block of a page: where it starts, its language, its code and the reason it is not run."""

    page: Path
    line: int
    language: str
    code: str
    not_run: str | None

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def read_blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page``, each with the marker on the line before it (blank lines between allowed)."""
    lines = page.read_text().splitlines()
    found, start, language, before = [], None, "", None
    for i, line in enumerate(lines):
        if start is None and line.startswith("```"):
            start, language = i, line[3:].strip()
            previous = next((x for x in reversed(lines[:i]) if x.strip()), "")
            match = MARKER.match(previous.strip())
            before = match.group(1) if match else None
        elif start is not None and line.strip() == "```":
            code = "\n".join(lines[start + 1 : i]) + "\n"
            found.append(Block(page, start + 1, language, code, before))
            start = None
    assert start is None, f"{page.name}:{start + 1 if start is not None else 0}: a block that is never closed"
    return found


BLOCKS = [block for page in PAGES for block in read_blocks(page)]
RUN = [b for b in BLOCKS if b.language in RUNNABLE and b.not_run is None]


def test_every_block_declares_its_language_and_commands_sit_in_bash_blocks() -> None:
    assert [b.id for b in BLOCKS if not b.language] == []
    misplaced = [
        f"{b.id}: {line}"
        for b in BLOCKS
        if b.language not in RUNNABLE
        for line in b.code.splitlines()
        if COMMAND.match(line)
    ]
    assert misplaced == [], "commands in a block that is not run: make it a bash block (or mark it not run)"


def test_every_marker_gives_a_reason_and_stands_before_a_runnable_block() -> None:
    marked = {(b.page, b.line) for b in BLOCKS if b.not_run is not None}
    assert [
        b.id for b in BLOCKS if b.not_run is not None and (not b.not_run.strip() or b.language not in RUNNABLE)
    ] == []
    for page in PAGES:
        lines = page.read_text().splitlines()
        inside = False
        for i, line in enumerate(lines):
            if (not inside and line.startswith("```")) or (inside and line.strip() == "```"):
                inside = not inside
                continue
            if inside or not line.startswith("<!-- not run"):
                continue
            assert MARKER.match(line), f"{page.name}:{i + 1}: write the marker as <!-- not run: REASON -->"
            following = next(j for j in range(i + 1, len(lines)) if lines[j].strip())
            assert (page, following + 1) in marked, f"{page.name}:{i + 1}: a marker with no block after it"


def test_the_families_page_is_what_matrix_table_writes() -> None:
    spec = importlib.util.spec_from_file_location("matrix_table", ROOT / "scripts" / "matrix_table.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    page = (ROOT / "docs" / "families.md").read_text()
    assert page.startswith(script.INTRO + "\n| family | method | task |")
    found = {(test, "-".join(cell)): "passed" for cell in script.CELLS for test in script.TEST_OF.values()}
    assert page == script.page_text(found), "docs/families.md: rerun scripts/matrix_table.py"


def test_the_readme_stays_short() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


# the workspace -----------------------------------------------------------------------------------------------


def _tiny_bert(directory: Path) -> Path:
    """tiny_bert with room for 512 positions (characters are its tokens) that mean-pools as MiniLM does."""
    import torch
    from transformers import BertConfig, BertModel

    from tests.tiny import save_tiny_bert

    save_tiny_bert(directory, seed=0)
    config = BertConfig.from_pretrained(directory)
    config.max_position_embeddings = 512
    torch.manual_seed(0)
    BertModel(config).save_pretrained(directory)
    (directory / "1_Pooling").mkdir()
    (directory / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    return directory


def _sst(path: Path, n: int, seed: int) -> Path:
    """``<label> <text>`` lines (the SST format), 0 negative and 1 positive."""
    import random

    from tests.training.conftest import FILLER, NEGATIVE, POSITIVE

    rng = random.Random(seed)
    rows = [
        f"{i % 2} {rng.choice(FILLER)} {rng.choice((NEGATIVE, POSITIVE)[i % 2])} {rng.choice(FILLER)}" for i in range(n)
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


def _data(work: Path) -> None:
    """The data files the pages name, small and learnable."""
    from tests.training.conftest import write_classification, write_conll, write_instructions

    for name, seed in (("train.txt", 0), ("dev.txt", 1), ("test.txt", 2)):
        _sst(work / name, 32, seed)
    write_classification(work / "small.csv", n=24)
    with open(work / "questions.csv", "w") as fh:
        fh.write("question,type\n")
        for i in range(30):
            kind = ("person", "place", "number")[i % 3]
            fh.write(f"{('who wrote it', 'where is it', 'how many are there')[i % 3]} {i},{kind}\n")
    (work / "ag_news.txt").write_text("".join(f"{i % 4} story {i} about topic {i % 4}\n" for i in range(32)))
    for name, seed in (("wnut17train.conll", 0), ("emerging.dev.conll", 1), ("wnut.conll", 2)):
        write_conll(work / name, n=12, seed=seed)
    write_instructions(work / "instructions.jsonl", n=8)
    (work / "run.yaml").write_text("task: sentiment\ndata: train.txt\neval_data: dev.txt\nlora: {r: 4}\n")
    lines = ['"a gripping drama"', json.dumps({"text": "Anna flew to Paris", "adapter": "ner"}), '"dull and long"']
    (work / "inputs.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every block starts from (a copy of it): bases, data, a registry and a folder remote."""
    from adapterhub import Registry, train
    from adapterhub.remote import Remote, RemoteRegistry, add_remote, push
    from tests.tiny import save_tiny_gpt2

    work = tmp_path_factory.mktemp("docs-workspace")
    bert = _tiny_bert(work / DEFAULT_BASE)
    gpt2 = save_tiny_gpt2(work / "gpt2", seed=0)
    _data(work)
    reg = Registry(work / "registry")
    fast: dict[str, Any] = dict(registry=reg, epochs=1, batch_size=8, max_length=32)
    for seed in range(4):  # sentiment@1..4
        train(task="sentiment", base=str(bert), data=str(work / "train.txt"), seed=seed, lr=1e-2, **fast)
    train(task="sentiment", name="sst-prefix", method="prefix", base=str(bert), data=str(work / "train.txt"), **fast)
    train(
        task="classify",
        name="topic",
        base=str(bert),
        data=str(work / "questions.csv"),
        text_column="question",
        label_column="type",
        **fast,
    )
    train(task="ner", base=str(bert), data=str(work / "wnut17train.conll"), **fast)
    for name in ("poet", "poet", "sql"):
        train(
            task="generate",
            name=name,
            base=str(gpt2),
            data=str(work / "instructions.jsonl"),
            **{**fast, "max_length": 64},
        )
    reg.tag("sentiment@2", "prod")
    (work / "team-remote").mkdir()
    origin = RemoteRegistry(add_remote(reg.root, Remote("origin", (work / "team-remote").as_uri())))
    push(reg, origin, ["sentiment@2", "sentiment@3"])
    origin.tag("sentiment@2", "prod")
    return work


@pytest.fixture
def copy(workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the workspace in the test's folder; ./registry is the registry the test's env names."""
    shutil.copytree(workspace, tmp_path, dirs_exist_ok=True, symlinks=True)
    monkeypatch.setenv("ADAPTERHUB_REGISTRY", str(tmp_path / "registry"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.docs
@pytest.mark.parametrize("block", RUN, ids=[b.id for b in RUN])
def test_the_block_runs(block: Block, copy: Path) -> None:
    if block.language == "python":
        exec(compile(block.code, block.id, "exec"), {"__name__": "__docs__"})
        return
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "HOME": str(copy)}
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block.code],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{block.id} exited {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

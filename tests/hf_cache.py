"""A Hugging Face cache filled by hand, laid out as huggingface_hub lays out a download, so that ``hf://`` imports
and README code that loads by repo id run offline against it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest


def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache that huggingface_hub (and transformers, PEFT through it) reads, offline."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))  # huggingface_hub read both at import
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def put_in_cache(cache: Path, repo: str, folder: Path, *, refs: tuple[str, ...] = ("main",)) -> str:
    """Cache ``folder``'s files as a download of model ``repo`` at a commit: each file's bytes in ``blobs/`` under
    their hash, ``snapshots/<commit>/`` of relative symlinks to them, and ``refs/<ref>`` holding the commit, which
    is returned."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    commit = hashlib.sha1(b"".join(hashlib.sha256(p.read_bytes()).digest() for p in files) + repo.encode()).hexdigest()
    storage = cache / f"models--{repo.replace('/', '--')}"
    snapshot = storage / "snapshots" / commit
    for path in files:
        data = path.read_bytes()
        blob = storage / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / path.relative_to(folder)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    for ref in refs:
        (storage / "refs").mkdir(parents=True, exist_ok=True)
        (storage / "refs" / ref).write_text(commit)
    return commit

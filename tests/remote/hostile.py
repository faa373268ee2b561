"""A hostile remote: a good pushed remote, then tampered behind its back, one bad card per adapter name.

Every case is an adapter name on the remote whose only version, ``@1``, is what an attacker who can write to the
bucket or the team folder would plant there: digests that are paths, file names that climb out of a folder,
sizes that lie, blobs that are not what their name says, files no adapter holds, symlinks (folder remotes),
another base, a version number past any the registry uses, markup and terminal escape sequences, a card that is
not JSON, empty or far too large. ``good`` beside them is an honest version, which must keep working.

The same cases are laid on a ``file://`` folder and on the S3 server, so each consumer (``hub pull``,
``hub serve --remote``, ``hub list --remote``) is tried against both stores.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapterhub.remote import Remote
from adapterhub.remote.catalog import blob_key, card_key

CONFIG = "adapter_config.json"
WEIGHTS = "adapter_model.safetensors"
GOOD = "good"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Tamper:
    """What a case may do to the remote: edit the card (a copy of ``good``'s, renamed), plant objects and,
    on a folder remote, symlinks; ``outside`` is a folder beyond the remote and every registry, ``victims``
    files and folders there that nothing may touch."""

    name: str
    card: dict[str, Any]
    remote: Remote
    good: dict[str, bytes]  # good@1's files by name
    outside: Path
    victims: dict[str, Path]
    write_card: bool = True

    def put(self, key: str, data: bytes) -> None:
        self.remote.store().put(key, data)

    def blob(self, data: bytes) -> str:
        """Plant ``data`` as a blob under its own sha256; that sha256."""
        digest = sha(data)
        self.put(blob_key(digest), data)
        return digest

    def link(self, key: str, target: Path) -> None:
        """Make ``key`` on the folder remote a symlink to ``target``."""
        path = Path(self.remote.store().location, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)

    def file(self, name: str, data: bytes) -> None:
        """List ``name`` in the card as the blob ``data``."""
        self.card["files"][name] = {"sha256": self.blob(data), "bytes": len(data)}


@dataclass(frozen=True)
class Case:
    """A bad version ``name@1``; ``words`` is a regex the one-line refusal must match. ``listed_broken``: the
    card alone gives it away, so `hub list --remote` shows it as broken (the others list; a pull refuses them)."""

    name: str
    tamper: Callable[[Tamper], None]
    words: str
    file_only: bool = False
    listed_broken: bool = True


def _sha_relative(t: Tamper) -> None:
    # from <registry>/.downloads this is a folder beside the registry
    t.card["files"][CONFIG]["sha256"] = "../../victim_dir"


def _sha_absolute(t: Tamper) -> None:
    t.card["files"][WEIGHTS]["sha256"] = str(t.victims["file"])


def _sha_upper(t: Tamper) -> None:
    t.card["files"][CONFIG]["sha256"] = t.card["files"][CONFIG]["sha256"].upper()


def _name_dotdot(t: Tamper) -> None:
    t.card["files"]["../../planted.json"] = t.card["files"].pop(CONFIG)


def _name_absolute(t: Tamper) -> None:
    t.card["files"][str(t.outside / "planted.json")] = t.card["files"].pop(CONFIG)


def _size_claimed_huge(t: Tamper) -> None:
    t.card["files"][WEIGHTS]["bytes"] = 1 << 62


def _size_negative(t: Tamper) -> None:
    t.card["files"][CONFIG]["bytes"] = -1


def _size_actual_larger(t: Tamper) -> None:
    big = t.good[CONFIG] + b" " * (4 << 20)  # 4 MiB more than the card says, under its own sha256
    t.card["files"][CONFIG] = {"sha256": t.blob(big), "bytes": len(t.good[CONFIG])}


def _blob_mismatch(t: Tamper) -> None:
    other = t.good[CONFIG].replace(b"{", b"{ ", 1)  # valid JSON, but not the bytes the card names
    claimed = sha(b"the bytes the card promises")
    t.put(blob_key(claimed), other)
    t.card["files"][CONFIG] = {"sha256": claimed, "bytes": len(other)}


def _extra_code(t: Tamper) -> None:
    t.file("evil.py", b"import os\nos.system('touch /tmp/owned')\n")


def _extra_pickle(t: Tamper) -> None:
    t.file("adapter_model.bin", b"\x80\x04\x95not a real pickle; never unpickled\x94.")


def _link_blob(t: Tamper) -> None:
    data = t.good[CONFIG] + b"\n"  # valid JSON, its own sha256
    target = t.outside / "linked-config.json"
    target.write_bytes(data)
    t.link(blob_key(sha(data)), target)
    t.card["files"][CONFIG] = {"sha256": sha(data), "bytes": len(data)}


def _link_card_folder(t: Tamper) -> None:
    folder = t.outside / "cards-elsewhere"
    folder.mkdir()
    (folder / "1.json").write_text(json.dumps(t.card))
    t.link(f"cards/{t.name}", folder)
    t.write_card = False


def _link_card(t: Tamper) -> None:
    target = t.outside / "card-elsewhere.json"
    target.write_text(json.dumps(t.card))
    t.link(card_key(t.name, 1), target)
    t.write_card = False


def _base_unknown(t: Tamper) -> None:
    t.card["base"]["id"] = "attacker/other-base"  # no such folder here, not in the Hugging Face cache


def _base_other_weights(t: Tamper) -> None:
    t.card["base"]["fingerprint"] = "sha256:" + "1" * 64  # the local registry's versions on this base say otherwise


def _version_huge(t: Tamper) -> None:
    t.card["version"] = 10**12


def _escape_sequence(t: Tamper) -> None:
    t.card["data"]["description"] = "reviews\x1b]0;owned\x07\x1b[2J\x1b[31m"


def _html(t: Tamper) -> None:
    t.card["labels"] = ["<script>alert(1)</script>", "positive"]


def _card_unreadable(t: Tamper) -> None:
    t.put(card_key(t.name, 1), b'{"name": "card-unreadable", "version": 1, ')
    t.write_card = False


def _card_empty(t: Tamper) -> None:
    t.put(card_key(t.name, 1), b"")  # S3 serves no byte range of an empty object
    t.write_card = False


def _card_huge(t: Tamper) -> None:
    t.card["hyperparameters"]["padding"] = "x" * (20 << 20)


CASES = [
    Case("sha-relative", _sha_relative, r"sha256 '\.\./\.\./victim_dir' .*not 64 lower-case hex"),
    Case("sha-absolute", _sha_absolute, r"sha256 '.*victim_file' .*not 64 lower-case hex"),
    Case("sha-upper", _sha_upper, r"sha256 '[0-9A-F]{8}.*not 64 lower-case hex"),
    Case("name-dotdot", _name_dotdot, r"'\.\./\.\./planted\.json', which is not a plain name"),
    Case("name-absolute", _name_absolute, r"'.*planted\.json', which is not a plain name"),
    Case("size-claimed-huge", _size_claimed_huge, r"adapter_model\.safetensors.* 4611686018427387904 bytes"),
    Case("size-negative", _size_negative, r"adapter_config\.json.* -1 bytes"),
    Case(
        "size-actual-larger",
        _size_actual_larger,
        r"adapter_config\.json: \d+ bytes on the remote, the card says \d+ \(refused before",
        listed_broken=False,
    ),
    Case(
        "blob-mismatch",
        _blob_mismatch,
        r"adapter_config\.json: .*sha256 .*does not match the card",
        listed_broken=False,
    ),
    Case("extra-code", _extra_code, r"'evil\.py'"),
    Case("extra-pickle", _extra_pickle, r"'adapter_model\.bin'"),
    Case("link-blob", _link_blob, r"blobs/[0-9a-f]{64} is a symlink", file_only=True, listed_broken=False),
    Case("link-card-folder", _link_card_folder, r"cards/link-card-folder is a symlink", file_only=True),
    Case("link-card", _link_card, r"cards/link-card/1\.json is a symlink", file_only=True),
    Case("base-unknown", _base_unknown, r"base 'attacker/other-base' is not on this machine", listed_broken=False),
    Case("base-other-weights", _base_other_weights, r"base .* sha256:1111.* but .*sha256:", listed_broken=False),
    Case("version-huge", _version_huge, r"says version-huge@1000000000000"),
    Case("escape-sequence", _escape_sequence, r"data\.description .*'reviews\\x1b\]0;owned\\x07"),
    Case("html", _html, r"labels\[0\] .*'<script>"),
    Case("card-unreadable", _card_unreadable, r"unreadable card"),
    Case("card-empty", _card_empty, r"unreadable card"),
    Case("card-huge", _card_huge, r"card\.json is larger than"),
]


def build(remote: Remote, good_card: bytes, good_files: dict[str, bytes], outside: Path, victims: dict[str, Path]):
    """Lay every case applicable to ``remote`` beside ``good@1`` (pushed already); the cases laid."""
    laid = []
    for case in CASES:
        if case.file_only and not remote.url.startswith("file://"):
            continue
        card = json.loads(good_card)
        card["name"] = case.name
        tamper = Tamper(case.name, card, remote, good_files, outside, victims)
        case.tamper(tamper)
        with contextlib.suppress(TypeError, KeyError):  # the sizes stay consistent unless the case breaks them
            tamper.card["size_bytes"] = sum(f["bytes"] for f in tamper.card["files"].values())
        if tamper.write_card:
            tamper.put(card_key(case.name, 1), json.dumps(tamper.card, indent=2).encode())
        laid.append(case)
    return laid


def tree(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (links not followed): a file's sha256, a link's target, ``dir`` for a folder."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in sorted(dirnames + filenames):
            path = Path(dirpath, entry)
            key = str(path.relative_to(root))
            if path.is_symlink():
                out[key] = "link:" + os.readlink(path)
            elif path.is_dir():
                out[key] = "dir"
            else:
                out[key] = sha(path.read_bytes())
    return out

"""The prediction log: one SQLite row per input a server ran, written off the request path, rotated by size.

The log lives beside the registry, in ``<registry>/.logs/predictions.sqlite`` (a dot folder: never a name, never
listed; ``hub registry verify`` checks only that it and its files are no symlinks, which are refused as everywhere
in a registry). The folder is its owner's alone (0700) and so are the files (0600), whatever the umask: with
``log_inputs`` they hold what clients sent. A row holds when the input's result was ready, the request it came
in (inputs of one request share ``request``), the adapter version, the request's latency (queueing to result),
the input's length in characters, and the result: label and score (classifiers), the number of entities (NER)
or of generated tokens (generation), or the error type of a failed request. The input text, and the outputs
that repeat or reveal it (NER words and tags, generated text), are stored only with ``log_inputs``.

Rows are handed to a writer thread (:meth:`PredictionLog.add` appends to a queue and returns), which writes
whatever has gathered in one transaction; :meth:`PredictionLog.close` writes every row still queued. When the
file reaches ``max_bytes`` it is renamed to ``predictions.1.sqlite`` (replacing the previous backup) and a new
file is started, so the log never takes more than about twice ``max_bytes``. Several server processes may
share one log: writes and rotation take a lock file, and a writer whose file was rotated by another reopens.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from adapterhub.errors import AdapterNotFound, ConfigError
from adapterhub.names import Ref
from adapterhub.registry.files import create_new, temporary_path
from adapterhub.registry.paths import refuse_link, work_folder

log = logging.getLogger("adapterhub.serving")

LOG_FOLDER = ".logs"
LOG_FILE = "predictions.sqlite"
BACKUP_FILE = "predictions.1.sqlite"
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    request TEXT NOT NULL,
    adapter TEXT NOT NULL,
    version INTEGER NOT NULL,
    task TEXT NOT NULL,
    latency_s REAL NOT NULL,
    input_chars INTEGER NOT NULL,
    label TEXT,
    score REAL,
    entities INTEGER,
    tokens INTEGER,
    error TEXT,
    input TEXT,
    output TEXT
);
CREATE INDEX IF NOT EXISTS predictions_time ON predictions (time);
CREATE INDEX IF NOT EXISTS predictions_adapter ON predictions (adapter, time);
"""
_BATCH = 2000  # rows per transaction at most


@dataclass(frozen=True)
class Prediction:
    """One logged input and its result."""

    time: float  # unix seconds when the result was ready
    request: str  # shared by the inputs of one request
    adapter: str
    version: int
    task: str
    latency_s: float  # the request's time from queueing to its results
    input_chars: int
    label: str | None = None  # classifiers
    score: float | None = None
    entities: int | None = None  # ner: entities found
    tokens: int | None = None  # generate: tokens generated
    error: str | None = None  # the error type of a failed request
    input: str | None = None  # only with log_inputs
    output: str | None = None  # only with log_inputs: JSON of the NER words and tags, or the generated text

    @property
    def ref(self) -> str:
        return f"{self.adapter}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, **asdict(self)}


_COLUMNS = tuple(f.name for f in fields(Prediction))


def log_folder(registry_root: str | os.PathLike[str]) -> Path:
    return Path(registry_root) / LOG_FOLDER


class PredictionLog:
    """The writer: ``add`` from any thread, ``close`` to write what is queued and stop."""

    def __init__(self, folder: str | os.PathLike[str], *, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ConfigError("the prediction log's size limit must be positive, e.g. --log-max-mb 100")
        self.folder = Path(folder)
        self.path = self.folder / LOG_FILE
        self.max_bytes = max_bytes
        self._queue: queue.SimpleQueue[Prediction | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._db: sqlite3.Connection | None = None
        self._inode: int | None = None

    def start(self) -> None:
        """Create the folder and the file (an unwritable place fails here, at start-up), then the writer thread.

        Raises:
            RegistryCorrupt: The folder or one of its files is a symlink (or the folder is no folder).
            ConfigError: The log cannot be written there.
        """
        try:
            prepare_folder(self.folder)
            with self._locked():
                self._open()
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot write the prediction log {self.path}: {exc}") from exc
        self._thread = threading.Thread(target=self._work, name="adapterhub-prediction-log", daemon=True)
        self._thread.start()

    def add(self, rows: Sequence[Prediction]) -> None:
        """Queue ``rows`` for the writer; returns at once."""
        for row in rows:
            self._queue.put(row)

    def close(self) -> None:
        """Write every row queued so far, then stop the writer."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join()
        self._thread = None
        if self._db is not None:
            self._db.close()
            self._db = None

    # ------------------------------------------------------------------------------------------ the writer

    def _work(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            rows = [] if first is None else [first]
            stop = first is None
            while not stop and len(rows) < _BATCH:  # whatever else is queued joins this transaction
                try:
                    row = self._queue.get_nowait()
                except queue.Empty:
                    break
                if row is None:
                    stop = True
                else:
                    rows.append(row)
            if rows:
                try:
                    self._write(rows)
                except (OSError, sqlite3.Error):  # a full disk must not take the server down with it
                    log.exception("could not write %d rows to the prediction log %s", len(rows), self.path)

    def _write(self, rows: list[Prediction]) -> None:
        with self._locked():
            if self._db is None or self._rotated_elsewhere():
                self._open()
            assert self._db is not None
            with self._db:
                self._db.executemany(
                    f"INSERT INTO predictions ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                    [tuple(getattr(row, c) for c in _COLUMNS) for row in rows],
                )
            if self.path.stat().st_size >= self.max_bytes:
                self._db.close()
                self._db = None
                os.replace(self.path, self.folder / BACKUP_FILE)
                self._open()

    def _open(self) -> None:
        if self._db is not None:
            self._db.close()
        os.close(_private_file(self.path))  # before sqlite opens it: it would create it 0644, or follow a link
        self._db = _connect(self.path)
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._inode = self.path.stat().st_ino

    def _rotated_elsewhere(self) -> bool:
        """Whether another process rotated (or removed) the file this writer has open."""
        try:
            return self.path.stat().st_ino != self._inode
        except FileNotFoundError:
            return True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # flock, not lockf: a POSIX record lock belongs to the process, so it would neither exclude another
        # thread of this process nor survive that thread closing its own handle on the lock file
        with open(_private_file(self.folder / ".lock"), "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def prepare_folder(folder: Path) -> None:
    """Make ``folder`` the log's own: a real directory (created if need be) that only its owner can enter.

    Raises:
        RegistryCorrupt: ``folder`` is a symlink or no directory.
        ConfigError: It cannot be created or changed.
    """
    try:
        work_folder(folder, create=True)
        os.chmod(folder, 0o700)  # also one an earlier version created 0755
    except OSError as exc:
        raise ConfigError(f"cannot write the prediction log in {folder}: {exc.strerror or exc}") from exc


def _private_file(path: Path) -> int:
    """A descriptor of the file ``path``, created if need be, open for reading and writing and readable by its
    owner only; a symlink there is refused (:class:`RegistryCorrupt`), never followed."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            refuse_link(path)
        raise
    os.fchmod(fd, 0o600)  # whatever the umask, and a file an earlier version left 0644
    return fd


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    if read_only:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    else:
        db = sqlite3.connect(path, timeout=10, check_same_thread=False)
        db.execute("PRAGMA synchronous = NORMAL")
    return db


# ------------------------------------------------------------------------------------------------- reading


def read_predictions(
    folder: str | os.PathLike[str],
    *,
    adapter: str | None = None,
    since: float | None = None,
    limit: int | None = None,
) -> list[Prediction]:
    """The newest ``limit`` rows (all when None) of the log and its backup, oldest first; only those of
    ``adapter`` (NAME or NAME@VERSION) and at or after ``since`` (unix seconds) when given.

    Raises:
        AdapterNotFound: There is no prediction log in ``folder``.
    """
    where, params = ["1 = 1"], []
    if adapter is not None:
        if ":" in adapter:
            raise ConfigError(f"--adapter {adapter!r}: the log records versions, not aliases; give NAME[@VERSION]")
        ref = Ref.parse(adapter)  # the registry's rules: ASCII digits only ('²' is a digit to str.isdigit)
        where.append("adapter = ?")
        params.append(ref.name)
        if ref.version is not None:
            where.append("version = ?")
            params.append(ref.version)
    folder = Path(folder)
    work_folder(folder, create=False)  # a symlink is refused, not read through
    for path in (folder / BACKUP_FILE, folder / LOG_FILE):
        refuse_link(path)
    files = [p for p in (folder / BACKUP_FILE, folder / LOG_FILE) if p.is_file()]
    if not files:
        raise AdapterNotFound(
            f"no prediction log in {folder}: start the server with `hub serve --log-predictions` "
            "(and the same --registry) to keep one"
        )
    if since is not None:
        where.append("time >= ?")
        params.append(since)
    rows: list[Prediction] = []
    for path in files:
        db = _connect(path, read_only=True)
        try:
            query = f"SELECT {', '.join(_COLUMNS)} FROM predictions WHERE {' AND '.join(where)}"
            query += " ORDER BY time DESC, id DESC" + (" LIMIT ?" if limit is not None else "")
            cursor = db.execute(query, (*params, *([limit] if limit is not None else [])))
            rows += [Prediction(*values) for values in cursor]
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot read the prediction log {path}: {exc}") from exc
        finally:
            db.close()
    rows.sort(key=lambda r: r.time, reverse=True)
    if limit is not None:
        rows = rows[:limit]
    return rows[::-1]


# ------------------------------------------------------------------------------------------------- export


def export_examples(rows: Sequence[Prediction], dest: str | os.PathLike[str]) -> tuple[int, int]:
    """Write ``rows`` (of one task) as the JSON lines ``hub eval`` and ``hub train`` read: ``{"text", "label"}``
    for classifiers, ``{"tokens", "tags"}`` for NER, ``{"prompt", "response"}`` for generation. Rows without
    input text (logged without ``--log-inputs``) and failed requests are skipped. The file appears whole or
    not at all, readable by its owner only. Returns (rows written, rows skipped).

    Raises:
        ConfigError: ``dest`` exists, the rows mix tasks, or no row has input text.
    """
    dest = Path(dest)
    if os.path.lexists(dest):  # a symlink too, even one to nothing
        raise ConfigError(f"{dest} exists; choose a new file for the export (nothing was written)")
    tasks = sorted({row.task for row in rows})
    if len(tasks) > 1:
        raise ConfigError(f"the rows mix tasks ({', '.join(tasks)}); name one adapter with --adapter NAME[@VERSION]")
    usable = [row for row in rows if row.input is not None and row.error is None]
    if not usable:
        raise ConfigError(
            f"none of the {len(rows)} matching rows holds its input text: the server logged without --log-inputs, "
            "so there is nothing to export"
        )
    lines = [json.dumps(_example(row), ensure_ascii=False) for row in usable]
    tmp = temporary_path(dest)
    try:
        fd = create_new(tmp, private=True)  # the inputs clients sent: 0600, and never through a planted link
    except OSError as exc:
        raise ConfigError(f"cannot write {dest}: {exc.strerror or exc}") from exc
    try:
        with open(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, dest)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ConfigError(f"cannot write {dest}: {exc.strerror or exc}") from exc
    return len(usable), len(rows) - len(usable)


def _example(row: Prediction) -> dict[str, Any]:
    if row.task == "ner":
        output = json.loads(row.output or "{}")
        return {"tokens": output.get("words", []), "tags": output.get("tags", [])}
    if row.task == "generate":
        return {"prompt": row.input, "response": row.output or ""}
    return {"text": row.input, "label": row.label}


def parse_since(text: str, now: float | None = None) -> float:
    """Unix seconds of ``--since``: a duration back from now (``30s``, ``15m``, ``1h``, ``2d``, ``1w``) or an ISO
    8601 date or time (``2026-12-01``, ``2026-12-01T09:30``, local time unless it names a zone)."""

    now = time.time() if now is None else now
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = text.strip()
    if text[:-1].replace(".", "", 1).isdigit() and text[-1:] in units:
        return now - float(text[:-1]) * units[text[-1]]
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise ConfigError(
            f"--since {text!r} is neither a duration (30s, 15m, 1h, 2d, 1w) nor an ISO date (2026-12-01T09:30)"
        ) from None

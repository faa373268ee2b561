"""``ServeConfig``: every setting of ``hub serve``, shared by the command line, the app factory and workers."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapterhub.errors import ConfigError
from adapterhub.serving.keys import KeyDigest

if TYPE_CHECKING:
    from adapterhub.inference import Hub

API_KEY_ENV = "ADAPTERHUB_API_KEY"
CONFIG_ENV = "ADAPTERHUB_SERVE_CONFIG"  # how `--workers N` hands the settings to each worker process


@dataclass(frozen=True)
class ServeConfig:
    """How the server runs: what it preloads, its limits, and how it batches.

    Example:
        >>> ServeConfig(adapters=("sentiment", "ner@2"), max_batch=32, max_wait_ms=5).port
        8000
    """

    registry: str | None = None  # registry directory [default: ./registry or ADAPTERHUB_REGISTRY]
    adapters: tuple[str, ...] = ()  # preloaded at start-up (NAME, NAME@VERSION or NAME:ALIAS)
    remote: str | None = None  # a remote of the registry (`hub remote add`): what the registry lacks is pulled
    only_preloaded: bool = False  # refuse every adapter that was not preloaded
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1  # processes; each holds its own base and adapters and batches its own requests
    api_key: str | None = None  # when set, `Authorization: Bearer <key>` on every route but /health
    api_key_file: str | None = None  # a file holding the key (kept out of `ps`, unlike --api-key)
    api_key_digest: str | None = None  # what workers get instead of the key (see adapterhub.serving.keys)
    allowed_hosts: tuple[str, ...] = ()  # Host header names accepted besides the bound address and loopback
    device: str | None = None
    quantize: str | None = None
    dtype: str | None = None  # fp32, bf16 or fp16 (CUDA): what the base computes in [default: as stored]
    max_batch: int = 32  # inputs per forward pass; 1 turns dynamic batching off
    max_wait_ms: float = 5.0  # how long the first queued input waits for others to join its batch
    max_queue: int = 1024  # inputs waiting; beyond it requests get 429 with Retry-After
    max_inputs: int = 64  # inputs per request; beyond it 413
    max_input_chars: int = 8192  # characters per input; beyond it 413
    max_new_tokens: int = 512  # the most tokens one generation may ask for; beyond it 413
    max_adapters: int = 64  # hot adapters on the device (least recently used leave first)
    shutdown_timeout_s: float = 30.0  # how long a graceful shutdown waits for in-flight requests
    access_log: bool = False  # a log line per request (off: /metrics counts requests at a fraction of the cost)
    metrics_max_adapters: int = 100  # adapter versions with series of their own; the least recently used fold
    log_predictions: bool = False  # a row per input in <registry>/.logs/predictions.sqlite
    log_inputs: bool = False  # the log keeps the input text (and outputs that reveal it); needs log_predictions
    log_max_mb: float = 100.0  # the log's size before it is rotated (one backup is kept)
    shadows: tuple[str, ...] = ()  # PRIMARY=SHADOW: SHADOW rides in the batch of every request naming PRIMARY
    shadow_samples: int = 0  # disagreeing inputs each shadow keeps for its report (0: none, inputs may be private)
    shadow_share: float = 1.0  # of each primary's requests that run its shadow too (1: every one)

    def make_hub(self) -> Hub:
        """The Hub these settings describe (each worker process makes its own)."""
        from adapterhub.inference import Hub

        return Hub(
            self.registry,
            device=self.device,
            quantize=self.quantize,
            dtype=self.dtype,
            max_adapters=self.max_adapters,
            batch_size=self.max_batch,  # a gathered batch is one forward pass (where padding allows), not several
            remote=self.remote,
        )

    def __post_init__(self) -> None:
        problems = []
        for name in ("max_batch", "max_queue", "max_inputs", "max_input_chars", "max_new_tokens", "max_adapters"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        if self.metrics_max_adapters < 1:
            problems.append("--metrics-max-adapters must be at least 1")
        if self.log_inputs and not self.log_predictions:
            problems.append("--log-inputs keeps input text in the prediction log: add --log-predictions")
        if not self.log_max_mb > 0:
            problems.append(f"--log-max-mb must be positive (got {self.log_max_mb:g}), e.g. --log-max-mb 100")
        if self.workers < 1:
            problems.append("workers must be at least 1")
        if self.max_wait_ms < 0 or self.shutdown_timeout_s < 0:
            problems.append("max_wait_ms and shutdown_timeout_s must not be negative")
        if not 0 <= self.port <= 65535:
            problems.append(f"port {self.port} is not in 0..65535")
        if self.api_key is not None and not self.api_key.strip():
            problems.append("the API key must not be empty")
        if self.api_key is not None and self.api_key_file is not None:
            problems.append("give --api-key or --api-key-file, not both")
        if self.max_inputs > self.max_queue >= 1:
            problems.append(
                f"--max-inputs {self.max_inputs} is more than --max-queue {self.max_queue}: a request of more than "
                f"{self.max_queue} inputs could never be queued; lower --max-inputs or raise --max-queue"
            )
        problems += self._shadow_problems()
        for host in self.allowed_hosts:
            if not host or any(c in host for c in "/ \t@") or host != host.strip():
                problems.append(f"--allowed-host {host!r} is not a host name (e.g. api.example.com or 10.0.0.5)")
        if problems:
            raise ConfigError("; ".join(problems))

    def shadow_pairs(self) -> list[tuple[str, str]]:
        """``--shadow`` as (primary, shadow) pairs."""
        from adapterhub.serving.shadow import parse_pair

        return [parse_pair(text) for text in self.shadows]

    def _shadow_problems(self) -> list[str]:
        from adapterhub.errors import AdapterHubError
        from adapterhub.serving.shadow import canonical, check_share, parse_pair

        problems, primaries = [], set()
        for text in self.shadows:
            try:
                primary, _ = parse_pair(text)
            except AdapterHubError as exc:
                problems.append(str(exc))
                continue
            if canonical(primary) in primaries:
                problems.append(f"--shadow names {primary} twice; a primary has one shadow")
            primaries.add(canonical(primary))
        if self.shadow_samples < 0:
            problems.append(f"--shadow-samples must not be negative (got {self.shadow_samples})")
        try:
            check_share(self.shadow_share, "--shadow-share")
        except AdapterHubError as exc:
            problems.append(str(exc))
        if self.shadows and self.max_adapters < 2:
            problems.append("a shadow rides in its primary's batch, so --shadow needs --max-adapters 2 or more")
        return problems

    def with_environment(self) -> ServeConfig:
        """The same settings with the API key resolved: ``--api-key``, else the file of ``--api-key-file``,
        else ADAPTERHUB_API_KEY."""
        key = self.api_key
        if key is None and self.api_key_file is not None:
            key = read_key_file(self.api_key_file)
        if key is None:
            key = os.environ.get(API_KEY_ENV) or None
        return ServeConfig(**{**asdict(self), "api_key": key, "api_key_file": None})

    def key_digest(self) -> KeyDigest | None:
        """What a request's key is checked against (None: no key is required)."""
        if self.api_key is not None:
            return KeyDigest.of(self.api_key)
        return KeyDigest.parse(self.api_key_digest) if self.api_key_digest else None

    def to_json(self) -> str:
        """The settings for worker processes: the key itself never leaves this process, only its digest."""
        digest = self.key_digest()
        values = {**asdict(self), "api_key": None, "api_key_file": None}
        values["api_key_digest"] = str(digest) if digest is not None else None
        return json.dumps(values)

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        values: dict[str, Any] = json.loads(text)
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in values.items() if k in known}
        values["adapters"] = tuple(values.get("adapters") or ())
        values["allowed_hosts"] = tuple(values.get("allowed_hosts") or ())
        values["shadows"] = tuple(values.get("shadows") or ())
        return cls(**values)


def read_key_file(path: str) -> str:
    """The key in ``path`` (surrounding whitespace and the final newline dropped)."""
    try:
        key = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError(f"cannot read --api-key-file {path}: {reason}") from exc
    if not key:
        raise ConfigError(f"--api-key-file {path} is empty; write the key into it")
    return key

"""``ServeConfig``: every setting of ``hub serve``, shared by the command line, the app factory and workers.

Each setting is written once, as a field with its default and its help; ``hub serve`` builds its options from them.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapterhub.errors import AdapterHubError, ConfigError
from adapterhub.serving.keys import KeyDigest
from adapterhub.typed_fields import setting

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

    registry: str | None = setting(
        None,
        "Registry directory",
        shown_default="./registry or ADAPTERHUB_REGISTRY",
        cli=False,
        cli_reason="hub's own --registry option, before the command",
    )
    adapters: tuple[str, ...] = setting(
        (), "Preload NAME[@V|:ALIAS] at start-up (repeatable)", flag="--adapter", metavar="NAME", split=False
    )
    remote: str | None = setting(
        None,
        "Pull adapters the registry lacks from this remote (`hub remote add`) on first request; "
        "POST /v1/adapters/NAME/load resolves NAME there anew",
        metavar="NAME",
    )
    only_preloaded: bool = setting(
        False, "Refuse adapters that were not preloaded (or loaded through the load endpoint)"
    )
    host: str = setting("127.0.0.1", "Interface to listen on; 0.0.0.0 exposes the server to the network")
    port: int = setting(8000, "TCP port")
    workers: int = setting(
        1, "Processes sharing the port; each loads its own base and adapters and batches its own requests"
    )
    api_key: str | None = setting(
        None,
        "Require `Authorization: Bearer KEY` on every route but /health. A key on the command line shows in `ps`: "
        "prefer the ADAPTERHUB_API_KEY environment variable or --api-key-file",
    )
    api_key_file: str | None = setting(
        None, "Read the API key from PATH (e.g. a file only you can read); as --api-key", metavar="PATH"
    )
    api_key_digest: str | None = setting(
        None,
        "What worker processes get instead of the key (see adapterhub.serving.keys)",
        cli=False,
        cli_reason="made from --api-key for the workers of --workers N",
    )
    allowed_hosts: tuple[str, ...] = setting(
        (),
        "Also answer requests whose Host header is NAME (repeatable; '*' for any). Without it, a server on a "
        "loopback address answers only to localhost, 127.0.0.1 and [::1], and one on 0.0.0.0 to any Host",
        flag="--allowed-host",
        metavar="NAME",
        split=False,
    )
    device: str | None = setting(None, "cpu, cuda or cuda:N", shown_default="cuda when present")
    quantize: str | None = setting(None, "4bit or 8bit base through bitsandbytes (CUDA only)")
    dtype: str | None = setting(None, "fp32, bf16 or fp16 (CUDA): what the base computes in", shown_default="as stored")
    max_batch: int = setting(32, "Inputs per mixed-adapter batch (one forward pass); 1 turns batching off")
    max_wait_ms: float = setting(5.0, "How long the oldest request waits for others to join its batch")
    max_queue: int = setting(1024, "Inputs waiting before requests get 429 with Retry-After (at least --max-inputs)")
    max_inputs: int = setting(64, "Inputs (or chat messages) per request before 413; at most --max-queue")
    max_input_chars: int = setting(8192, "Characters per input (or chat message) before 413")
    max_new_tokens: int = setting(
        512, "Most tokens one generation may ask for before 413; a chat that names no limit gets as many as fit"
    )
    max_adapters: int = setting(64, "Adapters kept hot on the device (least recently used leave first)")
    shutdown_timeout_s: float = setting(
        30.0, "Seconds a graceful shutdown waits for in-flight requests", flag="--shutdown-timeout"
    )
    access_log: bool = setting(
        False, "Log a line per request (off: /metrics counts requests at a fraction of the cost)"
    )
    metrics_max_adapters: int = setting(
        100, "Adapter versions with /metrics series of their own; the least recently used fold into 'other'"
    )
    log_predictions: bool = setting(
        False, "Keep a row per input in REGISTRY/.logs/predictions.sqlite (read it with `hub logs`)"
    )
    log_inputs: bool = setting(
        False, "Also keep each input's text (and outputs that reveal it) in the log; off: lengths only"
    )
    log_max_mb: float = setting(
        100.0, "Rotate the prediction log at this size (one backup is kept: about twice this on disk)"
    )
    shadows: tuple[str, ...] = setting(
        (),
        "Run SHADOW (NAME@V, or a name or alias resolved now) on every request that names PRIMARY, in the same "
        "batch, and compare their answers; only PRIMARY answers (repeatable). See `hub shadow report`",
        flag="--shadow",
        metavar="PRIMARY=SHADOW",
        split=False,
    )
    shadow_samples: int = setting(
        0,
        "Keep the last N inputs each shadow disagreed on, for `hub shadow report` (inputs may be private)",
        metavar="N",
    )
    shadow_share: float = setting(
        1.0,
        "Run each shadow on this share of its PRIMARY's requests, evenly spread (0.25: one in four; a shadow costs "
        "the throughput of its rows, so this bounds that cost)",
        metavar="SHARE",
    )

    def make_hub(self) -> Hub:
        """The Hub these settings describe (each worker process makes its own)."""
        from adapterhub.inference import Hub  # loads torch: on first use

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
        from adapterhub.serving.shadow import parse_pair  # loads prometheus_client: on first use

        return [parse_pair(text) for text in self.shadows]

    def _shadow_problems(self) -> list[str]:
        from adapterhub.serving.shadow import (  # loads prometheus_client: on first use
            canonical,
            check_share,
            parse_pair,
        )

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

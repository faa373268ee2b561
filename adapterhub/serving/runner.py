"""``serve``: check the settings and preloaded adapters, then run uvicorn (one process, or ``workers``)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from adapterhub.errors import ConfigError
from adapterhub.registry import Registry
from adapterhub.remote import RemoteTier
from adapterhub.serving.config import API_KEY_ENV, CONFIG_ENV, ServeConfig
from adapterhub.serving.prediction_log import log_folder, prepare_folder

if TYPE_CHECKING:
    from adapterhub.registry import AdapterRecord


def serve(config: ServeConfig) -> None:
    """Run the server until SIGINT/SIGTERM, then drain in-flight requests (up to ``shutdown_timeout_s``).

    With one worker the base and the preloaded adapters load before the port opens, so a bad ``--adapter``
    ends the command with a one-line error. With ``workers > 1`` each process loads its own copy of everything
    (memory grows with the worker count) and batches only its own requests; the port is shared.
    """
    import uvicorn  # uvicorn: loaded on first use

    from adapterhub.serving.app import create_app  # loads torch: on first use

    config = config.with_environment()
    os.environ.pop(API_KEY_ENV, None)  # read: no process started from here (a worker) inherits the key
    if config.only_preloaded and not config.adapters:
        raise ConfigError("--only-preloaded serves nothing without --adapter NAME (repeatable)")
    registry = Registry(config.registry)
    if config.remote is not None:
        tier = RemoteTier(registry, config.remote)  # an unknown remote name fails here
        tier.remote.store.check()  # so does a remote that cannot be reached: before the base loads
        for spec in config.adapters:
            tier.where(spec)  # held locally or on the remote, or refused naming both
        print(
            f"adapters the registry lacks are pulled from remote {tier.name} ({tier.remote.store.where})",
            file=sys.stderr,
        )
    else:
        for spec in config.adapters:
            registry.get(spec)  # unknown names fail here, before anything loads
    if config.log_predictions:
        prepare_folder(log_folder(registry.root))  # a symlinked .logs fails here in one line, not in the lifespan
    settings = dict(
        host=config.host,
        port=config.port,
        timeout_graceful_shutdown=int(config.shutdown_timeout_s),
        log_level="info",
        access_log=config.access_log,
    )
    auth = "required" if config.api_key else "off"
    batching = f"up to {config.max_batch} inputs / {config.max_wait_ms:g} ms" if config.max_batch > 1 else "off"
    if config.workers == 1:
        hub = config.make_hub()
        early: list[tuple[AdapterRecord, str, float]] = []  # loads before the app (and its metrics) exist
        hub.on_load = lambda *load: early.append(load)
        for spec in config.adapters:
            record = hub.load(spec)
            print(f"loaded {record.ref} ({record.card.task}, {record.card.method})", file=sys.stderr)
        print(f"batching {batching}; API key {auth}; docs at http://{config.host}:{config.port}/docs", file=sys.stderr)
        app = create_app(hub, config)
        for load in early:  # the preloads count as the cold loads they were
            app.state.server.observer.loaded(*load)
        uvicorn.run(app, **settings)  # type: ignore[arg-type]
        return
    os.environ[CONFIG_ENV] = config.to_json()  # with the key's salted digest, never the key
    print(f"{config.workers} workers; batching {batching}; API key {auth}", file=sys.stderr)
    uvicorn.run(
        "adapterhub.serving.app:app_from_environment",
        factory=True,
        workers=config.workers,
        **settings,  # type: ignore[arg-type]
    )

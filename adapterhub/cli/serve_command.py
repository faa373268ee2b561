"""``hub serve``: flags -> ServeConfig -> adapterhub.serving.runner.serve."""

from __future__ import annotations

from typing import Annotated

import typer

from adapterhub.cli.command import command
from adapterhub.cli.formatting import examples

Opt = typer.Option


@command(
    epilog=examples(
        "hub serve --adapter reviews --adapter poet",
        "hub serve --port 9000 --max-batch 64 --max-wait-ms 10",
        "hub serve --remote origin    # a request for an adapter not held locally pulls it first",
        "hub serve --adapter sentiment:prod --shadow sentiment:prod=sentiment@4 --shadow-samples 100",
        'ADAPTERHUB_API_KEY="$KEY" hub serve --host 0.0.0.0 --workers 2',
        "hub serve --log-predictions --log-inputs --log-max-mb 50",
    )
)
def serve(
    ctx: typer.Context,
    adapters: Annotated[
        list[str] | None, Opt("--adapter", metavar="NAME", help="Preload NAME[@V|:ALIAS] (repeatable).")
    ] = None,
    remote: Annotated[
        str | None,
        Opt(
            metavar="NAME",
            help="Pull adapters the registry lacks from this remote (`hub remote add`) on first request; "
            "POST /v1/adapters/NAME/load resolves NAME there anew.",
        ),
    ] = None,
    only_preloaded: Annotated[
        bool, Opt(help="Refuse adapters that were not preloaded (or loaded through the load endpoint).")
    ] = False,
    host: Annotated[str, Opt(help="Interface to listen on; 0.0.0.0 exposes the server to the network.")] = "127.0.0.1",
    allowed_hosts: Annotated[
        list[str] | None,
        Opt(
            "--allowed-host",
            metavar="NAME",
            help="Also answer requests whose Host header is NAME (repeatable; '*' for any). Without it, a server "
            "on a loopback address answers only to localhost, 127.0.0.1 and [::1], and one on 0.0.0.0 to any Host.",
        ),
    ] = None,
    port: Annotated[int, Opt(help="TCP port.")] = 8000,
    workers: Annotated[
        int, Opt(help="Processes sharing the port; each loads its own base and adapters and batches its own requests.")
    ] = 1,
    api_key: Annotated[
        str | None,
        Opt(
            help="Require `Authorization: Bearer KEY` on every route but /health. A key on the command line shows "
            "in `ps`: prefer the ADAPTERHUB_API_KEY environment variable or --api-key-file."
        ),
    ] = None,
    api_key_file: Annotated[
        str | None,
        Opt(metavar="PATH", help="Read the API key from PATH (e.g. a file only you can read); as --api-key."),
    ] = None,
    device: Annotated[str | None, Opt(help="cpu, cuda or cuda:N [default: cuda when present].")] = None,
    quantize: Annotated[str | None, Opt(help="4bit or 8bit base through bitsandbytes (CUDA only).")] = None,
    dtype: Annotated[
        str | None, Opt(help="fp32, bf16 or fp16 (CUDA): what the base computes in [default: as stored].")
    ] = None,
    max_batch: Annotated[int, Opt(help="Inputs per mixed-adapter batch; 1 turns batching off.")] = 32,
    max_wait_ms: Annotated[float, Opt(help="How long the oldest request waits for others to join its batch.")] = 5.0,
    max_queue: Annotated[int, Opt(help="Inputs waiting before requests get 429 (at least --max-inputs).")] = 1024,
    max_inputs: Annotated[int, Opt(help="Inputs (or chat messages) per request before 413; at most --max-queue.")] = 64,
    max_input_chars: Annotated[int, Opt(help="Characters per input (or chat message) before 413.")] = 8192,
    max_new_tokens: Annotated[
        int,
        Opt(help="Most tokens one generation may ask for before 413; a chat that names no limit gets as many as fit."),
    ] = 512,
    max_adapters: Annotated[int, Opt(help="Adapters kept hot on the device (least recently used leave first).")] = 64,
    shutdown_timeout: Annotated[float, Opt(help="Seconds a shutdown waits for in-flight requests.")] = 30.0,
    access_log: Annotated[bool, Opt(help="Log a line per request.")] = False,
    metrics_max_adapters: Annotated[
        int,
        Opt(help="Adapter versions with /metrics series of their own; the least recently used fold into 'other'."),
    ] = 100,
    log_predictions: Annotated[
        bool, Opt(help="Keep a row per input in REGISTRY/.logs/predictions.sqlite (read it with `hub logs`).")
    ] = False,
    log_inputs: Annotated[
        bool, Opt(help="Also keep each input's text (and outputs that reveal it) in the log; off: lengths only.")
    ] = False,
    log_max_mb: Annotated[
        float, Opt(help="Rotate the prediction log at this size (one backup is kept: about twice this on disk).")
    ] = 100.0,
    shadows: Annotated[
        list[str] | None,
        Opt(
            "--shadow",
            metavar="PRIMARY=SHADOW",
            help="Run SHADOW (NAME@V, or a name or alias resolved now) on every request that names PRIMARY, in the "
            "same batch, and compare their answers; only PRIMARY answers (repeatable). See `hub shadow report`.",
        ),
    ] = None,
    shadow_samples: Annotated[
        int,
        Opt(
            metavar="N",
            help="Keep the last N inputs each shadow disagreed on, for `hub shadow report` (inputs may be private).",
        ),
    ] = 0,
    shadow_share: Annotated[
        float,
        Opt(
            metavar="SHARE",
            help="Run each shadow on this share of its PRIMARY's requests, evenly spread (0.25: one in four; "
            "a shadow costs the throughput of its rows, so this bounds that cost).",
        ),
    ] = 1.0,
) -> None:
    """Serve adapters over HTTP: one base, adapters hot-swapped per request, batched across adapters."""
    from adapterhub.serving.config import ServeConfig  # neither torch nor the web framework: refusals are instant

    settings = ServeConfig(
        registry=str(ctx.obj.root),
        adapters=tuple(adapters or ()),
        remote=remote,
        only_preloaded=only_preloaded,
        host=host,
        allowed_hosts=tuple(allowed_hosts or ()),
        port=port,
        workers=workers,
        api_key=api_key,
        api_key_file=api_key_file,
        device=device,
        quantize=quantize,
        dtype=dtype,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        max_queue=max_queue,
        max_inputs=max_inputs,
        max_input_chars=max_input_chars,
        max_new_tokens=max_new_tokens,
        max_adapters=max_adapters,
        shutdown_timeout_s=shutdown_timeout,
        access_log=access_log,
        metrics_max_adapters=metrics_max_adapters,
        log_predictions=log_predictions,
        log_inputs=log_inputs,
        log_max_mb=log_max_mb,
        shadows=tuple(shadows or ()),
        shadow_samples=shadow_samples,
        shadow_share=shadow_share,
    )
    if remote is None:  # with a remote, serve looks in the registry and on the remote
        for ref in settings.adapters:  # an unknown preload is refused before the base loads
            ctx.obj.get(ref)
    if settings.shadows and remote is None:  # so is a shadow that cannot be compared with its primary
        from adapterhub.serving.shadow import check_pair

        for primary, shadow in settings.shadow_pairs():
            check_pair(primary, ctx.obj.get(primary), ctx.obj.get(shadow))
    if settings.log_predictions:  # and a log folder the server could not write (a symlink is refused)
        from adapterhub.serving.prediction_log import log_folder, prepare_folder

        prepare_folder(log_folder(ctx.obj.root))
    from adapterhub.serving.runner import serve as run

    run(settings)

"""``hub serve``: flags -> ServeConfig -> adapterhub.serving.runner.serve; its options are ServeConfig's fields."""

from __future__ import annotations

from typing import Any

import typer

from adapterhub.cli.command import command
from adapterhub.cli.formatting import examples
from adapterhub.cli.options import field_options, given, takes_options
from adapterhub.serving.config import ServeConfig  # neither torch nor the web framework: refusals are instant

SERVE_OPTIONS = field_options(ServeConfig)  # every setting but the registry (hub's own --registry) and the key digest


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
@takes_options(SERVE_OPTIONS)
def serve(ctx: typer.Context, **options: Any) -> None:
    """Serve adapters over HTTP: one base, adapters hot-swapped per request, batched across adapters."""
    settings = ServeConfig(registry=str(ctx.obj.root), **given(SERVE_OPTIONS, options))
    remote = settings.remote
    if remote is None:  # with a remote, serve looks in the registry and on the remote
        for ref in settings.adapters:  # an unknown preload is refused before the base loads
            ctx.obj.get(ref)
    if settings.shadows and remote is None:  # so is a shadow that cannot be compared with its primary
        from adapterhub.serving.shadow import check_pair  # loads prometheus_client: on first use

        for primary, shadow in settings.shadow_pairs():
            check_pair(primary, ctx.obj.get(primary), ctx.obj.get(shadow))
    if settings.log_predictions:  # and a log folder the server could not write (a symlink is refused)
        from adapterhub.serving.prediction_log import (  # on first use: start-up stays light
            log_folder,
            prepare_folder,
        )

        prepare_folder(log_folder(ctx.obj.root))
    from adapterhub.serving.runner import serve as run  # on first use: start-up stays light

    run(settings)

"""``hub train``: flags (or a YAML file) -> TrainConfig -> adapterhub.train, with a rich progress bar.

Its options are TrainConfig's fields and each registered method's settings (:mod:`adapterhub.cli.options`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from adapterhub.cli import formatting as fmt
from adapterhub.cli.command import command
from adapterhub.cli.formatting import examples
from adapterhub.cli.options import Option, field_options, given, method_options, takes_options
from adapterhub.methods import METHODS
from adapterhub.training.config import TrainConfig  # no torch: bad settings are refused at once

Opt = typer.Option
# Every setting of TrainConfig and of each registered method, and the earlier name of --target-modules
TRAIN_OPTIONS = [
    *field_options(TrainConfig, skip=METHODS),
    *method_options(METHODS),
    Option("target_modules", "--target-module", tuple[str, ...], "", hidden=True),
]


@command(
    epilog=examples(
        "hub train --data reviews.csv --name reviews",
        "hub train --task ner --data train.conll --method prefix",
        "hub train --task generate --base ./models/my-gpt2 --data pairs.jsonl --name poet",
        "hub train --config run.yaml --epochs 5           # flags override the YAML file",
    )
)
@takes_options(TRAIN_OPTIONS)
def train(
    ctx: typer.Context,
    as_json: Annotated[
        bool,
        Opt("--json", help="Print the published record as JSON on stdout (as `hub show --json`); progress on stderr."),
    ] = False,
    config: Annotated[Path | None, Opt(help="YAML file of the same settings; flags override it.")] = None,
    **settings: Any,
) -> None:
    """Train an adapter on a frozen base and publish it to the registry."""
    merged = (TrainConfig.from_yaml(config) if config else TrainConfig()).merged(**given(TRAIN_OPTIONS, settings))
    from adapterhub.cli.progress import TrainingProgress  # on first use: start-up stays light
    from adapterhub.training.train import train as run  # checks the rest before importing torch

    with TrainingProgress() as progress:
        result = run(merged, registry=ctx.obj, report=progress.report)
    if not result.main_process:  # under accelerate launch / torchrun the main process speaks for the run
        return
    record = result.record
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in record.card.metrics.items() if k != "loss")
    fmt.echo(
        f"published {record.ref}: {metrics} ({result.fit.samples_per_second:.1f} samples/s, "
        f"{result.fit.steps} steps{', stopped early' if result.fit.stopped_early else ''})",
        err=as_json,  # with --json, stdout holds the record alone
    )
    for warning in result.warnings:
        fmt.echo(f"warning: {warning}", err=True)
    if as_json:
        fmt.echo_json(record.to_dict(), sort_keys=True)

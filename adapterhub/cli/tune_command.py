"""``hub tune``: an Optuna search over training runs; prints every trial and publishes the best adapter."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any

import typer

from adapterhub.cli import formatting as fmt
from adapterhub.cli.command import command
from adapterhub.cli.options import field_options, given, takes_options
from adapterhub.training.config import TrainConfig
from adapterhub.tuning import TuneSettings

# The run's settings that `hub tune` takes as flags: what every trial shares (a YAML file gives the others; the
# search draws the learning rate, warmup, method and the method's settings), then the search's own settings
RUN_SETTINGS = (
    "task",
    "name",
    "base",
    "data",
    "eval_data",
    "eval_fraction",
    "text_column",
    "label_column",
    "epochs",
    "batch_size",
    "max_length",
    "eval_every",
    "seed",
)
TUNE_OPTIONS = [
    *field_options(TrainConfig, only=RUN_SETTINGS),
    *field_options(TuneSettings),
]
SEARCH_KEYS = {f.name for f in fields(TuneSettings)}


@command(
    epilog=fmt.examples(
        "hub tune --data reviews.csv --trials 20",
        "hub tune --data reviews.csv --methods lora,prefix --study reviews-search",
        "hub tune --data reviews.csv --study reviews-search --trials 40   # resume, 20 more",
    )
)
@takes_options(TUNE_OPTIONS)
def tune(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option(help="YAML file of training settings; flags override it.")] = None,
    **options: Any,
) -> None:
    """Search learning rate, rank, alpha, dropout, warmup and method; prune weak trials; publish the best."""
    from adapterhub.tuning import tune as run  # on first use: start-up stays light

    values = given(TUNE_OPTIONS, options)
    search = TuneSettings(**{k: values.pop(k) for k in list(values) if k in SEARCH_KEYS})
    train_config = (TrainConfig.from_yaml(config) if config else TrainConfig()).merged(**values)
    console = _Console()
    result = run(train_config, search, registry=ctx.obj, report=console.report)
    rows = [
        (
            str(t.number),
            t.state.lower(),
            *(_cell(t.params.get(k)) for k in ("method", "lr", "lora_r", "alpha_per_rank", "lora_dropout")),
            _cell(t.params.get("prefix_tokens")),
            _cell(t.params.get("warmup_ratio")),
            _cell(t.value),
            str(t.evaluations),
        )
        for t in result.trials
    ]
    headers = ("TRIAL", "STATE", "METHOD", "LR", "R", "ALPHA/R", "DROPOUT", "PREFIX", "WARMUP")
    fmt.echo(fmt.table((*headers, result.metric.upper(), "EVALS"), rows))
    best = next(t for t in result.trials if t.number == result.best_trial)
    fmt.echo(f"\nbest: trial {best.number}, {result.metric} {best.value:.4f}; published as {result.best.ref}")
    fmt.echo(f"study kept in {result.study_path} (the same command resumes or extends it with a larger --trials)")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if value < 0.01 else f"{value:.4f}"
    return str(value)


class _Console:
    """One line per trial and per evaluation on stderr; the table goes to stdout at the end."""

    def __init__(self) -> None:
        from adapterhub.cli.progress import log_console  # on first use: start-up stays light

        self.console = log_console(highlight=False)

    def report(self, event: str, values: dict[str, Any]) -> None:
        if event == "trial":
            shown = ", ".join(f"{k} {_cell(v)}" for k, v in values["params"].items())
            self.console.print(f"trial {values['number']}: {shown}")
        elif event == "eval":
            metrics = {k: v for k, v in values.items() if k not in ("step", "epoch", "train_loss")}
            self.console.print(
                f"  eval @ step {values['step']}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
            )
        elif event == "trial_done":
            trial = values["result"]
            self.console.print(f"  {trial.state.lower()} ({_cell(trial.value)}); best so far {_cell(values['best'])}")
        elif event == "note":
            self.console.print(values["text"])

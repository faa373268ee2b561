"""``hub tune``: an Optuna search over training runs; prints every trial and publishes the best adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from adapterhub.cli import formatting as fmt
from adapterhub.cli.command import command

Opt = typer.Option


@command(
    epilog=fmt.examples(
        "hub tune --data reviews.csv --trials 20",
        "hub tune --data reviews.csv --methods lora,prefix --study reviews-search",
        "hub tune --data reviews.csv --study reviews-search --trials 40   # resume, 20 more",
    )
)
def tune(
    ctx: typer.Context,
    task: Annotated[str | None, Opt(help="sentiment, classify, ner or generate [default: sentiment]")] = None,
    name: Annotated[str | None, Opt(help="Registry name for the best adapter [default: the task's name].")] = None,
    trials: Annotated[int, Opt(help="Trials to finish in the study (a resumed study counts those done).")] = 20,
    methods: Annotated[str, Opt(help="Comma-separated methods to search over: lora, prefix, head.")] = "lora",
    study: Annotated[str | None, Opt(help="Study name; the same name resumes it [default: NAME].")] = None,
    base: Annotated[str | None, Opt(help="Base model: hub id or local directory [default: all-MiniLM-L6-v2].")] = None,
    data: Annotated[str | None, Opt(help="CSV/TSV/JSONL/CoNLL file, folder, or hf:NAME[:CONFIG].")] = None,
    eval_data: Annotated[str | None, Opt(help="Evaluation data [default: a seeded split of --data].")] = None,
    eval_fraction: Annotated[float | None, Opt(help="Share of --data held out for evaluation [0.1].")] = None,
    text_column: Annotated[str | None, Opt(help="Column holding the text.")] = None,
    label_column: Annotated[str | None, Opt(help="Column holding the label.")] = None,
    epochs: Annotated[int | None, Opt(help="Passes over the training data per trial [3].")] = None,
    batch_size: Annotated[int | None, Opt(help="Examples per batch [32].")] = None,
    max_length: Annotated[int | None, Opt(help="Longest input in tokens [128].")] = None,
    eval_every: Annotated[int | None, Opt(help="Evaluate (and maybe prune) every N steps [each epoch].")] = None,
    seed: Annotated[int | None, Opt(help="Seed of the split, the runs and the sampler [13].")] = None,
    config: Annotated[Path | None, Opt(help="YAML file of training settings; flags override it.")] = None,
) -> None:
    """Search learning rate, rank, alpha, dropout, warmup and method; prune weak trials; publish the best."""
    search_only = ("ctx", "trials", "methods", "study", "config")
    settings: dict[str, Any] = {k: v for k, v in locals().items() if k not in (*search_only, "search_only")}
    from adapterhub.training import TrainConfig
    from adapterhub.tuning import TuneSettings
    from adapterhub.tuning import tune as run

    train_config = (TrainConfig.from_yaml(config) if config else TrainConfig()).merged(**settings)
    search = TuneSettings(trials=trials, methods=tuple(m.strip() for m in methods.split(",") if m.strip()), study=study)
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
        from adapterhub.cli.progress import log_console

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

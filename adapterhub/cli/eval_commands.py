"""``hub eval`` and ``hub compare``: metric tables of registry adapters (and ensembles) on labelled data."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from adapterhub.cli import formatting as fmt
from adapterhub.cli.command import command

Opt = typer.Option
DataOpt = Annotated[str, Opt("--data", help="Labelled data of the adapters' task: file, folder or hf:NAME.")]
CombineOpt = Annotated[str | None, Opt(help="mean: also score the adapters as one ensemble (averaged probabilities).")]
TextOpt = Annotated[str | None, Opt(help="Column holding the text.")]
LabelOpt = Annotated[str | None, Opt(help="Column holding the label.")]
JsonOpt = Annotated[bool, Opt("--json", help="Print the results as JSON.")]
BatchOpt = Annotated[int, Opt(help="Inputs per forward pass.")]
DeviceOpt = Annotated[str | None, Opt(help="cpu, cuda or cuda:N [default: cuda when present].")]
DtypeOpt = Annotated[str | None, Opt(help="fp32, bf16 or fp16 (CUDA) for the base [default: as stored].")]


@command(
    "eval",
    epilog=fmt.examples(
        "hub eval reviews --data test.csv",
        "hub eval reviews@2 --data test.csv --json --no-record",
        "hub eval reviews@1 reviews@2 --combine mean --data test.csv",
    ),
)
def eval_(
    ctx: typer.Context,
    adapters: Annotated[
        list[str], typer.Argument(metavar="ADAPTER", help="NAME[@VERSION]; several with --combine mean (an ensemble).")
    ],
    data: DataOpt,
    combine: CombineOpt = None,
    text_column: TextOpt = None,
    label_column: LabelOpt = None,
    record: Annotated[bool, Opt(help="Append the result to the adapter's card.")] = True,
    as_json: JsonOpt = False,
    batch_size: BatchOpt = 64,
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
) -> None:
    """Score an adapter on labelled data: metrics, per-class table, confusion matrix; kept in its card."""
    _check(ctx, adapters, data)
    from adapterhub.cli.progress import WorkProgress  # on first use: start-up stays light
    from adapterhub.evaluation import evaluate  # on first use: start-up stays light

    target = adapters[0] if len(adapters) == 1 else adapters
    with WorkProgress() as progress:
        result = evaluate(
            target,
            data,
            **_shared(ctx, (device, dtype), combine, text_column, label_column, batch_size, record),
            report=progress.report,
        )
    if as_json:
        fmt.echo_json(result.to_dict(), ensure_ascii=False)
        return
    fmt.echo(f"{result.adapter} on {result.data} ({result.examples} examples)")
    fmt.echo("  ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()))
    rows = [
        (label, f"{r['precision']:.4f}", f"{r['recall']:.4f}", f"{r['f1']:.4f}", str(r["support"]))
        for label, r in result.per_class.items()
    ]
    if rows:  # generate adapters have a loss and a perplexity only
        first = "LABEL" if result.confusion else "TYPE"
        fmt.echo("\n" + fmt.table((first, "PRECISION", "RECALL", "F1", "SUPPORT"), rows))
    if result.confusion:
        fmt.echo("\nconfusion (rows: true label, columns: predicted)")
        rows = [(gold, *map(str, row)) for gold, row in zip(result.labels, result.confusion, strict=True)]
        fmt.echo(fmt.table(("", *result.labels), rows))
    if record and not combine:
        fmt.echo(f"\nrecorded in the card of {result.adapter}")


@command(
    epilog=fmt.examples(
        "hub compare reviews@1 reviews@2 --data test.csv",
        "hub compare reviews@1 reviews@2 --combine mean --data test.csv --json",
    )
)
def compare(
    ctx: typer.Context,
    adapters: Annotated[list[str], typer.Argument(metavar="ADAPTER", help="Two or more NAME[@VERSION] of one task.")],
    data: DataOpt,
    combine: CombineOpt = None,
    text_column: TextOpt = None,
    label_column: LabelOpt = None,
    record: Annotated[bool, Opt(help="Append each result to its adapter's card.")] = True,
    as_json: JsonOpt = False,
    batch_size: BatchOpt = 64,
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
) -> None:
    """Score several adapters (or versions) on one data set, side by side."""
    _check(ctx, adapters, data)
    from adapterhub.cli.progress import WorkProgress  # on first use: start-up stays light
    from adapterhub.evaluation import compare as run  # on first use: start-up stays light

    with WorkProgress() as progress:
        results = run(
            adapters,
            data,
            **_shared(ctx, (device, dtype), combine, text_column, label_column, batch_size, record),
            report=progress.report,
        )
    if as_json:
        fmt.echo_json([r.to_dict() for r in results], ensure_ascii=False)
        return
    metrics = list(results[0].metrics)
    fmt.echo(f"on {results[0].data} ({results[0].examples} examples)")
    rows = [(r.adapter, *(f"{r.metrics[m]:.4f}" for m in metrics)) for r in results]
    fmt.echo(fmt.table(("ADAPTER", *(m.upper() for m in metrics)), rows))


def _check(ctx: typer.Context, adapters: list[str], data: str) -> None:
    """Unknown adapters and a missing --data file are refused before torch is imported."""
    from adapterhub.data.text_files import data_files  # on first use: start-up stays light

    for ref in adapters:
        ctx.obj.get(ref)
    if not data.startswith("hf:"):
        data_files(data, "--data")


def _shared(
    ctx: typer.Context,
    device: tuple[str | None, str | None],
    combine: str | None,
    text_column: str | None,
    label_column: str | None,
    batch_size: int,
    record: bool,
) -> dict[str, Any]:
    """The keyword arguments ``evaluate`` and ``compare`` share, with a Hub on the command's registry
    (``device`` is the device and the dtype)."""
    from adapterhub.inference import Hub  # loads torch: on first use

    return {
        "hub": Hub(ctx.obj, device=device[0], dtype=device[1], batch_size=batch_size),
        "combine": combine,
        "text_column": text_column,
        "label_column": label_column,
        "batch_size": batch_size,
        "record": record,
    }

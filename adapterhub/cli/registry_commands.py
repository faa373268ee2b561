"""Registry commands: list, show, rm, tag, import, export, merge, and ``hub registry reindex|verify``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from adapterhub.cli import formatting as fmt
from adapterhub.cli.app import app
from adapterhub.errors import ConfigError
from adapterhub.registry import AdapterRecord, Registry

registry_app = typer.Typer(
    help="Maintain the registry: rebuild its index, verify its files.",
    epilog=fmt.examples(
        "hub registry verify",
        "hub registry reindex",
        "hub --registry /srv/adapters registry verify",
    ),
    no_args_is_help=True,
)
app.add_typer(registry_app, name="registry")

LIST_HEADERS = ("NAME", "VERSION", "ALIASES", "TASK", "METHOD", "BASE", "PARAMS", "SIZE", "METRIC", "CREATED")


def _row(record: AdapterRecord) -> tuple[str, ...]:
    card = record.card
    headline = card.headline
    metric = f"{headline[0]}={headline[1]:.4g}" if headline else "-"
    base = card.base.id.rsplit("/", 1)[-1]
    return (
        record.name,
        str(record.version),
        ",".join(record.aliases) or "-",
        card.task,
        card.method,
        base,
        fmt.count(card.trainable_params),
        fmt.size(card.size_bytes),
        metric,
        fmt.age(card.created),
    )


@app.command(
    "list",
    epilog=fmt.examples(
        "hub list",
        "hub list --task sentiment",
        "hub list --name reviews --json",
    ),
)
def list_(
    ctx: typer.Context,
    task: Annotated[str | None, typer.Option(help="Only adapters of this task.")] = None,
    base: Annotated[str | None, typer.Option(help="Only adapters of this base model id.")] = None,
    name: Annotated[str | None, typer.Option(help="Only versions of this name.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list of cards instead of a table.")] = False,
) -> None:
    """List adapter versions, newest first within each name."""
    records = ctx.obj.list(task=task, base=base, name=name)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in records], indent=2))
    else:
        typer.echo(fmt.table(LIST_HEADERS, [_row(r) for r in records]))


@app.command(
    epilog=fmt.examples(
        "hub show reviews",
        "hub show reviews@2",
        "hub show reviews:prod --plot",
    )
)
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME, NAME@VERSION or NAME:ALIAS")],
    plot: Annotated[bool, typer.Option("--plot", help="Also draw the learning curves to NAME-vVERSION.png.")] = False,
    plot_file: Annotated[Path | None, typer.Option(help="Draw the learning curves to this PNG file instead.")] = None,
) -> None:
    """Print an adapter version's card (and, with --plot, draw its learning curves)."""
    record = ctx.obj.get(ref)
    if plot or plot_file is not None:
        from adapterhub.plotting import plot_history

        written = plot_history(record, plot_file or Path(f"{record.name}-v{record.version}.png"))
        typer.echo(f"learning curves of {record.ref} written to {written}", err=True)
    typer.echo(json.dumps(record.to_dict(), indent=2, sort_keys=True))


@app.command(
    epilog=fmt.examples(
        "hub rm reviews@1 --dry-run",
        "hub rm reviews@1",
        "hub rm reviews --force          # every version, and its aliases",
    )
)
def rm(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="NAME (every version), NAME@VERSION or NAME:ALIAS")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan, remove nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Also remove aliases that point to these versions.")] = False,
) -> None:
    """Remove adapter versions: prints what goes and the space it frees."""
    plan = ctx.obj.remove(target, force=force, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for record in plan.versions:
        typer.echo(f"{verb} {record.ref}  {fmt.size(record.card.size_bytes)}  {record.path}")
    for alias in plan.aliases:
        typer.echo(f"{verb} alias {alias}")
    typer.echo(f"{'would free' if dry_run else 'freed'} {fmt.size(plan.freed_bytes)}")


@app.command(
    epilog=fmt.examples(
        "hub tag reviews@2 prod",
        "hub tag reviews latest-good     # the newest version",
    )
)
def tag(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME@VERSION (or NAME for the latest)")],
    alias: Annotated[str, typer.Argument(help="Alias to point at it, e.g. prod")],
) -> None:
    """Point NAME:ALIAS at a version (moves the alias if it exists)."""
    record = ctx.obj.tag(ref, alias)
    typer.echo(f"{record.name}:{alias} -> {record.ref}")


@app.command(
    "import",
    epilog=fmt.examples(
        "hub import ./my-peft-adapter --name reviews --labels negative,positive",
        "hub import ./ner-adapter --name ner --task ner --base bert-base-cased",
    ),
)
def import_(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="A PEFT adapter directory (adapter_config.json + safetensors).")],
    name: Annotated[str, typer.Option("--name", help="Registry name to publish it as.")],
    base: Annotated[str | None, typer.Option(help="Base model id or path [default: the adapter config's].")] = None,
    task: Annotated[str | None, typer.Option(help="Task name [default: from the PEFT task type].")] = None,
    labels: Annotated[str | None, typer.Option(help="Comma-separated label names, in class-index order.")] = None,
    tags: Annotated[list[str] | None, typer.Option("--tag", help="Free-form tag (repeatable).")] = None,
) -> None:
    """Import an existing PEFT adapter, checked against its base and fingerprinted."""
    from adapterhub.importing import import_adapter

    label_list = [x.strip() for x in labels.split(",")] if labels else None
    record = import_adapter(ctx.obj, source, name, base=base, task=task, labels=label_list, tags=tuple(tags or ()))
    typer.echo(f"imported {source} as {record.ref} ({fmt.count(record.card.trainable_params)} parameters)")


@app.command(
    epilog=fmt.examples(
        "hub export reviews ./reviews-peft",
        "hub export reviews@2 --merged ./reviews-standalone",
        "hub export reviews poet --for vllm --out ./vllm-adapters",
    )
)
def export(
    ctx: typer.Context,
    args: Annotated[list[str], typer.Argument(help="REF DEST; REF with --merged; REF... with --for vllm.")],
    merged: Annotated[
        Path | None, typer.Option(help="Write a standalone model, the adapter folded into its base, to this folder.")
    ] = None,
    for_: Annotated[str | None, typer.Option("--for", help="vllm: lay adapters out for vLLM's LoRA server.")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for --for vllm.")] = None,
) -> None:
    """Export a version as a plain PEFT folder (REF DEST), as a standalone transformers model (REF --merged DIR),
    or several for vLLM's multi-LoRA server (REF... --for vllm --out DIR, which prints the `vllm serve` command)."""
    if for_ is not None:
        if for_ != "vllm" or out is None or merged is not None:
            raise ConfigError("use `hub export REF [REF...] --for vllm --out DIR` (vllm is the one target)")
        from adapterhub.vllm_export import export_for_vllm

        result = export_for_vllm(args, out, registry=ctx.obj)
        for ref, path in result.modules:
            typer.echo(f"exported {ref} to {path}", err=True)
        typer.echo(result.command)
        return
    if merged is not None:
        if len(args) != 1:
            raise ConfigError("use `hub export REF --merged DIR` (one adapter, no DEST)")
        from adapterhub.cli.progress import WorkProgress
        from adapterhub.merged_export import export_merged

        with WorkProgress() as progress:
            record = export_merged(args[0], merged, registry=ctx.obj, report=progress.report)
        typer.echo(f"exported {record.ref} merged into {record.card.base.id} to {merged}")
        return
    if len(args) != 2:
        raise ConfigError("use `hub export REF DEST` (a PEFT folder), `--merged DIR` or `--for vllm --out DIR`")
    record = ctx.obj.export(args[0], Path(args[1]))
    typer.echo(f"exported {record.ref} to {args[1]}")


@app.command(
    epilog=fmt.examples(
        "hub merge reviews@1 reviews@2 --name reviews-merged",
        "hub merge books films --weights 0.7,0.3 --combination linear --name media",
    )
)
def merge(
    ctx: typer.Context,
    adapters: Annotated[list[str], typer.Argument(help="Two or more LoRA adapters of one task, base and label set.")],
    name: Annotated[str, typer.Option("--name", help="Registry name to publish the merge as.")],
    weights: Annotated[str | None, typer.Option(help="Comma-separated, one per adapter [default: equal].")] = None,
    combination: Annotated[str, typer.Option(help="PEFT combination: cat (exact), linear or svd.")] = "cat",
) -> None:
    """Merge LoRA adapters (PEFT's weighted merge) into a new adapter with its lineage in the card."""
    from adapterhub.merging import merge as run

    values = None
    if weights is not None:
        try:
            values = [float(w) for w in weights.split(",")]
        except ValueError:
            raise ConfigError(f"--weights must be numbers joined by commas, e.g. 0.6,0.4 (got {weights!r})") from None
    record = run(adapters, name, weights=values, combination=combination, registry=ctx.obj)
    lineage = ", ".join(f"{x['ref']} x {x['weight']:g}" for x in record.card.lineage)
    typer.echo(f"published {record.ref} = {lineage} (rank {record.card.method_config['r']})")


@registry_app.command(
    epilog=fmt.examples(
        "hub registry reindex",
        "hub --registry /srv/adapters registry reindex",
    )
)
def reindex(ctx: typer.Context) -> None:
    """Rebuild the index from the version directories."""
    registry: Registry = ctx.obj
    typer.echo(f"indexed {registry.reindex()} versions in {registry.root}")


@registry_app.command(
    epilog=fmt.examples(
        "hub registry verify",
        "hub --registry /srv/adapters registry verify   # exit 1 when a file is corrupt",
    )
)
def verify(ctx: typer.Context) -> None:
    """Check every file's sha256 against its card; exit 1 and list what is corrupt."""
    registry: Registry = ctx.obj
    problems = registry.verify()
    if not problems:
        typer.echo(f"ok: every file in {registry.root} matches its card")
        return
    typer.echo(fmt.table(("WHERE", "FILE", "PROBLEM"), [(p.where, p.file, p.problem) for p in problems]))
    raise typer.Exit(1)

"""Registry commands: list, show, rm, tag, import, export, merge, and ``hub registry reindex|verify``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from adapterhub.cards.records import SCHEMA
from adapterhub.cli import formatting as fmt
from adapterhub.cli.command import command
from adapterhub.errors import ConfigError
from adapterhub.export.peft import HubTarget, export_adapter
from adapterhub.names import Ref
from adapterhub.registry import AdapterRecord, Registry, RemovalPlan
from adapterhub.registry.aliases import Split, Target

registry_app = typer.Typer(
    help="Maintain the registry: rebuild its index, verify its files.",
    epilog=fmt.examples(
        "hub registry verify",
        "hub registry reindex",
        "hub --registry /srv/adapters registry verify",
    ),
    no_args_is_help=True,
)

LIST_HEADERS = ("NAME", "VERSION", "ALIASES", "TASK", "METHOD", "BASE", "PARAMS", "SIZE", "METRIC", "CREATED")


def _row(record: AdapterRecord) -> tuple[str, ...]:
    card = record.card
    headline = card.headline
    metric = f"{headline[0]}={headline[1]:.4g}" if headline else "-"
    base = card.base.id.rsplit("/", 1)[-1]
    weights = dict(record.weights)
    aliases = [f"{a}={weights[a]:g}" if a in weights else a for a in record.aliases]
    return (
        record.name,
        str(record.version),
        ",".join(aliases) or "-",
        card.task,
        card.method,
        base,
        fmt.count(card.trainable_params),
        fmt.size(card.size_bytes),
        metric,
        fmt.age(card.created),
    )


def _broken_row(where: str) -> tuple[str, ...]:
    """A row for a remote's version (``NAME@V``) or name whose card is refused: `broken` in the TASK column."""
    name, _, version = where.partition("@")
    return (name, version or "-", "-", "broken", *("-" for _ in LIST_HEADERS[4:]))


@command(
    "list",
    epilog=fmt.examples(
        "hub list",
        "hub list --task sentiment --sort metric",
        "hub list reviews --json",
        "hub list -q                     # NAME@VERSION only, one a line",
        "hub list --remote origin",
    ),
)
def list_(
    ctx: typer.Context,
    name_arg: Annotated[str | None, typer.Argument(metavar="NAME", help="Only versions of this name.")] = None,
    task: Annotated[str | None, typer.Option(help="Only adapters of this task.")] = None,
    base: Annotated[str | None, typer.Option(help="Only adapters of this base model id.")] = None,
    name: Annotated[str | None, typer.Option(help="Only versions of this name (same as NAME).")] = None,
    sort: Annotated[
        str, typer.Option(help="name (newest version first within a name), created, size or metric (best first).")
    ] = "name",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only NAME@VERSION, one a line.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list of records instead of a table.")] = False,
    remote: Annotated[
        str | None, typer.Option("--remote", help="List what this remote holds (NAME only; no filters).")
    ] = None,
) -> None:
    """List adapter versions, newest first within each name."""
    if name_arg is not None and name is not None and name_arg != name:
        raise ConfigError(f"NAME {name_arg!r} and --name {name!r} disagree; give one of them")
    if quiet and as_json:
        raise ConfigError("--quiet prints references and --json records; choose one")
    if remote is not None:
        from adapterhub.cli.remote_commands import remote_registry  # on first use: start-up stays light

        if task is not None or base is not None or sort != "name":
            raise ConfigError("--remote lists by name; leave out --task, --base and --sort")
        records, broken = remote_registry(ctx.obj, remote).listing(name_arg or name)
    else:
        records, broken = ctx.obj.list(task=task, base=base, name=name_arg or name, sort=sort), []
    if as_json:
        fmt.echo_json([r.to_dict() for r in records])
    elif quiet:
        for record in records:
            fmt.echo(record.ref)
    else:
        rows = [_row(r) for r in records]
        if broken:  # a remote lists by name, newest version first: the broken ones take their place there
            rows += [_broken_row(p.where) for p in broken if p.file != "aliases"]
            rows.sort(key=lambda row: (row[0], -int(row[1]) if row[1].isdigit() else 0))
        fmt.echo(fmt.table(LIST_HEADERS, rows))
    for problem in broken:  # a refused card hides no other version: each is said once, on stderr
        fmt.echo(f"broken: {problem.problem}", err=True)


@command(
    epilog=fmt.examples(
        "hub show reviews",
        "hub show reviews@2",
        "hub show reviews:prod --plot",
        "hub show reviews --json",
        "hub show reviews:canary         # a weighted alias: each version, its weight and its record",
    )
)
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="REF", help="NAME, NAME@VERSION or NAME:ALIAS")],
    as_json: Annotated[
        bool, typer.Option("--json", help="The record as JSON (what is printed now; scripts should pass it).")
    ] = False,
    plot: Annotated[bool, typer.Option("--plot", help="Also draw the learning curves to NAME-vVERSION.png.")] = False,
    plot_file: Annotated[Path | None, typer.Option(help="Draw the learning curves to this PNG file instead.")] = None,
) -> None:
    """Print an adapter version's record, its card included, as JSON (and, with --plot, draw its learning
    curves). A weighted alias prints its split: each version with its weight and record."""
    registry: Registry = ctx.obj
    parsed = Ref.parse(ref)
    if parsed.alias is not None and isinstance(target := registry.alias(parsed), Split):
        if plot or plot_file is not None:
            raise ConfigError(f"{ref} splits traffic between versions; plot one: `hub show NAME@VERSION --plot`")
        split = [
            {"ref": r.ref, "weight": w, "record": r.to_dict()}
            for v, w in target.weights
            for r in [registry.get(Ref(parsed.name, version=v))]
        ]
        fmt.echo_json({"schema": SCHEMA, "alias": str(parsed), "split": split}, sort_keys=True)
        return
    record = registry.get(ref)
    if plot or plot_file is not None:
        from adapterhub.plotting import plot_history  # on first use: start-up stays light

        written = plot_history(record, plot_file or Path(f"{record.name}-v{record.version}.png"))
        fmt.echo(f"learning curves of {record.ref} written to {written}", err=True)
    fmt.echo_json(record.to_dict(), sort_keys=True)


@command(
    epilog=fmt.examples(
        "hub rm reviews@1 --dry-run",
        "hub rm reviews@1 reviews@2",
        "hub rm reviews -y --force       # every version, and its aliases, without asking",
    )
)
def rm(
    ctx: typer.Context,
    targets: Annotated[
        list[str], typer.Argument(metavar="TARGET", help="NAME (every version), NAME@VERSION or NAME:ALIAS; several.")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan, remove nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Also remove aliases that point to these versions.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Remove every version of a NAME without asking.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The plan as JSON, with `executed`.")] = False,
) -> None:
    """Remove adapter versions: every target is planned first (one that does not exist removes nothing), then
    removed; prints what goes and the space it frees. Removing every version of a NAME asks first."""
    registry: Registry = ctx.obj
    plan = registry.plan_removal(targets, force=force)
    whole = sorted({t for t in targets if "@" not in t and ":" not in t})
    if not dry_run:
        if plan.blocked:
            raise plan.refusal()
        if whole and not yes:
            _confirm(plan, whole)
        plan = registry.execute_removal(plan)
    if as_json:
        fmt.echo_json(plan.to_dict())
        return
    for line in _plan_lines(plan, "would remove" if dry_run else "removed"):
        fmt.echo(line)


def _plan_lines(plan: RemovalPlan, verb: str) -> list[str]:
    lines = [f"{verb} {r.ref}  {fmt.size(r.card.size_bytes)}  {r.path}" for r in plan.versions]
    for alias, ref in plan.alias_targets():
        if plan.force:
            lines.append(f"{verb} alias {alias} (it {'pointed' if verb == 'removed' else 'points'} to {ref})")
        else:
            lines.append(f"--force would also remove alias {alias} (it points to {ref}); without it, rm refuses")
    frees = {"removed": "freed", "will remove": "will free"}.get(verb, "would free")
    lines.append(f"{frees} {fmt.size(plan.freed_bytes)}")
    return lines


def _confirm(plan: RemovalPlan, whole: list[str]) -> None:
    """Ask on a terminal before removing every version of a name; refuse when no one can answer."""
    names = ", ".join(whole)
    try:
        terminal = sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError, OSError):
        terminal = False
    if not terminal:
        raise ConfigError(
            f"removing every version of {names} needs confirmation and stdin is not a terminal: pass -y (--yes), "
            "or --dry-run to see the plan"
        )
    for line in _plan_lines(plan, "will remove"):
        fmt.echo(line, err=True)
    if not typer.confirm(f"Remove every version of {names}?", default=False, err=True):
        fmt.echo("nothing was removed", err=True)
        raise typer.Exit(1)


@command(
    epilog=fmt.examples(
        "hub tag reviews@2 prod",
        "hub tag reviews latest-good     # the newest version",
        "hub tag reviews@3=0.9 reviews@4=0.1 prod   # a canary: 10% of the traffic to version 4",
        "hub tag reviews@4 prod          # ends the canary",
        "hub tag reviews@2 prod --remote origin",
    )
)
def tag(
    ctx: typer.Context,
    args: Annotated[
        list[str],
        typer.Argument(
            metavar="REF... ALIAS",
            help="NAME@VERSION (or NAME for the latest) then the alias, e.g. prod; or NAME@V=WEIGHT... ALIAS.",
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="The alias, its version and the record as JSON.")] = False,
    remote: Annotated[str | None, typer.Option("--remote", help="Set the alias on this remote instead.")] = None,
) -> None:
    """Point NAME:ALIAS at a version (moves the alias if it exists), locally or on a remote; with weights,
    split its traffic between versions (a canary). The last argument is always the alias."""
    registry: Registry = ctx.obj
    if len(args) < 2:
        raise ConfigError("name a version and an alias: `hub tag NAME@VERSION ALIAS` (the alias comes last)")
    *refs, alias = args
    weights = _weights(refs)
    if weights is not None:
        if remote is not None:
            raise ConfigError(
                "weighted aliases are local only: a remote stores one version per alias; tag a single version "
                f"there (`hub tag NAME@VERSION {alias} --remote {remote}`)"
            )
        name = Ref.parse(weights[0][0]).name
        before = registry.aliases(name).get(alias)
        target = registry.tag_weighted(weights, alias)
        if isinstance(target, Split):
            _print_split(name, alias, target, before, as_json)
            return
        refs = [f"{name}@{target}"]
    if len(refs) > 1:
        raise ConfigError(
            f"several versions need a weight each: `hub tag {refs[0].split('=')[0]}=0.9 {refs[1]}=0.1 {alias}`"
        )
    ref = refs[0]
    if remote is not None:
        from adapterhub.cli.remote_commands import remote_registry  # on first use: start-up stays light

        record, before = remote_registry(registry, remote).tag(ref, alias)
    else:
        before = registry.aliases(Ref.parse(ref).name).get(alias)
        record = registry.tag(ref, alias)
    previous = _target_text(record.name, before)
    if as_json:
        document = {"schema": SCHEMA, "alias": f"{record.name}:{alias}", "ref": record.ref, "previous": previous}
        fmt.echo_json({**document, "record": record.to_dict()})
        return
    moved = f" (was {previous})" if previous not in (None, record.ref) else ""
    fmt.echo(f"{record.name}:{alias} -> {record.ref}{moved}")


def _weights(refs: list[str]) -> list[tuple[str, float]] | None:
    """``NAME@V=WEIGHT`` arguments as (reference, weight) pairs; None when no argument carries a weight."""
    if not any("=" in ref for ref in refs):
        return None
    pairs = []
    for text in refs:
        ref, sep, weight = text.partition("=")
        if not sep:
            raise ConfigError(f"{text!r} has no weight; in a split every version has one: NAME@VERSION=WEIGHT")
        try:
            pairs.append((ref, float(weight)))
        except ValueError:
            raise ConfigError(f"the weight in {text!r} is not a number; write e.g. {ref}=0.1") from None
    return pairs


def _target_text(name: str, target: Target | None) -> str | None:
    if target is None:
        return None
    if isinstance(target, Split):
        return " ".join(f"{name}@{v}={w:g}" for v, w in target.weights)
    return f"{name}@{target}"


def _print_split(name: str, alias: str, split: Split, before: Target | None, as_json: bool) -> None:
    previous = _target_text(name, before)
    if as_json:
        shares = [{"ref": f"{name}@{v}", "weight": w} for v, w in split.weights]
        document = {"schema": SCHEMA, "alias": f"{name}:{alias}", "ref": None, "split": shares, "previous": previous}
        fmt.echo_json(document)
        return
    now = _target_text(name, split)
    moved = f" (was {previous})" if previous not in (None, now) else ""
    fmt.echo(f"{name}:{alias} -> {now}{moved}")


@command(
    "import",
    epilog=fmt.examples(
        "hub import ./my-peft-adapter --name reviews --labels negative,positive",
        "hub import ./ner-adapter --name ner --task ner --base bert-base-cased",
        "hub import hf://my-org/reviews@v1 --name reviews   # from the Hugging Face Hub (or its local cache)",
    ),
)
def import_(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            metavar="SOURCE",
            help="A PEFT adapter directory (adapter_config.json + safetensors), or hf://ORG/REPO[@REVISION].",
        ),
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="Registry name to publish it as [default for hf://: REPO].")
    ] = None,
    base: Annotated[str | None, typer.Option(help="Base model id or path [default: the adapter config's].")] = None,
    task: Annotated[str | None, typer.Option(help="Task name [default: from the PEFT task type].")] = None,
    labels: Annotated[str | None, typer.Option(help="Comma-separated label names, in class-index order.")] = None,
    tags: Annotated[list[str] | None, typer.Option("--tag", help="Free-form tag (repeatable).")] = None,
) -> None:
    """Import an existing PEFT adapter, from a folder or the Hugging Face Hub, checked against its base and
    fingerprinted."""
    from adapterhub.export.importing import (  # on first use: start-up stays light
        HF_SCHEME,
        default_name,
        import_adapter,
    )

    hub = source.startswith(HF_SCHEME)
    if name is None:
        if not hub:
            raise ConfigError(f"name the adapter: `hub import {source} --name NAME`")
        name = default_name(source)
    label_list = [x.strip() for x in labels.split(",")] if labels else None
    record = import_adapter(
        ctx.obj, source if hub else Path(source), name, base=base, task=task, labels=label_list, tags=tuple(tags or ())
    )
    shown = record.card.data.description.rsplit("imported from ", 1)[-1] if hub else source
    fmt.echo(f"imported {shown} as {record.ref} ({fmt.count(record.card.trainable_params)} parameters)")


@command(
    epilog=fmt.examples(
        "hub export reviews ./reviews-peft",
        "hub export reviews@2 --merged ./reviews-standalone",
        "hub export reviews poet --for vllm --out ./vllm-adapters",
        "hub export reviews ./reviews-hf --for hf --repo my-org/reviews   # then hf upload my-org/reviews ./reviews-hf",
    )
)
def export(
    ctx: typer.Context,
    args: Annotated[
        list[str], typer.Argument(metavar="ARGS", help="REF DEST; REF with --merged; REF... with --for vllm.")
    ],
    merged: Annotated[
        Path | None, typer.Option(help="Write a standalone model, the adapter folded into its base, to this folder.")
    ] = None,
    for_: Annotated[
        str | None,
        typer.Option("--for", help="vllm: lay adapters out for vLLM's LoRA server; hf: a folder for `hf upload`."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for --for vllm.")] = None,
    repo: Annotated[
        str | None, typer.Option(help="With --for hf: the Hub repo (ORG/NAME) the folder will be uploaded to.")
    ] = None,
    base_model: Annotated[
        str | None, typer.Option(help="With --for hf: the base's hub id, when the version's base is a local folder.")
    ] = None,
) -> None:
    """Export a version as a folder transformers + PEFT load, with a model card (REF DEST), as a Hugging Face Hub
    repo for `hf upload` (REF DEST --for hf --repo ORG/NAME), as a standalone transformers model (REF --merged DIR),
    or several for vLLM's multi-LoRA server (REF... --for vllm --out DIR, which prints the `vllm serve` command)."""
    if (repo is not None or base_model is not None) and for_ != "hf":
        raise ConfigError("--repo and --base-model go with --for hf: `hub export REF DEST --for hf --repo ORG/NAME`")
    if for_ == "hf":
        if len(args) != 2 or repo is None or merged is not None or out is not None:
            raise ConfigError("use `hub export REF DEST --for hf --repo ORG/NAME [--base-model ID]`")
        record = export_adapter(ctx.obj, args[0], Path(args[1]), hub=HubTarget(repo, base_model))
        fmt.echo(f"exported {record.ref} to {args[1]} for {repo}; upload it with `hf upload {repo} {args[1]}`")
        return
    if for_ is not None:
        if for_ != "vllm" or out is None or merged is not None:
            raise ConfigError("use `hub export REF [REF...] --for vllm --out DIR` or `hub export REF DEST --for hf`")
        from adapterhub.export.vllm import export_for_vllm  # on first use: start-up stays light

        result = export_for_vllm(args, out, registry=ctx.obj)
        for ref, path in result.modules:
            fmt.echo(f"exported {ref} to {path}", err=True)
        fmt.echo(result.command)
        return
    if merged is not None:
        if len(args) != 1:
            raise ConfigError("use `hub export REF --merged DIR` (one adapter, no DEST)")
        from adapterhub.cli.progress import WorkProgress  # on first use: start-up stays light
        from adapterhub.export.merged import export_merged  # on first use: start-up stays light

        with WorkProgress() as progress:
            record = export_merged(args[0], merged, registry=ctx.obj, report=progress.report)
        fmt.echo(f"exported {record.ref} merged into {record.card.base.id} to {merged}")
        return
    if len(args) != 2:
        raise ConfigError("use `hub export REF DEST` (a PEFT folder), `--merged DIR` or `--for vllm --out DIR`")
    record = export_adapter(ctx.obj, args[0], Path(args[1]))
    fmt.echo(f"exported {record.ref} to {args[1]} (its README.md shows how transformers + PEFT load it)")


@command(
    epilog=fmt.examples(
        "hub merge reviews@1 reviews@2 --name reviews-merged",
        "hub merge books films --weights 0.7,0.3 --combination linear --name media",
    )
)
def merge(
    ctx: typer.Context,
    adapters: Annotated[
        list[str], typer.Argument(metavar="ADAPTER", help="Two or more LoRA adapters of one task, base and label set.")
    ],
    name: Annotated[str, typer.Option("--name", help="Registry name to publish the merge as.")],
    weights: Annotated[str | None, typer.Option(help="Comma-separated, one per adapter [default: equal].")] = None,
    combination: Annotated[str, typer.Option(help="PEFT combination: cat (exact), linear or svd.")] = "cat",
) -> None:
    """Merge LoRA adapters (PEFT's weighted merge) into a new adapter with its lineage in the card."""
    from adapterhub.merging import merge as run  # on first use: start-up stays light

    values = None
    if weights is not None:
        try:
            values = [float(w) for w in weights.split(",")]
        except ValueError:
            raise ConfigError(f"--weights must be numbers joined by commas, e.g. 0.6,0.4 (got {weights!r})") from None
    record = run(adapters, name, weights=values, combination=combination, registry=ctx.obj)
    lineage = ", ".join(f"{x['ref']} x {x['weight']:g}" for x in record.card.lineage)
    fmt.echo(f"published {record.ref} = {lineage} (rank {record.card.method_config['r']})")


@registry_app.command(
    epilog=fmt.examples(
        "hub registry reindex",
        "hub --registry /srv/adapters registry reindex",
    )
)
def reindex(ctx: typer.Context) -> None:
    """Rebuild the index from the version directories."""
    registry: Registry = ctx.obj
    fmt.echo(f"indexed {registry.reindex()} versions in {registry.root}")


@registry_app.command(
    epilog=fmt.examples(
        "hub registry verify",
        "hub registry verify --json",
        "hub --registry /srv/adapters registry verify   # exit 1 when a file is corrupt",
    )
)
def verify(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="The problems as JSON (exit 1 still when any).")] = False,
) -> None:
    """Check every version: each file's sha256 against its card, the card against the files and the base,
    symlinks, aliases, the journal and the index; exit 1 and list what is wrong."""
    registry: Registry = ctx.obj
    problems = registry.verify()
    if as_json:
        document = {"schema": SCHEMA, "registry": str(registry.root), "ok": not problems}
        fmt.echo_json({**document, "problems": [p.to_dict() for p in problems]})
    elif not problems:
        fmt.echo(f"ok: every file in {registry.root} matches its card, and every card its files")
    else:
        fmt.echo(fmt.table(("WHERE", "FILE", "PROBLEM"), [(p.where, p.file, p.problem) for p in problems]))
    if problems:
        raise typer.Exit(1)

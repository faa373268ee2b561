"""``hub logs``: read the prediction log a server keeps with ``--log-predictions``, or export it as data."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from adapterhub.cli import formatting as fmt
from adapterhub.cli.command import command
from adapterhub.cli.formatting import examples, table

if TYPE_CHECKING:
    from adapterhub.serving.prediction_log import Prediction

Opt = typer.Option
INPUT_SHOWN = 60  # characters of an input a table row shows


@command(
    epilog=examples(
        "hub logs",
        "hub logs --adapter sentiment --since 1h",
        "hub logs --adapter sentiment@3 --json --limit 0",
        "hub logs --adapter sentiment --export corrected.jsonl",
    )
)
def logs(
    ctx: typer.Context,
    adapter: Annotated[str | None, Opt(metavar="NAME[@V]", help="Only the rows of this adapter (or version).")] = None,
    since: Annotated[
        str | None, Opt(metavar="WHEN", help="Only rows since a duration ago (30s, 15m, 1h, 2d, 1w) or an ISO time.")
    ] = None,
    limit: Annotated[int, Opt(help="The newest N rows (0: all).")] = 20,
    as_json: Annotated[bool, Opt("--json", help="A JSON list of rows instead of a table.")] = False,
    export: Annotated[
        str | None,
        Opt(
            metavar="FILE.jsonl",
            help="Write the rows (every row that matches; needs --adapter, and a log kept with --log-inputs) as "
            "labelled data that `hub eval` and `hub train` read.",
        ),
    ] = None,
) -> None:
    """The predictions a server logged (`hub serve --log-predictions`), oldest first."""
    from adapterhub.errors import ConfigError  # on first use: start-up stays light
    from adapterhub.serving.prediction_log import (  # on first use: start-up stays light
        export_examples,
        log_folder,
        parse_since,
        read_predictions,
    )

    if limit < 0:
        raise ConfigError(f"--limit must be 0 (all) or more, got {limit}")
    if export is not None and adapter is None:
        raise ConfigError("--export writes one adapter's data: add --adapter NAME[@VERSION]")
    if export is not None and as_json:
        raise ConfigError("--export writes a file and --json prints rows; choose one")
    start = parse_since(since) if since is not None else None
    rows = read_predictions(
        log_folder(ctx.obj.root), adapter=adapter, since=start, limit=None if export or not limit else limit
    )
    if export is not None:
        if not rows:
            raise ConfigError(f"no logged rows of {adapter}{' since ' + since if since else ''}; nothing to export")
        written, skipped = export_examples(rows, export)
        note = f" ({skipped} skipped: no input text, or a failed request)" if skipped else ""
        fmt.echo(f"wrote {written} examples of {adapter} to {export}{note}")
        return
    if as_json:
        fmt.echo_json([row.to_dict() for row in rows], ensure_ascii=False)
        return
    if not rows:
        fmt.echo("no rows")
        return
    fmt.echo(
        table(
            ("time", "adapter", "latency", "chars", "result", "input"),
            [
                (
                    datetime.fromtimestamp(row.time).isoformat(sep=" ", timespec="seconds"),
                    row.ref,
                    f"{row.latency_s * 1000:.0f} ms",
                    str(row.input_chars),
                    _result(row),
                    _short(row.input),
                )
                for row in rows
            ],
        )
    )


def _result(row: Prediction) -> str:
    if row.error is not None:
        return f"error: {row.error}"
    if row.label is not None:
        return f"{row.label} {row.score:.3f}" if row.score is not None else row.label
    if row.entities is not None:
        return f"{row.entities} entities"
    if row.tokens is not None:
        return f"{row.tokens} tokens"
    return ""


def _short(text: str | None) -> str:
    if text is None:
        return "-"
    flat = " ".join(text.split())
    return flat if len(flat) <= INPUT_SHOWN else flat[: INPUT_SHOWN - 1] + "…"

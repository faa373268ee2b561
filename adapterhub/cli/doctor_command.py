"""``hub doctor``: whether this install can work, a line per check (see :mod:`adapterhub.doctor`)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from adapterhub.cli import formatting as fmt
from adapterhub.cli.command import command

MARKS = {"ok": "[✓]", "warn": "[!]", "error": "[✗]"}
PLAIN_MARKS = {"ok": "[v]", "warn": "[!]", "error": "[x]"}  # for a terminal that cannot print ✓ and ✗


@command(
    epilog=fmt.examples(
        "hub doctor",
        "hub doctor --json",
        "hub doctor --cuda --quantize    # exit 1 unless a GPU and bitsandbytes can quantize on it",
        "hub doctor --browser            # exit 1 unless chromium is there for the browser tests",
        "hub --registry /srv/adapters doctor",
    )
)
def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="The checks as a JSON object.")] = False,
    quantize: Annotated[bool, typer.Option("--quantize", help="Fail unless bitsandbytes quantizes on a GPU.")] = False,
    cuda: Annotated[bool, typer.Option("--cuda", help="Fail unless a CUDA device is present.")] = False,
    browser: Annotated[bool, typer.Option("--browser", help="Fail unless chromium (browser tests) runs.")] = False,
) -> None:
    """Check that this install can work: Python and the libraries (each against the tested lock and the newest
    tested set), the device and its dtypes, the registry (verified), chromium and the remotes (never contacted).
    Exit 1 when something cannot work; warnings alone exit 0."""
    from adapterhub.doctor import diagnose  # on first use: start-up stays light

    report = diagnose(ctx.obj, quantize=quantize, cuda=cuda, browser=browser)
    if as_json:
        fmt.echo_json(report.to_dict(), ensure_ascii=False)
    else:
        marks = MARKS if _prints("".join(MARKS.values())) else PLAIN_MARKS
        width = max(len(check.name) for check in report.checks)
        for check in report.checks:
            fmt.echo(f"{marks[check.status]} {check.name.ljust(width)}  {fmt.visible(check.detail, one_line=True)}")
            if check.fix and check.status != "ok":
                fmt.echo(f"{' ' * (len(marks['ok']) + width + 3)}fix: {fmt.visible(check.fix, one_line=True)}")
        fmt.echo(_summary(report.count("warn"), report.count("error"), marks["error"]))
    if not report.ok:
        raise typer.Exit(1)


def _summary(warnings: int, errors: int, mark: str) -> str:
    said = [f"{n} {word}{'' if n == 1 else 's'}" for n, word in ((errors, "error"), (warnings, "warning")) if n]
    if errors:
        return f"\n{', '.join(said)}: see the fix under each {mark} line."
    return f"\n{said[0]}; nothing is broken." if said else "\nNo issues found."


def _prints(text: str) -> bool:
    try:
        text.encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True

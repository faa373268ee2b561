"""The ``hub`` application: its global options, the commands it assembles and the error boundary.

Command modules define plain functions marked with :func:`~adapterhub.cli.command.command` (and sub-groups of
their own); this module alone registers them, in the order ``hub --help`` lists them.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from adapterhub.cli import (
    doctor_command,
    eval_commands,
    logs_command,
    predict_command,
    registry_commands,
    remote_commands,
    serve_command,
    shadow_command,
    train_command,
    tune_command,
    ui_command,
)
from adapterhub.cli import formatting as fmt
from adapterhub.cli.command import commands_of
from adapterhub.cli.formatting import examples
from adapterhub.errors import AdapterHubError
from adapterhub.library_warnings import silence_library_internals
from adapterhub.version import __version__

app = typer.Typer(
    name="hub",
    help="Train, version, hot-swap and serve task adapters on one frozen pretrained base.",
    epilog=examples(
        "hub train --data reviews.csv --name reviews",
        'hub predict reviews "a fine film"',
        "hub serve --adapter reviews",
        "hub COMMAND -h                  # each command's options and examples",
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion; completing runs no command, imports no torch
    rich_markup_mode=None,  # help texts are plain: `[default: …]` and `NAME[@V]` print as written
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command and group
)


# In the order `hub --help` lists them: commands first, then the groups
COMMAND_MODULES = (
    registry_commands,
    train_command,
    eval_commands,
    predict_command,
    serve_command,
    tune_command,
    logs_command,
    remote_commands,
    shadow_command,
    ui_command,
    doctor_command,
)
GROUPS = {
    "registry": registry_commands.registry_app,
    "remote": remote_commands.remote_app,
    "shadow": shadow_command.shadow_app,
}


def _assemble(application: typer.Typer) -> None:
    """Register every command and group on ``application``."""
    for module in COMMAND_MODULES:
        for function, name, settings in commands_of(module):
            application.command(name, **settings)(function)
    for name, group in GROUPS.items():
        application.add_typer(group, name=name)


_assemble(app)


def _version(value: bool) -> None:
    if value:
        fmt.echo(f"hub {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    ctx: typer.Context,
    registry: Annotated[
        Path | None,
        typer.Option("--registry", envvar="ADAPTERHUB_REGISTRY", help="Registry directory [default: ./registry]."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print hub's version and exit.")
    ] = False,
) -> None:
    from adapterhub.registry import Registry  # on first use: start-up stays light

    ctx.obj = Registry(registry)


def main() -> None:
    """Entry point of ``hub``: library errors become one line on stderr and a non-zero exit code."""
    silence_library_internals()
    try:
        try:
            app()
        except AdapterHubError as exc:
            if os.environ.get("ADAPTERHUB_DEBUG") == "1":
                raise
            fmt.echo(f"error: {fmt.visible(str(exc), one_line=True)}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            fmt.echo("interrupted", err=True)
            sys.exit(130)
    except SystemExit as exc:
        if _leave_process_group():
            _exit_now(exc.code)
        raise
    if _leave_process_group():
        _exit_now(0)


def _leave_process_group() -> bool:
    """Under accelerate launch / torchrun, leave the process group before exiting; True if there was one."""
    distributed = sys.modules.get("torch.distributed")  # never imported by commands that do not train
    if distributed is not None and distributed.is_available() and distributed.is_initialized():
        distributed.destroy_process_group()
        return True
    return False


def _exit_now(code: int | str | None) -> None:
    """End a process of a distributed run without interpreter teardown, once everything is written.

    torch's process groups can outlive destroy_process_group (FSDP's fully_shard keeps its group referenced),
    and a gloo thread that frees a tensor while the interpreter shuts down aborts the process ("terminate
    called without an active exception"), after a run that finished and published: a failed exit for the
    launcher. Results are on disk and fsynced by then; only the streams need flushing."""

    if isinstance(code, str):
        fmt.echo(code, err=True)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)

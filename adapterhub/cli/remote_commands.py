"""Remote commands: ``hub remote add|list|rm``, ``hub push`` and ``hub pull`` (``hub list --remote`` and
``hub tag --remote`` are options of those commands)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from adapterhub.cards.records import SCHEMA
from adapterhub.cli import formatting as fmt
from adapterhub.cli.command import command
from adapterhub.registry import Registry

if TYPE_CHECKING:  # the remote package (and s3fs) load only when a remote is used
    from adapterhub.remote import RemoteRegistry

remote_app = typer.Typer(
    help="Manage remote registries (S3-compatible buckets or mounted folders) to push to and pull from.",
    epilog=fmt.examples(
        "hub remote add origin s3://team-adapters/prod",
        "hub remote add origin s3://adapters --endpoint-url http://minio:9000 --profile minio",
        "hub remote add shared file:///mnt/team-adapters",
        "hub remote list",
        "hub remote rm origin",
    ),
    no_args_is_help=True,
)

RemoteOption = Annotated[str | None, typer.Option("--remote", help="Remote name [default: origin].")]


def remote_registry(registry: Registry, name: str | None) -> RemoteRegistry:
    """The named remote of ``registry`` (``origin`` by default), ready to read."""
    from adapterhub.remote import (  # on first use: start-up stays light
        RemoteRegistry,
        get_remote,
    )

    return RemoteRegistry(get_remote(registry.root, name))


def interrupted(message: str) -> NoReturn:
    """Ctrl-C during a transfer: say in one line what state both sides are in, and exit 130 as shells expect."""
    fmt.echo(f"error: {fmt.visible(message, one_line=True)}", err=True)
    raise typer.Exit(130)


@remote_app.command(
    "add",
    epilog=fmt.examples(
        "hub remote add origin s3://team-adapters/prod",
        "hub remote add origin s3://adapters --endpoint-url http://minio:9000 --profile minio",
        "hub remote add shared file:///mnt/team-adapters",
    ),
)
def remote_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Name of the remote, e.g. origin.")],
    url: Annotated[str, typer.Argument(metavar="URL", help="s3://BUCKET[/PREFIX] or file:///FOLDER.")],
    endpoint_url: Annotated[
        str | None, typer.Option("--endpoint-url", help="S3-compatible endpoint (MinIO, R2, ...) [default: AWS].")
    ] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile whose credentials to use.")] = None,
) -> None:
    """Add a remote. Credentials are never stored: they come from the environment, the profile or the instance
    role, when the remote is used."""
    from adapterhub.remote import Remote, add_remote  # on first use: start-up stays light

    remote = add_remote(ctx.obj.root, Remote(name, url, endpoint_url=endpoint_url, profile=profile))
    fmt.echo(f"added remote {remote.name} -> {remote.url}" + (f" at {endpoint_url}" if endpoint_url else ""))


@remote_app.command("list", epilog=fmt.examples("hub remote list", "hub remote list --json"))
def remote_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list of remotes instead of a table.")] = False,
) -> None:
    """List the registry's remotes."""
    from adapterhub.remote import load_remotes  # on first use: start-up stays light

    root = ctx.obj.root
    remotes = list(load_remotes(root).values()) if root.is_dir() else []
    if as_json:
        fmt.echo_json({"schema": SCHEMA, "remotes": [r.to_dict() for r in remotes]})
        return
    rows = [(r.name, r.url, r.endpoint_url or "-", r.profile or "-") for r in remotes]
    fmt.echo(fmt.table(("NAME", "URL", "ENDPOINT", "PROFILE"), rows))


@remote_app.command("rm", epilog=fmt.examples("hub remote rm origin"))
def remote_rm(
    ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME", help="The remote to forget.")]
) -> None:
    """Forget a remote (what it holds is not touched)."""
    from adapterhub.remote import remove_remote  # on first use: start-up stays light

    remote = remove_remote(ctx.obj.root, name)
    fmt.echo(f"removed remote {remote.name} ({remote.url}); nothing on it was changed")


@command(
    epilog=fmt.examples(
        "hub push sentiment@3",
        "hub push sentiment sentiment:prod --remote origin",
        "hub push --all",
    )
)
def push(
    ctx: typer.Context,
    refs: Annotated[
        list[str] | None, typer.Argument(metavar="REF", help="NAME (latest), NAME@VERSION or NAME:ALIAS; several.")
    ] = None,
    remote: RemoteOption = None,
    all_versions: Annotated[bool, typer.Option("--all", help="Push every local version.")] = False,
) -> None:
    """Push versions to a remote under their own version numbers. Files are stored by sha256, so what the remote
    holds is never sent again; a version the remote holds with other files is refused, never overwritten."""
    from adapterhub.cli.progress import TransferProgress  # on first use: start-up stays light
    from adapterhub.remote import push as run  # on first use: start-up stays light

    target = remote_registry(ctx.obj, remote)
    try:
        with TransferProgress("push") as progress:
            results = run(ctx.obj, target, refs or (), all_versions=all_versions, report=progress.report)
    except KeyboardInterrupt:
        interrupted(
            f"push to {target.remote.name} interrupted: a version whose card was not written is not on the remote; "
            "run the same command again to send only the files that are not there yet"
        )
    for r in results:
        if r.status == "present":
            fmt.echo(f"{r.ref} is on {target.remote.name} already; nothing sent")
        else:
            fmt.echo(
                f"pushed {r.ref} to {target.remote.name}: {r.uploaded_files} file(s), {fmt.size(r.uploaded_bytes)} "
                f"sent, {r.skipped_files} already there"
            )


@command(
    epilog=fmt.examples(
        "hub pull sentiment@3",
        "hub pull sentiment:prod --remote origin",
        "hub pull --all",
    )
)
def pull(
    ctx: typer.Context,
    refs: Annotated[
        list[str] | None,
        typer.Argument(metavar="REF", help="NAME (the remote's latest), NAME@VERSION or NAME:ALIAS; several."),
    ] = None,
    remote: RemoteOption = None,
    all_versions: Annotated[bool, typer.Option("--all", help="Pull every version the remote holds.")] = False,
) -> None:
    """Pull versions into the local registry under their own version numbers, each file checked against its
    sha256 and the card against its files before the version appears; the remote's aliases come along."""
    from adapterhub.cli.progress import TransferProgress  # on first use: start-up stays light
    from adapterhub.remote import pull as run  # on first use: start-up stays light

    source = remote_registry(ctx.obj, remote)
    try:
        with TransferProgress("pull") as progress:
            results = run(ctx.obj, source, refs or (), all_versions=all_versions, report=progress.report)
    except KeyboardInterrupt:
        interrupted(
            f"pull from {source.remote.name} interrupted: no unfinished version was added locally; run the same "
            "command again to download only the files that were not finished"
        )
    for r in results:
        aliases = f" ({', '.join(r.aliases)})" if r.aliases else ""
        if r.status == "present":
            fmt.echo(f"{r.ref} is in {ctx.obj.root} already{aliases}")
        else:
            fmt.echo(f"pulled {r.ref} from {source.remote.name}: {fmt.size(r.downloaded_bytes)}, verified{aliases}")

"""``hub ui``: ``hub serve`` on loopback with the web page, opened in the browser once the server answers."""

from __future__ import annotations

import threading
import time
import urllib.request
import webbrowser
from typing import Annotated

import typer

from adapterhub.cli import formatting as fmt
from adapterhub.cli.command import command
from adapterhub.cli.formatting import examples

Opt = typer.Option
READY_S = 300  # how long the page waits for the server (the base loads first) before giving up on the browser


@command(
    epilog=examples(
        "hub ui",
        "hub ui --port 9000 --no-browser",
        "hub ui --remote origin",
    )
)
def ui(
    ctx: typer.Context,
    port: Annotated[int, Opt(help="TCP port on 127.0.0.1.")] = 8000,
    browser: Annotated[bool, Opt(help="Open the page in the default browser once the server answers.")] = True,
    remote: Annotated[
        str | None, Opt(metavar="NAME", help="Pull adapters the registry lacks from this remote, as `hub serve`.")
    ] = None,
    device: Annotated[str | None, Opt(help="cpu, cuda or cuda:N [default: cuda when present].")] = None,
) -> None:
    """Browse the registry and its cards in a web page: `hub serve` on loopback, with /ui opened in the browser
    (the ADAPTERHUB_API_KEY environment variable, when set, guards it as it guards `hub serve`)."""
    from adapterhub.serving.config import ServeConfig  # neither torch nor the web framework yet
    from adapterhub.serving.runner import serve as run  # on first use: start-up stays light

    settings = ServeConfig(registry=str(ctx.obj.root), host="127.0.0.1", port=port, remote=remote, device=device)
    url = f"http://127.0.0.1:{port}/ui"
    fmt.echo(f"the web page will be at {url}", err=True)
    if browser:
        threading.Thread(target=_open_when_ready, args=(url, f"http://127.0.0.1:{port}/health"), daemon=True).start()
    run(settings)


def _open_when_ready(page: str, health: str) -> None:
    """Open ``page`` once ``health`` answers 200 (a browser opened earlier would show a connection error)."""
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(health, timeout=1) as answer:
                if answer.status == 200:
                    if not webbrowser.open(page):  # no browser found (a server, a container): say so, once
                        fmt.echo(f"no web browser to open here; open {page} in one yourself", err=True)
                    return
        except OSError:
            pass
        time.sleep(0.2)

"""The ``hub`` command: a thin shell over the library. Every typer import stays inside this package."""

from adapterhub.cli.app import app, main

__all__ = ["app", "main"]

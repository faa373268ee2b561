"""The web page at ``/ui``: plain HTML, CSS and JavaScript shipped inside the package (no CDN, no build step).

The files hold no data and are served without the API key; the page reads everything from the JSON API and
asks for the key when the API answers 401. A Content-Security-Policy keeps the page to this server's own files.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.exceptions import HTTPException

router = APIRouter(include_in_schema=False)

ASSETS = {
    "index.html": "text/html",
    "app.css": "text/css",
    "app.js": "text/javascript",
    "server.js": "text/javascript",
}
# 'self' only: nothing outside the server is loaded; data: for nothing but inline SVG images
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


@cache
def _read(name: str) -> bytes:
    return (files("adapterhub.serving") / "ui" / name).read_bytes()


def _file(name: str) -> Response:
    headers = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
    return Response(_read(name), media_type=ASSETS[name], headers=headers)


@router.get("/ui")
async def page() -> Response:
    """The page: the registry browser, with the adapter pages behind ``#/adapter/NAME@VERSION``."""
    return _file("index.html")


@router.get("/ui/{asset}")
async def asset(asset: str) -> Response:
    if asset not in ASSETS:
        raise HTTPException(404, f"/ui/{asset} is not a file of the web page; open /ui")
    return _file(asset)

"""``hub shadow report``: how a shadow version compares with its primary, asked of a running ``hub serve``."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Annotated, Any

import typer

from adapterhub.cli import formatting as fmt
from adapterhub.errors import AdapterHubError, AdapterNotFound, ConfigError, ServerUnreachable
from adapterhub.names import Ref

shadow_app = typer.Typer(
    help="Shadow versions on a running server (attach them with `hub serve --shadow PRIMARY=SHADOW`).",
    epilog=fmt.examples(
        "hub shadow report sentiment:prod", "hub shadow report sentiment:prod --url http://10.0.0.5:8000"
    ),
    no_args_is_help=True,
)

TIMEOUT_S = 10.0
INPUT_SHOWN = 60  # characters of a sample's input in the table (--json has them whole)


@shadow_app.command(
    "report",
    epilog=fmt.examples(
        "hub shadow report sentiment:prod",
        "hub shadow report sentiment:prod --url http://10.0.0.5:8000 --json",
    ),
)
def report(
    primary: Annotated[str, typer.Argument(metavar="PRIMARY", help="The primary as clients name it.")],
    url: Annotated[str, typer.Option(help="The server's address.")] = "http://127.0.0.1:8000",
    api_key: Annotated[str | None, typer.Option(envvar="ADAPTERHUB_API_KEY", help="The server's API key.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the server's report as JSON.")] = False,
) -> None:
    """How the shadow of PRIMARY compares with it: inputs compared, disagreement rate, mean |Δp| for
    classifiers, errors, and the last disagreeing inputs (kept with `hub serve --shadow-samples N`)."""
    Ref.parse(primary)
    data = fetch(url, f"/v1/shadows/{urllib.parse.quote(primary, safe='@:')}", api_key)
    if as_json:
        fmt.echo_json(data)
        return
    fmt.echo(render(data))


def render(data: dict[str, Any]) -> str:
    """The report as two tables: the totals, then the kept samples."""
    rate, mean = data["disagreement_rate"], data["mean_probability_difference"]
    totals = fmt.table(
        ["PRIMARY", "VERSION", "SHADOW", "STATUS", "SHARE", "COMPARED", "DISAGREE", "RATE", "MEAN |ΔP|", "ERRORS"],
        [
            [
                data["primary"],
                data["primary_version"],
                data["shadow"],
                data["status"],
                f"{data.get('share', 1.0):.0%}",  # a server from before shares ran every request
                str(data["total"]),
                str(data["disagreements"]),
                "-" if rate is None else f"{rate:.2%}",
                "-" if mean is None else f"{mean:.4f}",
                str(data["errors"]),
            ]
        ],
    )
    lines = [totals]
    if data.get("failure"):
        lines.append(f"\nthe shadow failed to load: {data['failure']}")
    samples = data.get("samples") or []
    if samples:
        rows = [
            [
                _cut(s["input"]),
                _cut(s["primary"]),
                _cut(s["shadow"]),
                "-" if s["difference"] is None else f"{s['difference']:.4f}",
            ]
            for s in samples
        ]
        lines.append(f"\nlast {len(samples)} disagreeing inputs, newest first:")
        lines.append(fmt.table(["INPUT", "PRIMARY", "SHADOW", "|ΔP|"], rows))
    elif data["disagreements"]:
        lines.append("\nno inputs kept: start the server with --shadow-samples N to keep the last N disagreeing ones")
    return "\n".join(lines)


def fetch(url: str, path: str, api_key: str | None) -> dict[str, Any]:
    """GET ``path`` of the server at ``url``; its error, if any, as the library's error of the same meaning."""
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--url {url!r} is not an http:// or https:// address (e.g. http://127.0.0.1:8000)")
    request = urllib.request.Request(url.rstrip("/") + path, headers={"Accept": "application/json"})
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise _error(url, exc.code, exc.read(), sent_key=bool(api_key)) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServerUnreachable(
            f"no hub serve answers at {url} ({reason}); start one, or pass --url with the server's address"
        ) from None


def _error(url: str, status: int, body: bytes, sent_key: bool) -> AdapterHubError:
    try:
        message = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = body.decode("utf-8", "replace")[:200] or "no message"
    if status == 404:
        return AdapterNotFound(message)
    if status == 401 and sent_key:  # a key went out and was refused: asking for one would mislead
        return ConfigError(
            f"the server at {url} refused the API key (from --api-key or ADAPTERHUB_API_KEY); "
            "pass the key the server was started with"
        )
    if status == 401:
        return ConfigError(f"the server at {url} wants an API key: pass --api-key KEY or set ADAPTERHUB_API_KEY")
    if status in (400, 422):
        return ConfigError(message)
    return AdapterHubError(f"the server at {url} answered {status}: {message}")


def _cut(text: str) -> str:
    text = " ".join(text.split())  # a table row is one line
    return text if len(text) <= INPUT_SHOWN else text[: INPUT_SHOWN - 1] + "…"

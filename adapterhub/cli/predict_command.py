"""``hub predict``: run texts through an adapter (or one adapter per line of a JSONL file) and print results."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from adapterhub.cli import formatting as fmt
from adapterhub.cli.command import command
from adapterhub.errors import ConfigError


@command(
    epilog=fmt.examples(
        'hub predict reviews "a fine film" "a dull plot"',
        "hub predict reviews --file inputs.jsonl --json",
        'hub predict poet "write about the sea" --max-new-tokens 32',
        'hub predict reviews@1,reviews@2 --combine mean "a fine film"',
    )
)
def predict(
    ctx: typer.Context,
    adapter: Annotated[
        str, typer.Argument(metavar="ADAPTER", help="NAME, NAME@VERSION or NAME:ALIAS; A,B,C with --combine.")
    ],
    texts: Annotated[list[str] | None, typer.Argument(metavar="TEXT", help="Texts to run; or use --file.")] = None,
    file: Annotated[
        str | None,
        typer.Option(
            "--file",
            help='JSON lines: a string or {"text": ..., "adapter": ...} per line (adapter overrides NAME); - is stdin.',
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list, one object per input, in input order.")] = False,
    batch_size: Annotated[int, typer.Option(help="Inputs per forward pass.")] = 32,
    device: Annotated[str | None, typer.Option(help="cpu, cuda or cuda:N [default: cuda when present].")] = None,
    quantize: Annotated[str | None, typer.Option(help="4bit or 8bit base through bitsandbytes (CUDA only).")] = None,
    dtype: Annotated[
        str | None, typer.Option(help="fp32, bf16 or fp16 (CUDA) for the base [default: as stored].")
    ] = None,
    max_new_tokens: Annotated[int, typer.Option(help="generate: longest continuation.")] = 64,
    temperature: Annotated[float, typer.Option(help="generate: 0 is greedy.")] = 0.0,
    top_k: Annotated[int, typer.Option(help="generate: sample among the k likeliest tokens (0: all).")] = 0,
    top_p: Annotated[float, typer.Option(help="generate: nucleus sampling mass.")] = 1.0,
    seed: Annotated[int | None, typer.Option(help="generate: seed for sampling.")] = None,
    combine: Annotated[
        str | None, typer.Option(help="mean: ADAPTER lists an ensemble A,B,C whose probabilities are averaged.")
    ] = None,
) -> None:
    """Predict with an adapter: labels and scores, entities, or generated text."""
    inputs = [(text, adapter) for text in texts or []]
    if file is not None:
        inputs += _read_inputs(file, adapter)
    if not inputs:
        raise ConfigError('give texts to predict, e.g. `hub predict sentiment "great film"`, or --file inputs.jsonl')
    refs = [m.strip() for m in adapter.split(",") if m.strip()] if combine is not None else [a for _, a in inputs]
    for ref in dict.fromkeys(refs):  # an unknown adapter is refused before torch is imported
        ctx.obj.get(ref)
    from adapterhub.cli.progress import WorkProgress  # on first use: start-up stays light
    from adapterhub.inference import Hub  # loads torch: on first use

    hub = Hub(ctx.obj, device=device, quantize=quantize, dtype=dtype, batch_size=batch_size)
    generation = {"max_new_tokens": max_new_tokens, "temperature": temperature, "top_k": top_k, "top_p": top_p}
    with WorkProgress() as progress:  # a bar for a file of inputs, on a terminal
        if combine is not None:
            if any(a != adapter for _, a in inputs):
                raise ConfigError('--combine runs every input through the ensemble ADAPTER; drop "adapter" from --file')
            members = [m.strip() for m in adapter.split(",") if m.strip()]
            done = progress.counter("predict", len(inputs) * len(members)) if file is not None else None
            results = hub.predict([t for t, _ in inputs], adapter=members, combine=combine, progress=done)
        else:
            done = progress.counter("predict", len(inputs)) if file is not None else None
            results = hub.predict(
                [t for t, _ in inputs], adapter=[a for _, a in inputs], seed=seed, progress=done, **generation
            )
    if as_json:
        fmt.echo_json(
            [{"input": t, **r.to_dict()} for (t, _), r in zip(inputs, results, strict=True)], ensure_ascii=False
        )
        return
    rows = [
        (str(i), r.adapter, _clip(t, 40), _summary(r))
        for i, ((t, _), r) in enumerate(zip(inputs, results, strict=True))
    ]
    fmt.echo(fmt.table(("#", "ADAPTER", "INPUT", "RESULT"), rows))


def _read_inputs(file: str, default_adapter: str) -> list[tuple[str, str]]:
    if file == "-":
        lines = sys.stdin.read().split("\n")
    else:
        path = Path(file)
        if not path.is_file():
            raise ConfigError(f"--file {file} does not exist")
        try:
            lines = path.read_text(encoding="utf-8").split("\n")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"--file {file} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{file} line {number} is not JSON ({exc.msg}); write one JSON value per line") from exc
        if isinstance(row, str):
            out.append((row, default_adapter))
        elif isinstance(row, dict) and isinstance(row.get("text"), str):
            adapter = row.get("adapter", default_adapter)
            if not isinstance(adapter, str):
                raise ConfigError(f'{file} line {number}: "adapter" must be a string')
            out.append((row["text"], adapter))
        else:
            raise ConfigError(f'{file} line {number}: expected a string or an object with a "text" string')
    return out


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _summary(result: Any) -> str:
    from adapterhub.inference import Classification, Entities  # loads torch: on first use

    if isinstance(result, Classification):
        return f"{result.label} ({result.score:.3f})"
    if isinstance(result, Entities):
        return ", ".join(f"{e.text} [{e.type}]" for e in result.entities) or "(no entities)"
    return _clip(result.text, 60) or "(empty)"

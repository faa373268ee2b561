"""``hub train``: flags (or a YAML file) -> TrainConfig -> adapterhub.train, with a rich progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from adapterhub.cli import formatting as fmt
from adapterhub.cli.app import app
from adapterhub.cli.formatting import examples
from adapterhub.methods import METHODS

Opt = typer.Option


@app.command(
    epilog=examples(
        "hub train --data reviews.csv --name reviews",
        "hub train --task ner --data train.conll --method prefix",
        "hub train --task generate --base ./models/my-gpt2 --data pairs.jsonl --name poet",
        "hub train --config run.yaml --epochs 5           # flags override the YAML file",
    )
)
def train(
    ctx: typer.Context,
    task: Annotated[str | None, Opt(help="sentiment, classify, ner or generate [default: sentiment]")] = None,
    name: Annotated[str | None, Opt(help="Registry name [default: the task's name].")] = None,
    base: Annotated[str | None, Opt(help="Base model: hub id or local directory [default: all-MiniLM-L6-v2].")] = None,
    method: Annotated[str | None, Opt(help=f"{', '.join(METHODS)} [default: lora].")] = None,
    data: Annotated[str | None, Opt(help="CSV/TSV/JSONL/CoNLL file, folder, or hf:NAME[:CONFIG].")] = None,
    eval_data: Annotated[str | None, Opt(help="Evaluation data [default: a seeded split of --data].")] = None,
    eval_fraction: Annotated[float | None, Opt(help="Share of --data held out for evaluation [0.1].")] = None,
    text_column: Annotated[str | None, Opt(help="Column holding the text.")] = None,
    label_column: Annotated[str | None, Opt(help="Column holding the label.")] = None,
    epochs: Annotated[int | None, Opt(help="Passes over the training data [3].")] = None,
    lr: Annotated[float | None, Opt(help="Peak learning rate [lora 1e-3, prefix/head 1e-2].")] = None,
    batch_size: Annotated[int | None, Opt(help="Examples per batch [32].")] = None,
    grad_accum: Annotated[int | None, Opt(help="Batches per optimizer step [1].")] = None,
    warmup_ratio: Annotated[float | None, Opt(help="Share of steps spent warming up [0.06].")] = None,
    schedule: Annotated[str | None, Opt(help="Decay after warmup: linear or cosine [linear].")] = None,
    weight_decay: Annotated[float | None, Opt(help="AdamW weight decay [0.01].")] = None,
    max_grad_norm: Annotated[float | None, Opt(help="Gradient clipping norm [1.0].")] = None,
    precision: Annotated[str | None, Opt(help="auto, fp32, bf16 or fp16 [auto: bf16 on a GPU that has it].")] = None,
    max_length: Annotated[int | None, Opt(help="Longest input in tokens [128].")] = None,
    seed: Annotated[int | None, Opt(help="Seed for the split, initialisation and batch order [13].")] = None,
    eval_every: Annotated[int | None, Opt(help="Evaluate every N optimizer steps [each epoch].")] = None,
    patience: Annotated[int | None, Opt(help="Evaluations without improvement before stopping [3].")] = None,
    augment: Annotated[
        bool, Opt("--augment", help="Also train on perturbed copies (swap/delete/insert); kept only if it helps.")
    ] = False,
    augment_copies: Annotated[int | None, Opt(help="Perturbed copies per example with --augment [4].")] = None,
    augment_strength: Annotated[float | None, Opt(help="Share of words each perturbation changes [0.1].")] = None,
    loraplus_ratio: Annotated[
        float | None, Opt(help="LoRA+: the B matrices' learning rate over the A matrices' (e.g. 16) [1: plain LoRA].")
    ] = None,
    ema: Annotated[
        float | None, Opt(help="Evaluate and keep a moving average of the adapter weights with this decay [0: off].")
    ] = None,
    rdrop: Annotated[
        float | None, Opt(help="R-Drop: weight of the KL between two dropout passes, e.g. 0.5 [0: off].")
    ] = None,
    lora_r: Annotated[int | None, Opt(help="LoRA rank [8].")] = None,
    lora_alpha: Annotated[int | None, Opt(help="LoRA alpha [16].")] = None,
    lora_dropout: Annotated[float | None, Opt(help="LoRA dropout [0.1].")] = None,
    target_modules: Annotated[
        list[str] | None,
        Opt(help="LoRA targets: module names, comma-separated or repeated [the architecture's attention and MLP]."),
    ] = None,
    target_module: Annotated[list[str] | None, Opt(hidden=True)] = None,  # the flag's earlier, singular name
    prefix_tokens: Annotated[int | None, Opt(help="Prefix tuning: virtual tokens [20].")] = None,
    quantize: Annotated[str | None, Opt(help="4bit or 8bit base through bitsandbytes (CUDA only).")] = None,
    fsdp: Annotated[
        bool, Opt("--fsdp", help="Under torchrun / accelerate launch, shard base and adapter over the processes.")
    ] = False,
    save_on_interrupt: Annotated[bool, Opt(help="On Ctrl-C publish the best checkpoint so far.")] = False,
    tags: Annotated[list[str] | None, Opt("--tag", help="Free-form tag for the card (repeatable).")] = None,
    labels: Annotated[
        str | None,
        Opt(
            help="Class names in class-index order, comma-separated: names of labels 0..N-1, or an order of named ones."
        ),
    ] = None,
    min_metric: Annotated[
        float | None,
        Opt(help="Publish only if the headline metric (accuracy, f1) is at least this; perplexity: at most [exit 7]."),
    ] = None,
    as_json: Annotated[
        bool,
        Opt("--json", help="Print the published record as JSON on stdout (as `hub show --json`); progress on stderr."),
    ] = False,
    config: Annotated[Path | None, Opt(help="YAML file of the same settings; flags override it.")] = None,
) -> None:
    """Train an adapter on a frozen base and publish it to the registry."""
    from adapterhub.training.config import TrainConfig  # no torch: bad settings are refused at once

    settings: dict[str, Any] = dict(
        task=task,
        name=name,
        base=base,
        method=method,
        data=data,
        eval_data=eval_data,
        eval_fraction=eval_fraction,
        text_column=text_column,
        label_column=label_column,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        grad_accum=grad_accum,
        warmup_ratio=warmup_ratio,
        schedule=schedule,
        weight_decay=weight_decay,
        max_grad_norm=max_grad_norm,
        precision=precision,
        max_length=max_length,
        seed=seed,
        eval_every=eval_every,
        patience=patience,
        ema=ema,
        rdrop=rdrop,
        loraplus_ratio=loraplus_ratio,
        augment=augment or None,
        augment_copies=augment_copies,
        augment_strength=augment_strength,
        lora_r=lora_r,
        lora_alpha=lora_alpha,
        lora_dropout=lora_dropout,
        target_modules=_split_commas([*(target_modules or []), *(target_module or [])]),
        prefix_tokens=prefix_tokens,
        quantize=quantize,
        fsdp=fsdp or None,
        min_metric=min_metric,
        labels=tuple(label.strip() for label in labels.split(",")) if labels is not None else None,
    )
    base_config = TrainConfig.from_yaml(config) if config else TrainConfig()
    merged = base_config.merged(
        **settings, save_on_interrupt=save_on_interrupt or None, tags=tuple(tags) if tags else None
    )
    from adapterhub.cli.progress import TrainingProgress
    from adapterhub.training.train import train as run  # checks the rest before importing torch

    with TrainingProgress() as progress:
        result = run(merged, registry=ctx.obj, report=progress.report)
    if not result.main_process:  # under accelerate launch / torchrun the main process speaks for the run
        return
    record = result.record
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in record.card.metrics.items() if k != "loss")
    fmt.echo(
        f"published {record.ref}: {metrics} ({result.fit.samples_per_second:.1f} samples/s, "
        f"{result.fit.steps} steps{', stopped early' if result.fit.stopped_early else ''})",
        err=as_json,  # with --json, stdout holds the record alone
    )
    for warning in result.warnings:
        fmt.echo(f"warning: {warning}", err=True)
    if as_json:
        fmt.echo_json(record.to_dict(), sort_keys=True)


def _split_commas(values: list[str]) -> list[str] | None:
    """``--target-modules q_proj,v_proj --target-modules o_proj`` -> [q_proj, v_proj, o_proj] (None when none)."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()] or None

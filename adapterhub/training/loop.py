"""The training loop: AdamW, warmup then decay, accumulation, clipping, autocast, evaluation, early stopping.

Devices and mixed precision go through accelerate. Only trainable (adapter and head) parameters reach the
optimizer; the best evaluation's trainable weights are kept in memory (adapters are small) and restored at
the end. Ctrl-C ends the loop cleanly and says so in the result. With FSDP (``--fsdp``, or an FSDP accelerate
config, over several processes) the model is sharded first: see :mod:`adapterhub.training.sharding`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from adapterhub.compat import import_dynamo_first, reset_accelerate_state
from adapterhub.errors import ConfigError
from adapterhub.methods import METHODS
from adapterhub.tasks.task import Encoded, Task
from adapterhub.training.averaging import WeightAverage
from adapterhub.training.batching import by_length, length_grouped
from adapterhub.training.config import TrainConfig
from adapterhub.training.consistency import rdrop_loss
from adapterhub.training.sharding import accelerate_without_fsdp, fsdp_requested, shard


@dataclass
class FitResult:
    """What a run produced: the best evaluation's metrics, every evaluation, and how it ended."""

    best_metrics: dict[str, float] = field(default_factory=dict)
    best_step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    samples: int = 0
    train_seconds: float = 0.0
    stopped_early: bool = False
    interrupted: bool = False
    processes: int = 1  # under accelerate launch / torchrun: how many trained together
    sharded: bool = False  # FSDP: each process held a shard of every weight

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.train_seconds if self.train_seconds else 0.0


def mixed_precision(precision: str, device: torch.device) -> str:
    """accelerate's mixed-precision name for ``--precision`` on this device."""
    if precision == "auto":
        return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "no"
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError("--precision fp16 needs a CUDA GPU; use --precision bf16 or fp32 on this machine")
    return {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}[precision]


def _optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The method's own optimizer (LoRA+ for LoRA with ``--loraplus-ratio``), else AdamW with weight decay on
    the trainable matrices."""
    own = METHODS[config.method].optimizer(model, config)
    if own is not None:
        return own
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 or "norm" in name.lower() else decay).append(param)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.learning_rate)


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def fit(
    model: torch.nn.Module,
    task: Task,
    train: Sequence[Encoded],
    evaluation: Sequence[Encoded],
    labels: Sequence[str],
    config: TrainConfig,
    pad_id: int,
    report: Callable[[str, dict[str, Any]], None] = lambda event, values: None,
) -> FitResult:
    """Train ``model`` (a PeftModel whose base is frozen) and leave the best evaluation's weights in it.

    ``report(event, values)`` is called with ``"step"`` (loss, lr, samples/s) and ``"eval"`` (metrics) for
    progress display.

    Under ``accelerate launch`` or ``torchrun`` every process walks the same seeded sequence of batches and
    takes its share of each (``config.batch_size`` is the global batch); losses are weighted so that the
    averaged gradient is the global batch's, as in one process. Only the main process evaluates, keeps the
    best weights and reports; its early-stopping decision is sent to the others. Sharded (FSDP), every process
    evaluates, since each forward pass needs them all, and each keeps its shard of the best weights.
    """
    from transformers import get_scheduler  # transformers: loaded on first use

    accelerator, sharded = _accelerator(config, report)
    if sharded:  # every process holds a shard; accelerate must not wrap the model in DDP as well
        shard(model, accelerator.device)
    optimizer = _optimizer(model, config)
    batches_per_epoch = -(-len(train) // config.batch_size)
    # accelerate steps the optimizer every grad_accum batches, counting across epoch boundaries
    total_steps = max(1, batches_per_epoch * config.epochs // config.grad_accum)
    scheduler = get_scheduler(
        config.schedule,
        optimizer,
        num_warmup_steps=int(config.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )
    # the scheduler stays unprepared: accelerate would step it once per process, and steps here are global
    if sharded:
        optimizer = accelerator.prepare(optimizer)
    else:
        model, optimizer = accelerator.prepare(model, optimizer)
    loop = _Loop(
        model, optimizer, scheduler, accelerator, task, config, pad_id, report, train, evaluation, labels, total_steps
    )
    loop.result.sharded = sharded
    model.train()
    loop.run()
    loop.restore_best()
    model.eval()
    return loop.result


def _accelerator(config: TrainConfig, report: Callable[[str, dict[str, Any]], None]) -> tuple[Any, bool]:
    """accelerate's ``Accelerator`` for the run, and whether the model is to be sharded (FSDP over several
    processes); a :class:`ConfigError` for an accelerate config that training here does not run."""
    from accelerate import Accelerator  # accelerate: loaded on first use

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    sharded = fsdp_requested(config.fsdp) and process_state().num_processes > 1
    if fsdp_requested(config.fsdp) and not sharded:
        report(
            "note", {"text": "--fsdp: one process, so nothing is sharded; start it with torchrun or accelerate launch"}
        )
    reset_accelerate_state()  # a second run in one process (a notebook, `hub tune`) may change the precision
    with accelerate_without_fsdp() if sharded else contextlib.nullcontext():
        accelerator = Accelerator(
            cpu=device.type == "cpu",
            mixed_precision=mixed_precision(config.precision, device),
            gradient_accumulation_steps=config.grad_accum,
        )
    kind = accelerator.distributed_type.value
    if kind in ("FSDP", "DEEPSPEED", "MEGATRON_LM", "XLA"):
        raise ConfigError(
            f"this accelerate config runs {kind}, which training here does not: use a data-parallel config, "
            "or distributed_type: FSDP with fsdp_version: 2 (see configs/accelerate/fsdp.yaml)"
        )
    return accelerator, sharded


class _Loop:
    """One run's state: the prepared model and optimizer, the steps taken, the best evaluation so far."""

    def __init__(
        self,
        model: Any,
        optimizer: Any,
        scheduler: Any,
        accelerator: Any,
        task: Task,
        config: TrainConfig,
        pad_id: int,
        report: Callable[[str, dict[str, Any]], None],
        train: Sequence[Encoded],
        evaluation: Sequence[Encoded],
        labels: Sequence[str],
        total_steps: int,
    ) -> None:
        self.model, self.optimizer, self.scheduler, self.accelerator = model, optimizer, scheduler, accelerator
        self.task, self.config, self.pad_id, self.report = task, config, pad_id, report
        self.train, self.evaluation, self.labels, self.total_steps = train, evaluation, labels, total_steps
        self.world, self.rank = accelerator.num_processes, accelerator.process_index
        self.result = FitResult(processes=self.world)
        self.trainable = [p for p in model.parameters() if p.requires_grad]
        steps_per_epoch = max(1, -(-len(train) // config.batch_size) // config.grad_accum)
        self.eval_every = config.eval_every or steps_per_epoch
        self.sign = 1 if task.greater_is_better else -1
        self.best_score: float | None = None
        self.bad_evals = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.average = WeightAverage(accelerator.unwrap_model(model), config.ema) if config.ema else None
        self.recent_losses: list[float] = []
        self.started = 0.0

    def run(self) -> None:
        """Every epoch's batches, until the last, early stopping or Ctrl-C (noted in the result)."""
        config, lengths = self.config, [e["length"] for e in self.train]
        self.started = time.perf_counter()
        try:
            for epoch in range(config.epochs):
                for batch_ids in length_grouped(lengths, config.batch_size, config.seed + epoch):
                    if self._step(batch_ids):
                        self.result.stopped_early = True
                        raise StopIteration
        except StopIteration:
            pass
        except KeyboardInterrupt:
            self.result.interrupted = True
        self.result.train_seconds = time.perf_counter() - self.started

    def _step(self, batch_ids: list[int]) -> bool:
        """One batch (this process's share of it); True when an evaluation after it says to stop."""
        accelerator, config, result, world = self.accelerator, self.config, self.result, self.world
        mine = batch_ids[self.rank :: world]
        batch = _to(self.task.collate([self.train[i] for i in mine or batch_ids[:1]], self.pad_id), accelerator.device)
        with accelerator.accumulate(self.model), accelerator.autocast():
            loss = rdrop_loss(self.model, batch, config.rdrop) if config.rdrop else self.model(**batch).loss
            if world > 1:  # this share's mean, weighted so that DDP's average is the global mean
                count = _targets(batch, self.task) if mine else 0
                total = accelerator.reduce(torch.tensor(float(count), device=accelerator.device), "sum")
                loss = loss * (count * world / total.clamp(min=1))
            accelerator.backward(loss)
            if accelerator.sync_gradients and config.max_grad_norm:
                accelerator.clip_grad_norm_(self.trainable, config.max_grad_norm)
            self.optimizer.step()
            if accelerator.sync_gradients and not accelerator.optimizer_step_was_skipped:
                self.scheduler.step()
            self.optimizer.zero_grad()
        result.samples += len(batch_ids)
        if not accelerator.sync_gradients:
            return False
        result.steps += 1
        if self.average:
            self.average.update()
        step_loss = float(loss.detach() if world == 1 else accelerator.reduce(loss.detach() / world, "sum"))
        self.recent_losses.append(step_loss)
        self.report(
            "step",
            {
                "loss": step_loss,
                "lr": self.scheduler.get_last_lr()[0],
                "samples_per_second": result.samples / (time.perf_counter() - self.started),
                "step": result.steps,
                "total_steps": self.total_steps,
            },
        )
        if result.steps % self.eval_every and result.steps != self.total_steps:
            return False
        eval_started = time.perf_counter()
        stop = agree(self.evaluate() if accelerator.is_main_process or result.sharded else False)
        self.started += time.perf_counter() - eval_started  # samples/s counts training time only
        return bool(stop)

    def evaluate(self) -> bool:
        """Evaluate (the averaged weights with --ema), keep the best; True when early stopping says to stop."""
        result, config = self.result, self.config
        # unsharded, only the main process evaluates (no collective calls); sharded, every process runs every batch
        plain = self.model if result.sharded else self.accelerator.unwrap_model(self.model)
        plain.eval()
        with self.average.applied() if self.average else contextlib.nullcontext():
            with torch.no_grad(), self.accelerator.autocast():
                batches = (
                    _to(self.task.collate([self.evaluation[i] for i in b], self.pad_id), self.accelerator.device)
                    for b in by_length([e["length"] for e in self.evaluation], config.batch_size * 2)
                )
                metrics = self.task.evaluate(plain, batches, self.labels)
            evaluated = trainable_state(plain)
        self.model.train()
        metrics = {
            **metrics,
            "step": result.steps,
            "epoch": round(result.samples / max(len(self.train), 1), 3),
            "train_loss": sum(self.recent_losses) / max(len(self.recent_losses), 1),
        }
        self.recent_losses.clear()
        result.history.append(metrics)
        score = self.sign * metrics[self.task.metric]
        if self.best_score is None or score > self.best_score:
            self.best_score, self.bad_evals, self.best_state = score, 0, evaluated
            result.best_metrics, result.best_step = metrics, result.steps
        else:
            self.bad_evals += 1
        self.report("eval", metrics)
        return bool(config.patience) and self.bad_evals >= config.patience

    def restore_best(self) -> None:
        """Put the best evaluation's trainable weights back into the model."""
        if self.best_state is None:
            return
        unwrapped = self.accelerator.unwrap_model(self.model)
        with torch.no_grad():
            params = dict(unwrapped.named_parameters())
            for name, value in self.best_state.items():
                params[name].copy_(value)


def _targets(batch: dict[str, torch.Tensor], task: Task) -> int:
    """How many targets a batch's mean loss averages over: examples, labelled tokens, or (causal LM) the
    labelled tokens after the one-position shift."""
    labels = batch["labels"]
    if labels.ndim == 1:
        return len(labels)
    if task.task_type == "CAUSAL_LM":
        labels = labels[:, 1:]
    return int((labels != -100).sum())


def process_state() -> Any:
    """accelerate's view of this process (rank, main or not), set up as :func:`fit` sets up its Accelerator."""
    import_dynamo_first()
    from accelerate import PartialState  # accelerate: loaded on first use

    return PartialState(cpu=not torch.cuda.is_available())


def agree(value: Any) -> Any:
    """The main process's ``value`` on every process (itself when there is one process)."""
    if process_state().num_processes == 1:
        return value
    from accelerate.utils import broadcast_object_list  # accelerate: loaded on first use

    return broadcast_object_list([value])[0]


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in batch.items()}

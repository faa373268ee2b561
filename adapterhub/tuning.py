"""``tune``: hyper-parameter search over training runs with Optuna (TPE sampling, median pruning).

Every trial is a real :func:`adapterhub.train` run, published into a scratch registry beside the study:
``<registry>/.tune/<study>/`` holds ``study.db`` (Optuna's SQLite storage) and ``trials/``. A trial whose eval
metric trails the median of earlier trials at the same evaluation is pruned there and then. Ctrl-C leaves
every finished trial in the study; the same command resumes it. The best trial is published to the registry
under the run's name, with the search recorded in its card.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from adapterhub.base import locate_base
from adapterhub.errors import AdapterHubError, ConfigError
from adapterhub.methods import METHODS
from adapterhub.names import validate_name
from adapterhub.registry import AdapterRecord, Registry
from adapterhub.registry.paths import refuse_link, work_folder
from adapterhub.tasks import get_task
from adapterhub.training.config import TrainConfig
from adapterhub.training.train import TrainingInterrupted, train
from adapterhub.typed_fields import setting

FINISHED = ("COMPLETE", "PRUNED")


class TuningInterrupted(AdapterHubError):
    """Ctrl-C during a search: the finished trials are kept and the same command resumes."""

    exit_code = 130


@dataclass(frozen=True)
class TuneSettings:
    """How to search: trial count, methods searched over, the study's name (default: the adapter's name)."""

    trials: int = setting(20, "Trials to finish in the study (a resumed study counts those done)")
    methods: tuple[str, ...] = setting(
        ("lora",), f"Methods to search over, comma-separated or repeated: {', '.join(METHODS)}"
    )
    study: str | None = setting(None, "Study name; the same name resumes it", shown_default="NAME")
    startup_trials: int = setting(3, "Trials that always finish, before pruning compares against their median")

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise ConfigError(f"--trials must be at least 1 (got {self.trials})")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ConfigError(f"--methods takes some of {', '.join(METHODS)} (got {', '.join(self.methods) or 'none'})")


@dataclass(frozen=True)
class TrialResult:
    number: int
    state: str  # COMPLETE, PRUNED, FAIL
    params: dict[str, Any]
    value: float | None
    evaluations: int


@dataclass(frozen=True)
class TuneResult:
    best: AdapterRecord
    best_trial: int
    metric: str
    trials: list[TrialResult] = field(default_factory=list)
    study_path: Path = Path()


def suggest(trial: Any, methods: Sequence[str]) -> dict[str, Any]:
    """One point of the search space: learning rate, warmup and the method's own settings."""
    name = trial.suggest_categorical("method", list(methods))
    method = METHODS[name]
    low, high = method.lr_range
    return {
        "method": name,
        "lr": trial.suggest_float(f"{name}_lr", low, high, log=True),
        "warmup_ratio": trial.suggest_float("warmup_ratio", 0.0, 0.2),
        **method.search(trial),
    }


def tune(
    config: TrainConfig,
    settings: TuneSettings | None = None,
    *,
    registry: Registry | str | None = None,
    report: Callable[[str, dict[str, Any]], None] | None = None,
) -> TuneResult:
    """Search, then publish the best trial's adapter as ``config.adapter_name``.

    Example:
        >>> tune(TrainConfig(task="sentiment"), TuneSettings(trials=8)).best.ref  # doctest: +SKIP
        'sentiment@2'
    """
    settings = settings or TuneSettings()
    location = locate_base(config.base)
    for method in settings.methods:  # refused now, not at the first trial that draws it
        METHODS[method].check_base(location, f"drop {method} from --methods")
    from adapterhub.training.loop import process_state  # loads torch: on first use

    if process_state().num_processes > 1:
        raise ConfigError("hub tune runs its trials in one process; start it without accelerate launch or torchrun")
    registry = registry if isinstance(registry, Registry) else Registry(registry)
    report = report or (lambda event, values: None)
    task = get_task(config.task)
    name = validate_name(config.adapter_name)
    study_name = validate_name(settings.study or name, "study name")
    registry.root.mkdir(parents=True, exist_ok=True)
    work_folder(registry.root / ".tune", create=True)  # a symlink there is refused, not followed
    folder = registry.root / ".tune" / study_name
    refuse_link(folder)
    folder.mkdir(exist_ok=True)
    scratch = Registry(folder / "trials")
    study = _study(folder, study_name, task.greater_is_better, config.seed, settings.startup_trials)
    _check_same_search(study, config, settings)
    done = sum(1 for t in study.trials if t.state.name in FINISHED)
    try:
        if done < settings.trials:
            report("note", {"text": f"study {study_name}: {done} of {settings.trials} trials done; running the rest"})
            objective = _objective(config, settings, task.metric, scratch, report)
            study.optimize(objective, n_trials=settings.trials - done, catch=(), callbacks=[_announce(report)])
    except (TrainingInterrupted, KeyboardInterrupt) as exc:
        kept = sum(1 for t in study.trials if t.state.name in FINISHED)
        raise TuningInterrupted(
            f"interrupted: {kept} finished trial(s) are kept in {folder}; run the same command to resume"
        ) from exc
    trials = [_trial_result(t) for t in study.trials]
    best = study.best_trial
    best_record = scratch.get(best.user_attrs["ref"])
    published = study.user_attrs.get("published")
    if published and published.get("trial") == best.number:
        record = registry.get(published["ref"])
    else:
        record = _publish_best(registry, name, best_record, study_name, best.number, len(trials))
        study.set_user_attr("published", {"trial": best.number, "ref": record.ref})
    return TuneResult(record, best.number, task.metric, trials, folder)


def _study(folder: Path, name: str, maximize: bool, seed: int, startup_trials: int) -> Any:
    """The Optuna study stored in ``folder`` (created, or loaded to resume): TPE sampling, median pruning."""
    import optuna  # optuna: loaded on first use

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        study_name=name,
        storage=f"sqlite:///{folder / 'study.db'}",
        load_if_exists=True,
        direction="maximize" if maximize else "minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=1),
    )


def _objective(
    config: TrainConfig,
    settings: TuneSettings,
    metric: str,
    scratch: Registry,
    report: Callable[[str, dict[str, Any]], None],
) -> Callable[[Any], float]:
    """Optuna's objective: one training run at a point of the search space, published into ``scratch``, pruned
    at an evaluation that trails the median of earlier trials there."""
    import optuna  # optuna: loaded on first use

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, settings.methods)
        evaluations = 0

        def on_event(event: str, values: dict[str, Any]) -> None:
            nonlocal evaluations
            report(event, values)
            if event == "eval":
                trial.report(values[metric], evaluations)
                evaluations += 1
                trial.set_user_attr("evaluations", evaluations)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"{metric} {values[metric]:.4f} at evaluation {evaluations}")

        report("trial", {"number": trial.number, "params": params})
        trial_config = config.merged(name=f"trial-{trial.number}", save_on_interrupt=False, **params)
        result = train(trial_config, registry=scratch, report=on_event)
        trial.set_user_attr("ref", result.record.ref)
        return result.record.card.metrics[metric]

    return objective


def _check_same_search(study: Any, config: TrainConfig, settings: TuneSettings) -> None:
    """A resumed study must search the same task, data, base and methods; another one is an error."""
    identity = {
        "task": config.task,
        "data": config.data,
        "eval_data": config.eval_data,
        "base": config.base,
        "methods": list(settings.methods),
    }
    saved = study.user_attrs.get("search")
    if saved is None:
        study.set_user_attr("search", identity)
    elif saved != identity:
        changed = ", ".join(k for k in identity if identity[k] != saved.get(k))
        raise ConfigError(
            f"study {study.study_name!r} searched other settings ({changed} differ); pass --study NEW_NAME to "
            "start another search, or repeat the original settings to resume it"
        )


def _announce(report: Callable[[str, dict[str, Any]], None]) -> Callable[[Any, Any], None]:
    def callback(study: Any, trial: Any) -> None:
        report("trial_done", {"result": _trial_result(trial), "best": study.best_value if study.best_trials else None})

    return callback


def _trial_result(trial: Any) -> TrialResult:
    params = dict(trial.params)
    method = params.pop("method", None)
    lr = next((params.pop(k) for k in list(params) if k.endswith("_lr")), None)
    shown = {"method": method, "lr": lr, **params}
    value = (
        trial.value
        if trial.state.name == "COMPLETE"
        else (trial.intermediate_values[max(trial.intermediate_values)] if trial.intermediate_values else None)
    )
    return TrialResult(trial.number, trial.state.name, shown, value, int(trial.user_attrs.get("evaluations", 0)))


def _publish_best(
    registry: Registry, name: str, trial: AdapterRecord, study: str, number: int, count: int
) -> AdapterRecord:

    card = trial.card
    hyper = {**card.hyperparameters, "tune": {"study": study, "trial": number, "trials": count}}
    return registry.publish(name, trial.path, replace(card, hyperparameters=hyper, tags=(*card.tags, "tuned")))

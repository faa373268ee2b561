"""Every setting is written once and reachable: each field of TrainConfig, of every registered method's settings,
of TuneSettings and of ServeConfig is an option of its command, with the field's help, and (TrainConfig) a YAML key."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from typing import Any

import click
import pytest
import typer

from adapterhub.cli import app
from adapterhub.methods import METHODS
from adapterhub.serving.config import ServeConfig
from adapterhub.training.config import TrainConfig
from adapterhub.tuning import TuneSettings
from adapterhub.typed_fields import flag_of


def _command(name: str) -> click.Command:
    return typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]


def _settings(cls: type, flag: Any = None) -> list[tuple[str, str, dataclasses.Field[Any]]]:
    """(flag, help, field) for each field of ``cls`` the command line sets; a field without help fails here."""
    out = []
    for spec in dataclasses.fields(cls):
        assert spec.metadata.get("help"), f"{cls.__name__}.{spec.name} has no help in its metadata"
        if spec.metadata.get("cli", True):
            out.append(((flag or (lambda name: flag_of(cls, name)))(spec.name), spec.metadata["help"], spec))
        else:  # set another way, which the field says
            assert spec.metadata.get("cli_reason"), f"{cls.__name__}.{spec.name} is off the command line unexplained"
    return out


def _unreachable(command: click.Command, expected: list[tuple[str, str, Any]]) -> list[str]:
    """The flags of ``expected`` that ``command`` lacks, or whose help is not the field's."""
    options = {flag: param for param in command.params for flag in param.opts}
    return [
        flag
        for flag, help_, _ in expected
        if flag not in options or not (options[flag].help or "").startswith(help_.rstrip("."))
    ]


def _train_settings() -> list[tuple[str, str, Any]]:
    run = [s for s in _settings(TrainConfig) if s[2].name not in METHODS]
    methods = [s for method in METHODS.values() for s in _settings(method.settings, method.flag)]
    return run + methods


def test_every_setting_is_an_option_of_its_command_with_the_fields_help() -> None:
    assert len(_train_settings()) >= 40
    assert _unreachable(_command("train"), _train_settings()) == []
    assert _unreachable(_command("tune"), _settings(TuneSettings)) == []
    assert _unreachable(_command("serve"), _settings(ServeConfig)) == []
    assert [s[2].name for s in _settings(ServeConfig)] == [
        f.name for f in dataclasses.fields(ServeConfig) if f.name not in ("registry", "api_key_digest")
    ]


def test_every_setting_of_a_run_is_a_yaml_key_and_each_methods_also_by_its_flags_name() -> None:
    for spec in dataclasses.fields(TrainConfig):
        value = spec.default if spec.default is not dataclasses.MISSING else {}
        assert TrainConfig.from_dict({spec.name: value}) == TrainConfig(), spec.name
    for method in METHODS.values():
        for spec in dataclasses.fields(method.settings):
            nested = TrainConfig.from_dict({method.name: {spec.name: spec.default}})
            flat_key = method.flag(spec.name).removeprefix("--").replace("-", "_")
            assert TrainConfig.from_dict({flat_key: spec.default}) == nested == TrainConfig(), flat_key


def test_a_setting_added_without_an_option_or_help_is_caught() -> None:
    grown = dataclasses.make_dataclass(
        "Grown",
        [("queue_policy", str, dataclasses.field(default="fifo", metadata={"help": "Order of the queue"}))],
        bases=(ServeConfig,),
        frozen=True,
    )
    assert _unreachable(_command("serve"), _settings(grown)) == ["--queue-policy"]
    helpless = dataclasses.make_dataclass("Helpless", [("colour", str, dataclasses.field(default="red"))])
    with pytest.raises(AssertionError, match=r"Helpless\.colour has no help"):
        _settings(helpless)
    hidden = dataclasses.make_dataclass(
        "Hidden", [("colour", str, dataclasses.field(default="red", metadata={"help": "A colour", "cli": False}))]
    )
    with pytest.raises(AssertionError, match="off the command line unexplained"):
        _settings(hidden)


def test_a_method_registered_in_its_own_module_gets_its_flags_yaml_keys_and_settings() -> None:
    """A method module and its registration line are all it takes: no edit to TrainConfig or the CLI."""
    script = """
import dataclasses
from dataclasses import field
from adapterhub.methods import METHODS, Method

@dataclasses.dataclass(frozen=True)
class WidthSettings:
    width: int = field(default=4, metadata={"help": "Bottleneck width"})
    scales: tuple[str, ...] = field(default=(), metadata={"help": "Scales to learn", "flag": "--width-scales"})

METHODS["bottleneck"] = Method("bottleneck", "a bottleneck", WidthSettings, default_lr=3e-3, peft_type="X")

import typer
from adapterhub.cli import app
from adapterhub.training.config import TrainConfig

config = TrainConfig.from_dict({"method": "bottleneck", "bottleneck": {"width": 8}})
assert config.method_settings() == WidthSettings(width=8) and config.learning_rate == 3e-3, config
assert TrainConfig.from_dict({"bottleneck_width": 2}).bottleneck.width == 2
assert TrainConfig().merged(width_scales=["a", "b"]).settings_for("bottleneck").scales == ("a", "b")
command = typer.main.get_command(app).commands["train"]
helps = {flag: param.help for param in command.params for flag in param.opts}
assert helps["--bottleneck-width"] == "Bottleneck width. [default: 4]", helps
assert helps["--width-scales"].startswith("Scales to learn"), helps
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr[-3000:]

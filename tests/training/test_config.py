"""``TrainConfig`` from YAML and Python: every value type-checked, every problem named once, in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapterhub import ConfigError, TrainConfig
from adapterhub.methods import LoraSettings, PrefixSettings


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


def test_a_value_of_the_wrong_type_names_the_key_the_value_and_the_type(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_yaml(_yaml(tmp_path, "lr: abc\n"))
    assert str(caught.value) == f"{tmp_path / 'run.yaml'}: lr: 'abc' is not a number or null"


def test_every_problem_of_a_yaml_file_is_listed_once_in_one_line(tmp_path: Path) -> None:
    text = (
        "epohcs: 3\nlr: abc\nepochs: 2.5\nschedule: cosin\nquantize: 4bits\ntags: foo\naugment: maybe\n"
        "batch_size: 0\nlora:\n  r: x\n  rank: 4\n  target_modules: [query, 7]\nprefix: 20\n"
    )
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_yaml(_yaml(tmp_path, text))
    message = str(caught.value)
    assert "\n" not in message
    for part in (
        "epohcs is not a setting (did you mean 'epochs'?)",
        "lr: 'abc' is not a number or null",
        "epochs: 2.5 is not an integer",
        "schedule: 'cosin' is not one of linear, cosine (did you mean 'cosine'?)",
        "quantize: '4bits' is not one of 4bit, 8bit or null (did you mean '4bit'?)",
        "tags: 'foo' is not a list of strings",
        "augment: 'maybe' is not true or false",
        "lora.rank is not a setting (known: r, alpha, dropout, target_modules)",
        "lora.r: 'x' is not an integer",
        "lora.target_modules: ['query', 7] is not a list of strings or null",
        "prefix: 20 is not a mapping of num_virtual_tokens",
        "--batch-size must be at least 1 (got 0)",  # the range checks of the values that had the right type
    ):
        assert message.count(part) == 1, part


def test_yaml_numbers_and_the_flags_names_read_as_meant(tmp_path: Path) -> None:
    # PyYAML reads `1e-3` (no dot) as text: it is the number it spells
    text = "lr: 1e-3\nlora_r: 4\nprefix_tokens: 7\nlabels: [world, sports]\nmin_metric: 0.8\n"
    config = TrainConfig.from_yaml(_yaml(tmp_path, text))
    assert (config.lr, config.lora.r, config.prefix.num_virtual_tokens) == (1e-3, 4, 7)
    assert (config.labels, config.min_metric) == (("world", "sports"), 0.8)
    with pytest.raises(ConfigError, match=r"lora_r and lora\.r are the same setting; give one of them"):
        TrainConfig.from_yaml(_yaml(tmp_path, "lora_r: 4\nlora:\n  r: 8\n"))


def test_python_values_of_the_wrong_type_are_config_errors_in_flag_names() -> None:
    with pytest.raises(ConfigError, match=r"^--lr: 'abc' is not a number or null$"):
        TrainConfig(lr="abc")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"--precision: 'fp64' is not one of auto, fp32, bf16, fp16 \(did you"):
        TrainConfig(precision="fp64")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^--lora-r: '8' is not an integer$"):
        TrainConfig().merged(lora_r="8")
    with pytest.raises(ConfigError, match=r"^--prefix-tokens: 2\.5 is not an integer$"):
        PrefixSettings(num_virtual_tokens=2.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^--lora-dropout: True is not a number$"):
        LoraSettings(dropout=True)
    with pytest.raises(
        ConfigError, match=r"--method must be one of lora, prefix, head, ia3 \(got 'lroa'\) \(did you mean"
    ):
        TrainConfig(method="lroa")


def test_labels_and_min_metric_are_checked() -> None:
    with pytest.raises(ConfigError, match="--labels names 1 class"):
        TrainConfig(labels=("only",))
    with pytest.raises(ConfigError, match=r"--labels names 'a' more than once"):
        TrainConfig(labels=("a", "b", "a"))
    with pytest.raises(ConfigError, match="--min-metric must be a number of at least 0"):
        TrainConfig(min_metric=-0.5)
    hyper = TrainConfig(labels=("a", "b"), min_metric=0.7).hyperparameters()
    assert "labels" not in hyper and hyper["min_metric"] == 0.7

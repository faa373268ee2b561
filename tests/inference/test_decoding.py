"""Picking tokens: greedy, sampled, and numerically safe at any temperature."""

from __future__ import annotations

import pytest
import torch

from adapterhub.errors import ConfigError
from adapterhub.inference import Hub
from adapterhub.inference.decoding import GenerationOptions, _pick
from tests.inference.helpers import publish_adapter


@pytest.mark.parametrize("temperature", [1e-300, 5e-324, 1e-45, 1e-8])
def test_a_tiny_temperature_samples_the_greedy_token(temperature: float) -> None:
    logits = torch.tensor([[1.0, 7.5, -3.0, 7.25], [80.0, -80.0, 0.0, 79.0]])
    options = GenerationOptions(temperature=temperature, top_k=3, top_p=0.9)
    for seed in range(20):
        picked = _pick(logits, options, torch.Generator().manual_seed(seed))
        assert picked.tolist() == [1, 0]


def test_ties_at_a_tiny_temperature_share_the_mass() -> None:
    logits = torch.tensor([[5.0, 5.0, -1.0]])
    picked = {
        int(_pick(logits, GenerationOptions(temperature=1e-300), torch.Generator().manual_seed(s))) for s in range(40)
    }
    assert picked == {0, 1}


def test_tiny_temperatures_generate_the_greedy_text(hub: Hub, registry, tiny_gpt2) -> None:
    publish_adapter(registry, tiny_gpt2, "poet", task="generate")
    greedy = hub.predict(["the sea", "a poem"], adapter="poet", max_new_tokens=8)
    for temperature in (1e-300, 1e-30):
        sampled = hub.predict(["the sea", "a poem"], adapter="poet", max_new_tokens=8, temperature=temperature)
        assert [s.text for s in sampled] == [g.text for g in greedy]


@pytest.mark.parametrize("temperature", [float("nan"), float("inf")])
def test_a_temperature_that_is_not_a_finite_non_negative_number_is_refused(temperature: float) -> None:
    with pytest.raises(ConfigError, match="temperature must be a finite number >= 0"):
        GenerationOptions(temperature=temperature)

"""``--method prefix`` on the model families: refused at once, from the base's config, where the model takes no
key/value cache; elsewhere trained with the shape the base caches, so that PEFT loads the published adapter and the
Hub serves what PEFT computes."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from adapterhub import ConfigError, Registry, train
from adapterhub.inference import Hub
from adapterhub.methods.prefix import NO_PREFIX
from tests.families import ENCODERS
from tests.inference.helpers import peft_greedy, prompt_ids

REFUSED = tuple(name for name in ENCODERS if name in NO_PREFIX)


@pytest.mark.parametrize("family", REFUSED)
def test_prefix_training_is_refused_from_the_config_before_any_weight_loads(
    family: str, family_base: Callable[[str], Path], sentiment_csv: Path, tmp_path: Path
) -> None:
    """The base folder holds only its config.json: a refusal that needed the weights would fail otherwise."""
    base = tmp_path / family
    base.mkdir()
    shutil.copy(family_base(family) / "config.json", base / "config.json")
    start = time.monotonic()
    with pytest.raises(ConfigError) as refused:
        train(task="sentiment", method="prefix", base=str(base), data=str(sentiment_csv), epochs=1)
    assert time.monotonic() - start < 5
    assert str(refused.value) == (
        f"--method prefix does not work on {NO_PREFIX[family]} bases (model_type {family}): their attention takes "
        "no key/value cache, so a prefix has nowhere to go; use --method lora (or --method head)"
    )
    assert not Registry().root.exists() or not Registry().list()


@pytest.mark.parametrize("family", ["falcon", "gemma2", "qwen3"])
def test_a_trained_decoder_prefix_loads_in_peft_and_the_hub_serves_what_peft_generates(
    family: str, family_base: Callable[[str], Path], instructions_jsonl: Path
) -> None:
    """Falcon's multi-query cache (1 key/value head), Gemma 2's sliding layers and head size, Qwen3's head size."""
    from peft import PeftModel

    base = family_base(family)
    result = train(
        task="generate", method="prefix", base=str(base), data=str(instructions_jsonl), epochs=1, batch_size=4,
        lr=1e-2, max_length=48, prefix_tokens=4,
    )  # fmt: skip
    peft = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), str(result.record.path)).eval()
    tokenizer = AutoTokenizer.from_pretrained(base)
    prompt = "write a short poem about the sea"
    expected = peft_greedy(peft, prompt_ids(tokenizer, prompt), 5, tokenizer.eos_token_id)
    served = Hub(Registry(), device="cpu").predict(prompt, adapter=result.record.ref, max_new_tokens=5)
    assert (served.text, served.tokens) == (tokenizer.decode(expected, skip_special_tokens=True), len(expected))


def test_a_decoder_classifier_trains_with_a_prefix(family_base: Callable[[str], Path], sentiment_csv: Path) -> None:
    """Last-token pooling under a prefix: PEFT's prefix mask columns are floats, the pooled index stays an int."""
    result = train(
        task="sentiment", method="prefix", base=str(family_base("llama")), data=str(sentiment_csv), epochs=1,
        batch_size=8, max_length=32, prefix_tokens=4,
    )  # fmt: skip
    assert result.record.card.method == "prefix"
    assert Hub(Registry(), device="cpu").predict("a fine day", adapter=result.record.ref).label in (
        "negative",
        "positive",
    )

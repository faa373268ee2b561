from pathlib import Path

import torch

from adapterhub.base import DEFAULT_BASE, canonical_weights, fingerprint, load_base, resolve_base


def test_fingerprint_ignores_the_task_head_and_peft_wrapping(tiny_bert: Path) -> None:
    from peft import LoraConfig, get_peft_model

    body = load_base(str(tiny_bert))
    classifier = load_base(str(tiny_bert), "SEQ_CLS", num_labels=3)
    tagger = load_base(str(tiny_bert), "TOKEN_CLS", num_labels=5)
    wrapped = get_peft_model(
        load_base(str(tiny_bert), "SEQ_CLS", 2),
        LoraConfig(task_type="SEQ_CLS", target_modules=["query", "value"], init_lora_weights=False),
    )
    prints = {fingerprint(m) for m in (body, classifier, tagger, wrapped)}
    assert len(prints) == 1 and next(iter(prints)).startswith("sha256:")
    assert set(canonical_weights(wrapped)) == set(canonical_weights(body))


def test_fingerprint_tells_weights_apart(tiny_bert: Path, other_tiny_bert: Path) -> None:
    model = load_base(str(tiny_bert))
    assert fingerprint(model) != fingerprint(load_base(str(other_tiny_bert)))
    lowered = load_base(str(tiny_bert)).to(torch.bfloat16)  # rounding changes the values
    assert fingerprint(lowered) != fingerprint(model)
    assert fingerprint(lowered) == fingerprint(lowered.to(torch.float32))  # same values, other dtype
    with torch.no_grad():
        next(iter(model.parameters()))[0, 0] += 1e-6
    assert fingerprint(model) != fingerprint(load_base(str(tiny_bert)))


def test_the_embedded_default_base_resolves_offline() -> None:
    location = Path(resolve_base(DEFAULT_BASE))
    assert (location / "model.safetensors").is_file() and (location / "config.json").is_file()
    assert resolve_base(None) == str(location)

"""``attach``: the docs' recipe (docs/registry.md) puts every adapter ``hub train`` makes on its base and gives the
Hub's outputs; whatever PEFT cannot load is refused as ``IncompatibleAdapter`` in one line naming the adapter."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoTokenizer

from adapterhub import Registry, train
from adapterhub.base import load_base
from adapterhub.errors import IncompatibleAdapter
from adapterhub.export.attach import attach, load_base_for
from adapterhub.inference import Hub
from adapterhub.tasks.generate import TEMPLATE
from tests.training.conftest import write_classification, write_conll, write_instructions

PAGE = Path(__file__).resolve().parents[2] / "docs" / "registry.md"  # the docs page that holds the recipe
TEXTS = ["great film here", "an awful meal", "a fine day, it was not"]
WORDS = ["anna", "smith", "went", "to", "paris"]


def docs_recipe(registry: Path, ref: str) -> dict[str, Any]:
    """Run the docs' attach block with the test's registry and adapter in place of its examples."""
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    (code,) = [b for b in blocks if "load_base_for(" in b]
    assert code.count('Registry("registry")') == 1 and code.count('"sentiment@2"') == 1
    code = code.replace('Registry("registry")', f"Registry({str(registry)!r})").replace('"sentiment@2"', repr(ref))
    scope: dict[str, Any] = {}
    exec(compile(code, str(PAGE), "exec"), scope)
    return scope


def _train(task: str, method: str, base: Path, tmp_path: Path) -> str:
    if task == "generate":
        data = write_instructions(tmp_path / "g.jsonl")
        settings: dict[str, Any] = dict(epochs=2, batch_size=4, lr=1e-2, max_length=64)
    else:
        data = write_conll(tmp_path / "n.conll") if task == "ner" else write_classification(tmp_path / "s.csv")
        settings = dict(epochs=2, batch_size=8, lr=1e-2, max_length=32)
    return train(task=task, method=method, base=str(base), data=str(data), **settings).record.ref


@pytest.mark.parametrize(("task", "method"), [("sentiment", "lora"), ("sentiment", "prefix"), ("ner", "lora")])
def test_the_docs_recipe_attaches_a_trained_classifier(
    task: str, method: str, tiny_bert: Path, registry_dir: Path, tmp_path: Path
) -> None:
    ref = _train(task, method, tiny_bert, tmp_path)
    model = docs_recipe(registry_dir, ref)["model"]
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    hub = Hub(Registry(), device="cpu")
    if task == "ner":
        enc = tokenizer(WORDS, is_split_into_words=True, return_tensors="pt", return_token_type_ids=False)
        with torch.no_grad():
            best = model(**enc).logits[0].argmax(-1).tolist()
        labels = hub.registry.get(ref).card.labels
        tags = [labels[best[enc.word_ids().index(i)]] for i in range(len(WORDS))]
        assert tags == list(hub.predict([WORDS], ref, split_into_words=True)[0].tags)
        return
    for text, result in zip(TEXTS, hub.predict(TEXTS, ref), strict=True):
        enc = tokenizer(text, return_tensors="pt", return_token_type_ids=False)
        with torch.no_grad():
            probs = torch.softmax(model(**enc).logits, -1)[0]
        torch.testing.assert_close(probs, torch.tensor(list(result.scores.values())), rtol=1e-4, atol=1e-5)


def test_the_docs_recipe_attaches_a_trained_generator(tiny_gpt2: Path, registry_dir: Path, tmp_path: Path) -> None:
    ref = _train("generate", "lora", tiny_gpt2, tmp_path)
    model = docs_recipe(registry_dir, ref)["model"]
    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2)
    ids = tokenizer(TEMPLATE.format(prompt="a poem"), return_tensors="pt")["input_ids"]
    ids = torch.cat([torch.tensor([[tokenizer.bos_token_id]]), ids], 1)
    out = model.generate(input_ids=ids, max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    text = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    assert text == Hub(Registry(), device="cpu").predict("a poem", ref, max_new_tokens=8).text


@pytest.mark.parametrize("method", ["lora", "prefix", "head"])
def test_a_trained_classifier_on_a_transformers_head_is_refused_in_one_line(
    method: str, tiny_bert: Path, tmp_path: Path
) -> None:
    ref = _train("sentiment", method, tiny_bert, tmp_path)
    loaded = Registry().load(ref)
    with pytest.raises(IncompatibleAdapter) as caught:
        attach(load_base(str(tiny_bert), "SEQ_CLS", num_labels=2), loaded)
    message = str(caught.value)
    assert message.startswith(f"{ref} is a sentiment adapter saved on adapterhub's task model")
    assert "not on a BertForSequenceClassification" in message and "load_base_for" in message
    assert "\n" not in message


def test_what_peft_cannot_load_is_an_incompatible_adapter(tiny_gpt2: Path, tmp_path: Path) -> None:
    ref = _train("generate", "lora", tiny_gpt2, tmp_path)
    loaded = Registry().load(ref)
    cases = {
        "no_targets": (
            replace(loaded, config={**loaded.config, "target_modules": ["q_proj"]}),
            "Target modules {'q_proj'} not found",
        ),
        "unknown_type": (replace(loaded, config={**loaded.config, "peft_type": "NOPE"}), "KeyError"),
        "bad_key": (
            replace(loaded, tensors={k.replace("c_attn", "c_atn"): v for k, v in loaded.tensors.items()}),
            "missing key(s)",
        ),
    }
    for loaded_case, text in cases.values():
        with pytest.raises(IncompatibleAdapter) as caught:
            attach(load_base_for(loaded_case), loaded_case)
        assert str(caught.value).startswith(f"{ref} ") and text in str(caught.value)
        assert "\n" not in str(caught.value)

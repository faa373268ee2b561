"""``export_merged``: the standalone model plain transformers loads gives what the adapter gives through the Hub."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForTokenClassification, AutoTokenizer

from adapterhub.errors import ConfigError, RegistryConflict
from adapterhub.export.merged import export_merged
from adapterhub.inference import Hub
from adapterhub.inference.resident import ResidentAdapter
from adapterhub.registry import Registry
from adapterhub.tasks.generate import TEMPLATE
from tests.inference.helpers import publish_adapter

TEXTS = ["hello there world", "a fine day", "it was not good at all, sadly"]


@pytest.mark.parametrize("method", ["lora", "head"])
def test_sequence_classifier_readme_code_gives_the_hub_probabilities(
    registry: Registry, mean_pooled_bert: Path, tmp_path: Path, method: str
) -> None:
    publish_adapter(registry, mean_pooled_bert, "sentiment", method=method)
    out = tmp_path / "merged"
    export_merged("sentiment", out, registry=registry)

    assert json.loads((out / "classifier.json").read_text()) == {"labels": ["negative", "positive"], "pooling": "mean"}
    code = re.search(r"```python\n(.*?)```", (out / "README.md").read_text(), re.S).group(1)
    code = code.replace('["a fine film"]', "TEXTS")
    scope = {"DIR": str(out), "TEXTS": TEXTS}
    exec(code, scope)  # the snippet users are given, run as written
    want = [list(r.scores.values()) for r in Hub(registry, device="cpu").predict(TEXTS, "sentiment")]
    torch.testing.assert_close(scope["probs"], torch.tensor(want), rtol=1e-4, atol=1e-5)
    assert not list(out.glob("*.bin")) and (out / "model.safetensors").is_file()


def test_the_pooling_on_the_card_is_what_the_hub_and_the_export_use(
    registry: Registry, mean_pooled_bert: Path, tmp_path: Path
) -> None:
    """A classifier trained with first-token pooling on a base that mean-pools runs as it was trained."""
    publish_adapter(registry, mean_pooled_bert, "sentiment", pooling="cls")
    export_merged("sentiment", tmp_path / "merged", registry=registry)

    assert json.loads((tmp_path / "merged" / "classifier.json").read_text())["pooling"] == "cls"
    code = re.search(r"```python\n(.*?)```", (tmp_path / "merged" / "README.md").read_text(), re.S).group(1)
    scope = {"DIR": str(tmp_path / "merged"), "TEXTS": TEXTS}
    exec(code.replace('["a fine film"]', "TEXTS"), scope)
    want = [list(r.scores.values()) for r in Hub(registry, device="cpu").predict(TEXTS, "sentiment")]
    torch.testing.assert_close(scope["probs"], torch.tensor(want), rtol=1e-4, atol=1e-5)
    mean = scope["states"].mean(1)  # what the base's own pooling would have given: not what was trained
    assert not torch.allclose(scope["features"], mean, atol=1e-3)


def test_a_card_that_records_no_max_length_is_cut_alike_by_the_hub_and_the_export(
    registry: Registry, tiny_bert: Path, tmp_path: Path
) -> None:
    """An imported adapter's card (before format 3) recorded no max_length: one default, not 512 here, 128 there."""
    record, _ = publish_adapter(registry, tiny_bert, "imported")
    path = record.path / "card.json"
    card = json.loads(path.read_text())
    card.pop("inference", None)
    card["hyperparameters"].pop("max_length")
    path.write_text(json.dumps({**card, "format": 2}))
    registry.reindex()

    export_merged("imported", tmp_path / "merged", registry=registry)
    shown = int(re.search(r"max_length=(\d+)", (tmp_path / "merged" / "README.md").read_text()).group(1))
    assert shown == ResidentAdapter(record=registry.get("imported")).max_length == 512


def test_ner_is_a_plain_token_classification_model(registry: Registry, tiny_bert: Path, tmp_path: Path) -> None:
    publish_adapter(registry, tiny_bert, "ner", task="ner")
    export_merged("ner", tmp_path / "merged", registry=registry)
    model = AutoModelForTokenClassification.from_pretrained(tmp_path / "merged").eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "merged")
    words = ["anna", "went", "to", "paris", ",", "then", "rome"]
    enc = tokenizer(words, is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        best = model(**enc).logits[0].argmax(-1).tolist()
    firsts = [enc.word_ids().index(i) for i in range(len(words))]
    tags = [model.config.id2label[best[p]] for p in firsts]
    assert tags == list(Hub(registry, device="cpu").predict([words], "ner", split_into_words=True)[0].tags)


def test_generation_is_a_plain_causal_lm(registry: Registry, tiny_gpt2: Path, tmp_path: Path) -> None:
    publish_adapter(registry, tiny_gpt2, "poet", task="generate")
    export_merged("poet", tmp_path / "merged", registry=registry)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "merged").eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "merged")
    ids = tokenizer(TEMPLATE.format(prompt="write a poem"), return_tensors="pt")["input_ids"]
    ids = torch.cat([torch.tensor([[tokenizer.bos_token_id]]), ids], 1)
    out = model.generate(ids, max_new_tokens=6, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    text = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    assert text == Hub(registry, device="cpu").predict("write a poem", "poet", max_new_tokens=6).text


def test_refusals(registry: Registry, tiny_bert: Path, tmp_path: Path) -> None:
    publish_adapter(registry, tiny_bert, "p", method="prefix")
    publish_adapter(registry, tiny_bert, "a")
    with pytest.raises(ConfigError, match=r"prefix-tuning adapter.*cannot be folded"):
        export_merged("p", tmp_path / "x", registry=registry)
    assert not (tmp_path / "x").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(RegistryConflict, match="not empty"):
        export_merged("a", tmp_path / "full", registry=registry)
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]


def test_progress_reports_each_step(registry: Registry, tiny_bert: Path, tmp_path: Path) -> None:
    publish_adapter(registry, tiny_bert, "a")
    events: list[tuple[str, dict]] = []
    export_merged(
        "a", tmp_path / "merged", registry=registry, report=lambda event, values: events.append((event, values))
    )
    assert {event for event, _ in events} == {"progress"}
    assert [(v["done"], v["total"]) for _, v in events] == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert [v["step"] for _, v in events] == ["reading the adapter", "loading the base", "merging", "writing", "done"]
    assert {v["what"] for _, v in events} == {"a"}

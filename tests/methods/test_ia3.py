"""(IA)³, the method added in one file: it trains (Python and ``hub train``), publishes, serves alone and in a
batch with LoRA, prefix and head adapters (as PEFT computes it), exports to plain PEFT, and shows in the CLI."""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from adapterhub import Registry, train
from adapterhub.base import fingerprint
from adapterhub.errors import ConfigError, IncompatibleAdapter
from adapterhub.export.peft import export_adapter
from adapterhub.inference import Classification, Hub
from adapterhub.methods import METHODS
from adapterhub.methods.ia3 import TARGETS, IA3Settings, ia3_targets
from adapterhub.registry import BaseInfo, Card, DataInfo, InferenceSettings
from adapterhub.tasks import get_task
from adapterhub.tasks.generate import TEMPLATE
from adapterhub.training import TrainConfig
from tests.families import ALL_FAMILIES
from tests.inference.helpers import SENTIMENT, TAGS, peft_greedy, prompt_ids, publish_adapter
from tests.training.conftest import write_classification, write_conll, write_instructions

FAST = dict(epochs=2, batch_size=8, lr=1e-2, max_length=32)
TEXTS = ["hello there world", "a fine day", "it was not good at all, sadly"]


def publish_ia3(registry: Registry, base_dir: Path, name: str, *, task: str = "sentiment", seed: int = 0) -> Any:
    """Publish an IA3 adapter with random vectors around 1 (a fresh one is all ones: the identity); returns the
    PEFT model it was saved from."""
    from peft import get_peft_model

    preset = get_task(task)
    labels = TAGS if task == "ner" else () if task == "generate" else SENTIMENT
    model = preset.build_model(str(base_dir), labels, 0.0)
    base_print = fingerprint(model)
    model = get_peft_model(model, IA3Settings().peft_config(preset.task_type, model))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for pname, param in model.named_parameters():
            if param.requires_grad:
                noise = torch.randn(param.shape, generator=generator)
                param.copy_(1 + 0.5 * noise if "ia3_l" in pname else 0.3 * noise)
    model.eval()
    card = Card(
        task=task,
        task_type=preset.task_type,
        method="ia3",
        base=BaseInfo(id=str(base_dir), fingerprint=base_print),
        labels=labels,
        method_config=IA3Settings().card(model.get_base_model()),
        inference=InferenceSettings(max_length=64, prompt_template=TEMPLATE if task == "generate" else None),
        data=DataInfo(description="random weights"),
    )
    with tempfile.TemporaryDirectory() as out:
        model.save_pretrained(out, save_embedding_layers=False)
        registry.publish(name, out, card)
    return model


# ------------------------------------------------------------------------------------------------ targets


@pytest.mark.parametrize("family", list(ALL_FAMILIES))
def test_every_family_rescales_its_keys_values_and_feed_forward(
    family: str, family_base: Callable[[str], Path]
) -> None:
    from peft import get_peft_model
    from transformers import AutoModel

    model = AutoModel.from_pretrained(family_base(family))
    targets, feedforward = ia3_targets(model.config.model_type)
    assert model.config.model_type in TARGETS and set(feedforward) <= set(targets)
    adapted = get_peft_model(model, IA3Settings().peft_config("FEATURE_EXTRACTION", model))
    layers = {name for name, m in adapted.named_modules() if hasattr(m, "ia3_l")}
    for target in targets:  # every target names a layer the family has
        assert any(n.endswith(target) for n in layers), (family, target)
    if feedforward:  # the feed-forward layers rescale their inputs
        assert any(m.is_feedforward for n, m in adapted.named_modules() if hasattr(m, "ia3_l"))
    with torch.no_grad():  # a fresh adapter is the identity
        ids = torch.tensor([[1, 2, 3, 4]])
        with adapted.disable_adapter():
            bare = adapted(input_ids=ids).last_hidden_state
        torch.testing.assert_close(adapted(input_ids=ids).last_hidden_state, bare)


def test_an_architecture_without_targets_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^--method ia3 knows no layers to rescale in .*; use --method lora$"):
        ia3_targets("no-such-architecture")
    folder = tmp_path / "base"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    with pytest.raises(ConfigError, match=r"use --method lora; drop ia3 from --methods$"):
        METHODS["ia3"].check_base(str(folder), "drop ia3 from --methods")


# ----------------------------------------------------------------------------------------------- training


@pytest.mark.parametrize("task", ["sentiment", "classify", "ner"])
def test_trains_and_publishes_on_an_encoder(task: str, tiny_bert: Path, tmp_path: Path) -> None:
    data = {
        "sentiment": lambda: write_classification(tmp_path / "s.csv"),
        "classify": lambda: write_classification(tmp_path / "c.csv", n=60, labels=("negative", "neutral", "positive")),
        "ner": lambda: write_conll(tmp_path / "n.conll"),
    }[task]()
    result = train(TrainConfig(task=task, method="ia3", base=str(tiny_bert), data=str(data), **FAST))
    card = result.record.card
    assert (card.method, card.task) == ("ia3", task)
    assert card.method_config == {
        "target_modules": ["key", "output.dense", "value"],
        "feedforward_modules": ["output.dense"],
    }
    assert card.hyperparameters["lr"] == 1e-2 and len(result.fit.history) == 2
    loaded = Registry().load(result.record.ref)
    assert loaded.config["peft_type"] == "IA3"
    vectors = [t for k, t in loaded.tensors.items() if k.endswith("ia3_l")]
    assert len(vectors) == 8 and any(not torch.all(t == 1) for t in vectors)  # 4 layers a block, trained
    assert TrainConfig(method="ia3").learning_rate == METHODS["ia3"].default_lr


def test_trains_a_causal_lm_and_serves_what_it_trained(tiny_gpt2: Path, tmp_path: Path) -> None:
    data = write_instructions(tmp_path / "g.jsonl")
    settings = dict(epochs=3, batch_size=4, lr=3e-2, max_length=64)
    result = train(task="generate", method="ia3", base=str(tiny_gpt2), data=str(data), **settings)
    card = result.record.card
    assert (card.task_type, card.method, card.headline_metric) == ("CAUSAL_LM", "ia3", "perplexity")
    assert card.metrics["perplexity"] <= result.fit.history[0]["perplexity"]
    generation = Hub(Registry(), device="cpu").predict("write a short poem", result.record.ref, max_new_tokens=4)
    assert generation.adapter == result.record.ref and generation.tokens > 0


def test_hub_train_method_ia3_and_the_help_of_train_and_tune(
    tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from adapterhub.cli import main

    def hub(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["hub", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    data = write_classification(tmp_path / "reviews.csv")
    code, out, err = hub(
        "train", "--method", "ia3", "--base", str(tiny_bert), "--data", str(data), "--epochs", "1", "--name", "ia"
    )
    assert code == 0, err
    assert out.startswith("published ia@1: accuracy ")
    assert json.loads(hub("show", "ia")[1])["method"] == "ia3"
    for command in ("train", "tune"):
        code, out, _ = hub(command, "-h")
        assert code == 0 and "ia3" in " ".join(out.split()), command
    code, _, err = hub("tune", "--base", str(tiny_bert), "--data", str(data), "--methods", "lora,bogus")
    assert code == 2 and err.startswith("error: --methods takes some of lora, prefix, head, ia3")


def test_tune_searches_ia3() -> None:
    import optuna

    from adapterhub.tuning import TuneSettings, suggest

    assert TuneSettings(methods=("lora", "ia3")).methods == ("lora", "ia3")
    params = suggest(optuna.trial.FixedTrial({"method": "ia3", "ia3_lr": 0.01, "warmup_ratio": 0.1}), ["lora", "ia3"])
    assert params == {"method": "ia3", "lr": 0.01, "warmup_ratio": 0.1}
    TrainConfig().merged(name="trial-0", **params)  # what a trial trains with


# ------------------------------------------------------------------------------------------------ serving


def test_classification_equals_peft(registry: Registry, tiny_bert: Path) -> None:
    from transformers import AutoTokenizer

    model = publish_ia3(registry, tiny_bert, "ia")
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    results = Hub(registry, device="cpu").predict(TEXTS, adapter="ia")
    with torch.no_grad():
        base_probs = []
        for text in TEXTS:
            base_probs.append(torch.softmax(model(**tokenizer(text, return_tensors="pt")).logits, -1)[0])
            with model.disable_adapter():
                unscaled = torch.softmax(model(**tokenizer(text, return_tensors="pt")).logits, -1)[0]
            assert not torch.allclose(unscaled, base_probs[-1], atol=1e-3)  # the vectors change the answer
    for result, expected in zip(results, base_probs, strict=True):
        assert isinstance(result, Classification) and result.adapter == "ia@1"
        torch.testing.assert_close(torch.tensor(list(result.scores.values())), expected, rtol=1e-5, atol=1e-6)


def test_generation_equals_peft_greedy(registry: Registry, tiny_gpt2: Path) -> None:
    from transformers import AutoTokenizer

    model = publish_ia3(registry, tiny_gpt2, "poet", task="generate")
    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2)
    result = Hub(registry, device="cpu").predict("write a short poem", adapter="poet", max_new_tokens=6)
    expected = peft_greedy(model, prompt_ids(tokenizer, "write a short poem"), 6, tokenizer.eos_token_id)
    assert result.tokens == len(expected)
    assert result.text == tokenizer.decode(expected, skip_special_tokens=True)


def test_a_mixed_batch_with_lora_prefix_and_head_equals_each_alone(registry: Registry, tiny_bert: Path) -> None:
    publish_ia3(registry, tiny_bert, "ia-a", seed=1)
    publish_ia3(registry, tiny_bert, "ia-b", seed=2)
    publish_ia3(registry, tiny_bert, "ia-tags", task="ner", seed=3)
    publish_adapter(registry, tiny_bert, "lora-a", seed=4)
    publish_adapter(registry, tiny_bert, "lora-b", seed=5, targets=("key", "value", "dense"))  # the same layers
    publish_adapter(registry, tiny_bert, "prefix", method="prefix", seed=6)
    publish_adapter(registry, tiny_bert, "head", method="head", seed=7)
    names = ["ia-a", "lora-a", "ia-b", "lora-b", "ia-tags", "prefix", "head"]
    texts = [f"{word} example number {i}" for i, word in enumerate("abcdefghijklmnopqrstu")]
    adapters = [names[i % len(names)] for i in range(len(texts))]
    hub = Hub(registry, device="cpu")
    mixed = hub.predict(texts, adapter=adapters, batch_size=8)
    alone = [hub.predict(text, adapter=name) for text, name in zip(texts, adapters, strict=True)]
    for m, a, name in zip(mixed, alone, adapters, strict=True):
        assert m.adapter == a.adapter == f"{name}@1"
        if isinstance(m, Classification):
            torch.testing.assert_close(list(m.scores.values()), list(a.scores.values()), rtol=1e-4, atol=1e-5)
        else:
            assert m.tags == a.tags and m.words == a.words


def test_mixed_generation_with_lora_equals_each_alone(registry: Registry, tiny_gpt2: Path) -> None:
    publish_ia3(registry, tiny_gpt2, "i1", task="generate", seed=1)
    publish_adapter(registry, tiny_gpt2, "g1", task="generate", seed=2)
    publish_adapter(registry, tiny_gpt2, "p1", task="generate", method="prefix", seed=3)
    prompts = ["the sea", "write a short poem about the sea", "blue", "a poem", "waves"]
    adapters = ["i1", "g1", "i1", "p1", "g1"]
    hub = Hub(registry, device="cpu")
    mixed = hub.predict(prompts, adapter=adapters, max_new_tokens=5)
    alone = [hub.predict(p, adapter=a, max_new_tokens=5) for p, a in zip(prompts, adapters, strict=True)]
    assert [m.text for m in mixed] == [a.text for a in alone]
    hub.unload("i1")  # released: no hook of it stays on the base
    assert all(host.router.edits.hooked == 0 for host in hub._hosts.values())


def test_an_adapter_for_another_base_is_refused(registry: Registry, tiny_bert: Path, tmp_path: Path) -> None:
    from tests.tiny import save_tiny_bert

    publish_ia3(registry, tiny_bert, "ia")
    from adapterhub.inference.host import ENCODER, Host
    from adapterhub.inference.resident import parse_adapter

    deeper = save_tiny_bert(tmp_path / "deeper", seed=0, layers=3)
    host = Host(str(deeper), ENCODER, torch.device("cpu"))
    with pytest.raises(IncompatibleAdapter, match=r"^ia@1 does not match this base's modules: 4 missing key\(s\)"):
        parse_adapter(registry.load("ia@1"), host.root, device=host.device, dtype=host.dtype)


# ------------------------------------------------------------------------------- registry, export, merging


def test_validation_knows_ia3_files(registry: Registry, tiny_bert: Path, tmp_path: Path) -> None:
    from adapterhub.registry.files import safetensors_header
    from adapterhub.registry.validation import file_problems

    publish_ia3(registry, tiny_bert, "ia")
    record = registry.get("ia@1")
    config = json.loads((record.path / "adapter_config.json").read_text())
    header = safetensors_header(record.path / "adapter_model.safetensors")
    assert file_problems(record.card, config, header) == []
    lora_card = dataclasses.replace(record.card, method="lora")
    assert file_problems(lora_card, config, header)[0] == (
        "the card's method lora is a LORA adapter, but adapter_config.json has IA3"
    )
    some = {k: v for k, v in header.items() if "layer.1.attention.self.key" not in k}
    assert "target module(s)" not in " ".join(file_problems(record.card, config, some))  # layer 0 still has one
    none = {k: v for k, v in header.items() if ".key." not in k}
    assert "target module(s) ['key'] have no ia3_l vectors" in file_problems(record.card, config, none)


def test_exports_to_plain_peft_with_the_hubs_outputs(tiny_bert: Path, tiny_gpt2: Path, tmp_path: Path) -> None:
    from tests.export.test_peft import compare_with_hub, readme_parts, run_readme_code

    sentiment = train(method="ia3", base=str(tiny_bert), data=str(write_classification(tmp_path / "s.csv")), **FAST)
    data = write_instructions(tmp_path / "g.jsonl")
    poet = train(
        task="generate", method="ia3", base=str(tiny_gpt2), data=str(data), epochs=2, batch_size=4, max_length=64
    )
    registry = Registry()
    for record, task, kind in ((sentiment.record, "sentiment", "sequence"), (poet.record, "generate", "generate")):
        out = tmp_path / f"export-{task}"
        export_adapter(registry, record.ref, out)
        front, code = readme_parts(out)
        assert "PeftModel.from_pretrained" in code and {"adapterhub", "ia3"} <= set(front["tags"])
        assert json.loads((out / "adapter_config.json").read_text())["peft_type"] == "IA3"
        compare_with_hub(registry, record.ref, task, run_readme_code(code, kind))


def test_merging_refuses_ia3_by_name_of_what_it_combines(registry: Registry, tiny_bert: Path) -> None:
    from adapterhub.merging import merge

    publish_ia3(registry, tiny_bert, "ia")
    publish_adapter(registry, tiny_bert, "lo")
    with pytest.raises(ConfigError, match=r"^ia@1 is a \(IA\)³ adapter; merging combines LoRA updates \(lora and head"):
        merge(["lo", "ia"], "both", registry=registry)


def test_vllm_refuses_ia3(registry: Registry, tiny_gpt2: Path, tmp_path: Path) -> None:
    from adapterhub.export.vllm import export_for_vllm

    publish_ia3(registry, tiny_gpt2, "poet", task="generate")
    with pytest.raises(ConfigError, match=r"^poet@1 is a generate ia3 adapter; vLLM serves LoRA"):
        export_for_vllm(["poet"], tmp_path / "vllm", registry=registry)


def test_a_merged_export_folds_the_vectors_into_a_plain_causal_lm(
    registry: Registry, tiny_gpt2: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from adapterhub.export.merged import export_merged

    publish_ia3(registry, tiny_gpt2, "poet", task="generate")
    export_merged("poet", tmp_path / "merged", registry=registry)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "merged").eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "merged")
    ids = tokenizer(TEMPLATE.format(prompt="write a poem"), return_tensors="pt")["input_ids"]
    ids = torch.cat([torch.tensor([[tokenizer.bos_token_id]]), ids], 1)
    out = model.generate(ids, max_new_tokens=6, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    text = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    assert text == Hub(registry, device="cpu").predict("write a poem", "poet", max_new_tokens=6).text

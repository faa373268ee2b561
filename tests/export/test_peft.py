"""``hub export NAME DIR``: a user with transformers and PEFT alone runs the folder's README code and gets the Hub's
outputs (probabilities to 1e-4, the same tags, the same greedy tokens), for every task and method ``hub train``
makes; the README is a Hugging Face model card."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from adapterhub import Registry, train
from adapterhub.base import DEFAULT_BASE, resolve_base
from adapterhub.export.peft import export_adapter
from adapterhub.inference import Hub
from tests.training.conftest import write_classification, write_conll, write_instructions

FAST = dict(epochs=2, batch_size=8, lr=1e-2, max_length=32)
TEXTS = ["great film here", "an awful meal", "a fine day, it was not"]
WORDS = ["anna", "smith", "went", "to", "paris", "city", "good"]
PROMPT = "write a short poem about the sea"
# the one line of each README block a user puts their inputs on
INPUT_LINES = {
    "sequence": ('texts = ["a fine film", "a dull film"]', f"texts = {TEXTS!r}"),
    "token": ('words = ["Anna", "flew", "to", "Paris"]', f"words = {WORDS!r}"),
    "generate": ('prompt = "write a short poem about the sea"', f"prompt = {PROMPT!r}"),
}
# huggingface_hub comes with transformers; a Hub export reads its head through it
PLAIN_LIBRARIES = {"json", "torch", "peft", "safetensors.torch", "transformers", "huggingface_hub"}
PIPELINES = {"sentiment": "text-classification", "classify": "text-classification", "ner": "token-classification"}
CASES = [
    ("sentiment", "lora"),
    ("sentiment", "prefix"),
    ("sentiment", "head"),
    ("classify", "lora"),
    ("ner", "lora"),
    ("ner", "prefix"),
    ("ner", "head"),
    ("generate", "lora"),
    ("generate", "prefix"),
]


def readme_parts(folder: Path) -> tuple[dict[str, Any], str]:
    """The README's YAML front matter and its Python block."""
    text = (folder / "README.md").read_text()
    match = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert match, text[:200]
    code = re.search(r"```python\n(.*?)```", text, re.S)
    assert code, text
    return yaml.safe_load(match.group(1)), code.group(1)


def run_readme_code(
    code: str, kind: str, base: str | None = None, inputs: tuple[str, str] | None = None
) -> dict[str, Any]:
    """Run the block as a user would: inputs on their line (``inputs``: the README's line and the one to put
    there instead), ``BASE`` moved only when asked; it may import nothing but transformers, PEFT, torch,
    safetensors and json."""
    imported = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported <= PLAIN_LIBRARIES, imported
    placeholder, given = inputs or INPUT_LINES[kind]
    assert code.count(placeholder) == 1, code
    code = code.replace(placeholder, given)
    if base is not None:
        code, n = re.subn(r"^BASE = .*$", f"BASE = {base!r}", code, flags=re.M)
        assert n == 1
    scope: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), scope)
    return scope


def compare_with_hub(registry: Registry, ref: str, task: str, scope: dict[str, Any]) -> None:
    hub = Hub(registry, device="cpu")
    if task == "ner":
        assert scope["tags"] == list(hub.predict([WORDS], ref, split_into_words=True)[0].tags)
    elif task == "generate":
        assert scope["text"] == hub.predict(PROMPT, ref, max_new_tokens=64).text
    else:
        want = torch.tensor([list(r.scores.values()) for r in hub.predict(TEXTS, ref)])
        torch.testing.assert_close(scope["probs"], want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("task", "method"), CASES)
def test_the_readme_code_of_an_export_predicts_what_the_hub_predicts(
    task: str, method: str, mean_pooled_bert: Path, tiny_bert: Path, tiny_gpt2: Path, tmp_path: Path
) -> None:
    if task == "generate":
        data, base = write_instructions(tmp_path / "g.jsonl"), tiny_gpt2
        settings: dict[str, Any] = dict(epochs=2, batch_size=4, lr=1e-2, max_length=64)
    elif task == "ner":
        data, base, settings = write_conll(tmp_path / "n.conll"), tiny_bert, FAST
    elif task == "classify":  # first-token pooling, three classes
        data = write_classification(tmp_path / "c.csv", n=60, labels=("negative", "neutral", "positive"))
        base, settings = tiny_bert, FAST
    else:  # mean pooling, as sentence-transformers bases
        data, base, settings = write_classification(tmp_path / "s.csv"), mean_pooled_bert, FAST
    record = train(task=task, method=method, base=str(base), data=str(data), **settings).record
    registry = Registry()
    out = tmp_path / "export"
    export_adapter(registry, record.ref, out)

    front, code = readme_parts(out)
    assert front["library_name"] == "peft" and "base_model" not in front  # a local base is no hub id
    assert front["pipeline_tag"] == PIPELINES.get(task, "text-generation")
    assert {"adapterhub", task, method} <= set(front["tags"])
    assert front.get("labels", []) == list(record.card.labels)
    metrics = front["model-index"][0]["results"][0]["metrics"]
    assert {m["type"]: m["value"] for m in metrics} == record.card.metrics
    assert json.loads((out / "card.json").read_text())["name"] == record.name
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == record.card.base.id
    if task == "generate":  # already a plain PEFT folder for AutoModelForCausalLM
        assert config["task_type"] == "CAUSAL_LM" and not (out / "head.safetensors").exists()
        weights = "adapter_model.safetensors"
        assert (out / weights).read_bytes() == (record.path / weights).read_bytes()
    else:  # for the bare base, the head beside it
        assert config["task_type"] == "FEATURE_EXTRACTION" and not config.get("modules_to_save")
        head = json.loads((out / "head.json").read_text())
        assert head["labels"] == list(record.card.labels) and head["max_length"] == 32
        assert head["pooling"] == {"sentiment": "mean", "classify": "cls", "ner": None}[task]

    kind = {"ner": "token", "generate": "generate"}.get(task, "sequence")
    compare_with_hub(registry, record.ref, task, run_readme_code(code, kind))


def test_a_split_export_imports_as_the_adapter_it_came_from(tiny_bert: Path, tmp_path: Path) -> None:
    data = write_classification(tmp_path / "s.csv")
    record = train(task="sentiment", method="lora", base=str(tiny_bert), data=str(data), **FAST).record
    registry = Registry()
    export_adapter(registry, record.ref, tmp_path / "export")
    from adapterhub.export.importing import import_adapter

    copy = import_adapter(registry, tmp_path / "export", "copy")
    assert copy.card.files["adapter_model.safetensors"] == record.card.files["adapter_model.safetensors"]
    assert (copy.card.task, copy.card.task_type, copy.card.labels) == ("sentiment", "SEQ_CLS", record.card.labels)
    hub = Hub(registry, device="cpu")
    assert [r.scores for r in hub.predict(TEXTS, "copy")] == [r.scores for r in hub.predict(TEXTS, record.ref)]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["lora", "prefix"])
def test_an_export_on_the_default_base_names_it_by_hub_id(registry: Registry, tmp_path: Path, method: str) -> None:
    from tests.inference.helpers import publish_adapter

    record, _ = publish_adapter(registry, Path(DEFAULT_BASE), "reviews", method=method)  # type: ignore[arg-type]
    assert record.card.base.id == DEFAULT_BASE
    out = tmp_path / "export"
    export_adapter(registry, "reviews", out)
    front, code = readme_parts(out)
    assert front["base_model"] == DEFAULT_BASE
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == DEFAULT_BASE
    assert json.loads((out / "head.json").read_text())["pooling"] == "mean"
    site = resolve_base(DEFAULT_BASE)
    assert all(site not in (out / f).read_text() for f in ("README.md", "adapter_config.json", "head.json"))
    # offline, the hub id cannot be downloaded: BASE is moved to the embedded copy, as a user may do
    compare_with_hub(registry, "reviews", "sentiment", run_readme_code(code, "sequence", base=site))

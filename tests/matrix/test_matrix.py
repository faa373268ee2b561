"""Every family x method x task: trained by ``adapterhub.train``, served alone and in a mixed batch, equal to
PEFT's own model, and exported (``--merged``; ``--for vllm`` for generators) where that applies.

The cells and the checks are one loop (tests/matrix/cells.py); ``scripts/matrix_table.py`` turns this module's
results into the README's table. Cells in ``TRAIN_REFUSALS`` (prefix tuning on a family whose attention takes no
key/value cache) must be refused by ``hub train`` at once, in one line, publishing nothing; no later check
applies to them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from adapterhub.errors import ConfigError
from adapterhub.export.peft import export_adapter
from adapterhub.inference import Classification, Entities, Generation
from tests.matrix.cells import (
    CELLS,
    EXPORT_REFUSALS,
    MAX_NEW_TOKENS,
    METHODS,
    PROMPTS,
    TEXTS,
    TRAIN_REFUSALS,
    WORDS,
    Cell,
    FamilyRun,
    exported_applies,
    fits,
    inputs_of,
    trains,
    write_data,
)


def cells(check: str, applies: Callable[[Cell], bool] = trains) -> list[Any]:
    """The cells ``check`` applies to, as parameters."""
    return [pytest.param(*cell, id="-".join(cell)) for cell in CELLS if applies(cell)]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, family_base: Callable[[str], Path]) -> Callable[[str], FamilyRun]:
    """``run(family)``: the family's registry and Hub, shared by every check of its cells."""
    data = write_data(tmp_path_factory.mktemp("matrix-data"))
    runs: dict[str, FamilyRun] = {}

    def get(family: str) -> FamilyRun:
        if family not in runs:
            runs[family] = FamilyRun(family, family_base(family), tmp_path_factory.mktemp(f"matrix-{family}"), data)
        return runs[family]

    return get


@pytest.mark.parametrize(("family", "method", "task"), cells("trained", lambda cell: True))
def test_trained(run: Callable[[str], FamilyRun], family: str, method: str, task: str) -> None:
    fam = run(family)
    if (family, method, task) in TRAIN_REFUSALS:
        with pytest.raises(ConfigError) as refused:
            fam.record(method, task)
        assert str(refused.value) == TRAIN_REFUSALS[family, method, task] and "\n" not in str(refused.value)
        assert not (fam.registry.root / f"{task}-{method}").exists()  # nothing published
        return
    record = fam.record(method, task)
    assert (record.card.task, record.card.method) == (task, method) and record.card.hyperparameters["steps"] == 1
    assert {p.name for p in record.path.iterdir()} >= {"adapter_config.json", "adapter_model.safetensors"}


@pytest.mark.parametrize(("family", "method", "task"), cells("served"))
def test_served(run: Callable[[str], FamilyRun], family: str, method: str, task: str) -> None:
    results = run(family).served(method, task)
    record = run(family).record(method, task)
    assert [r.adapter for r in results] == [record.ref] * len(results)
    for given, result in zip(inputs_of(task), results, strict=True):
        if task == "generate":
            assert isinstance(result, Generation) and 0 <= result.tokens <= MAX_NEW_TOKENS
        elif task == "ner":
            assert isinstance(result, Entities) and list(result.words) == given
            assert set(result.tags) <= set(record.card.labels)
        else:
            assert isinstance(result, Classification) and list(result.scores) == list(record.card.labels)
            assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-5)


def partner(family: str, method: str, task: str) -> tuple[str, str]:
    """Another method's adapter on the same base to share a batch with: of the same task where one serves today
    (a word-list batch holds taggers only), else of the family's other task."""
    kind_tasks = ("generate", "classify") if task in ("generate", "classify") else (task,)
    for other_task in (task, *(t for t in kind_tasks if t != task)):
        for other in ("head", "lora", "prefix"):
            if other != method and fits(other, other_task) and trains((family, other, other_task)):
                return other, other_task
    raise AssertionError(f"{family}: no other method serves")


@pytest.mark.parametrize(("family", "method", "task"), cells("mixed"))
def test_mixed(run: Callable[[str], FamilyRun], family: str, method: str, task: str) -> None:
    fam = run(family)
    other, other_task = partner(family, method, task)
    mine, theirs = fam.record(method, task).ref, fam.record(other, other_task).ref
    own, guest = inputs_of(task), inputs_of(other_task)
    inputs = [own[0], guest[0], own[1], guest[1]]
    mixed = fam.predict(inputs, [mine, theirs, mine, theirs], task)
    alone = fam.served(method, task) + fam.served(other, other_task)
    for got, want in zip(mixed, [alone[0], alone[2], alone[1], alone[3]], strict=True):
        assert got.adapter == want.adapter
        if isinstance(want, Classification):
            torch.testing.assert_close(list(got.scores.values()), list(want.scores.values()), rtol=1e-4, atol=1e-5)
        elif isinstance(want, Entities):
            assert got.tags == want.tags
        else:
            assert got.text == want.text


def peft_model(fam: FamilyRun, method: str, task: str) -> Any:
    """PEFT's own model of the cell: its base loaded as training built it, the version folder by PeftModel."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from adapterhub.tasks import get_task

    record = fam.record(method, task)
    if task == "generate":
        base = AutoModelForCausalLM.from_pretrained(fam.base)
    else:
        base = get_task(task).build_model(str(fam.base), record.card.labels, 0.0)
    return PeftModel.from_pretrained(base, record.path).eval()


def greedy_text(model: Any, tokenizer: Any, prompt: str) -> str:
    """The model's greedy continuation of ``prompt`` in the training template, up to the first end of text.

    Each token is the argmax of a full forward pass over everything so far: PEFT's own ``generate`` with a prefix
    adapter gives other tokens than its own forward pass (peft 0.21, transformers 5)."""
    from adapterhub.tasks.generate import TEMPLATE

    ids = tokenizer(TEMPLATE.format(prompt=prompt))["input_ids"]
    ids = (
        [tokenizer.bos_token_id, *ids]
        if tokenizer.bos_token_id is not None and ids[:1] != [tokenizer.bos_token_id]
        else ids
    )
    new: list[int] = []
    for _ in range(MAX_NEW_TOKENS):
        batch = torch.tensor([ids + new])
        with torch.no_grad():
            token = int(model(input_ids=batch, attention_mask=torch.ones_like(batch)).logits[0, -1].argmax())
        if token == tokenizer.eos_token_id:
            break
        new.append(token)
    return tokenizer.decode(new, skip_special_tokens=True)


def first_subtoken_tags(logits: torch.Tensor, word_ids: list[int | None], labels: tuple[str, ...]) -> list[str]:
    best, tags, previous = logits.argmax(-1).tolist(), [], None
    for position, word in enumerate(word_ids):
        if word is not None and word != previous:
            tags.append(labels[best[position]])
        previous = word
    return tags


@pytest.mark.parametrize(("family", "method", "task"), cells("equals PEFT"))
def test_equals_peft(run: Callable[[str], FamilyRun], family: str, method: str, task: str) -> None:
    from transformers import AutoTokenizer

    fam = run(family)
    served = fam.served(method, task)
    model, tokenizer = peft_model(fam, method, task), AutoTokenizer.from_pretrained(fam.base)
    labels = fam.record(method, task).card.labels
    for given, result in zip(inputs_of(task), served, strict=True):
        if task == "generate":
            assert result.text == greedy_text(model, tokenizer, given)
            continue
        enc = tokenizer(given, is_split_into_words=task == "ner", return_tensors="pt")
        with torch.no_grad():
            logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits[0]
        if task == "ner":
            assert list(result.tags) == first_subtoken_tags(logits, enc.word_ids(), labels)
        else:
            want = torch.softmax(logits.float(), -1)
            torch.testing.assert_close(torch.tensor(list(result.scores.values())), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("family", "method", "task"), cells("PEFT export"))
def test_peft_export(run: Callable[[str], FamilyRun], family: str, method: str, task: str, tmp_path: Path) -> None:
    """``hub export NAME DIR``: the folder's own README code, with only transformers and PEFT, gives the Hub's
    probabilities, tags and greedy text."""
    from tests.export.test_peft import INPUT_LINES, readme_parts, run_readme_code

    fam = run(family)
    record = fam.record(method, task)
    export_adapter(fam.registry, record.ref, tmp_path / "peft")
    _, code = readme_parts(tmp_path / "peft")
    kind = {"ner": "token", "generate": "generate"}.get(task, "sequence")
    given = {"token": f"words = {WORDS[0]!r}", "sequence": f"texts = {TEXTS!r}", "generate": f"prompt = {PROMPTS[0]!r}"}
    inputs = (INPUT_LINES[kind][0], given[kind])
    scope = run_readme_code(code, kind, inputs=inputs)
    if task == "generate":
        assert scope["text"] == fam.hub.predict(PROMPTS[0], record.ref, max_new_tokens=64).text
    elif task == "ner":
        assert scope["tags"] == list(fam.served(method, task)[0].tags)
    else:
        want = torch.tensor([list(r.scores.values()) for r in fam.served(method, task)])
        torch.testing.assert_close(scope["probs"], want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("family", "method", "task"), cells("exported", exported_applies))
def test_exported(run: Callable[[str], FamilyRun], family: str, method: str, task: str, tmp_path: Path) -> None:
    """``hub export --merged`` gives a plain transformers model with the Hub's outputs; a generator is also laid
    out for vLLM, loadable by PEFT from there."""
    from transformers import AutoModelForCausalLM, AutoModelForTokenClassification, AutoTokenizer

    from adapterhub.export.merged import export_merged

    fam = run(family)
    record, served = fam.record(method, task), fam.served(method, task)
    out = tmp_path / "merged"
    if (family, method, task) in EXPORT_REFUSALS:
        with pytest.raises(ConfigError) as refused:
            export_merged(record.ref, out, registry=fam.registry)
        assert str(refused.value) == EXPORT_REFUSALS[family, method, task]
        assert not out.exists()
        return
    export_merged(record.ref, out, registry=fam.registry)
    tokenizer = AutoTokenizer.from_pretrained(out)
    if task == "generate":
        model = AutoModelForCausalLM.from_pretrained(out).eval()
        assert [r.text for r in served] == [greedy_text(model, tokenizer, p) for p in PROMPTS]
        _check_vllm_export(fam, record, tmp_path / "vllm")
    elif task == "ner":
        model = AutoModelForTokenClassification.from_pretrained(out).eval()
        for words, result in zip(WORDS, served, strict=True):
            enc = tokenizer(words, is_split_into_words=True, return_tensors="pt")
            with torch.no_grad():
                logits = model(**enc).logits[0]
            assert list(result.tags) == first_subtoken_tags(logits, enc.word_ids(), record.card.labels)
    else:  # the README's own code, run as written
        code = re.search(r"```python\n(.*?)```", (out / "README.md").read_text(), re.S).group(1)  # type: ignore[union-attr]
        scope: dict[str, Any] = {"DIR": str(out), "TEXTS": TEXTS}
        exec(code.replace('["a fine film"]', "TEXTS"), scope)
        want = torch.tensor([list(r.scores.values()) for r in served])
        torch.testing.assert_close(scope["probs"], want, rtol=1e-4, atol=1e-5)


def _check_vllm_export(fam: FamilyRun, record: Any, dest: Path) -> None:
    from adapterhub.export.vllm import export_for_vllm

    result = export_for_vllm([record.ref], dest, registry=fam.registry)
    ((ref, folder),) = result.modules
    config = json.loads((folder / "adapter_config.json").read_text())
    assert ref == record.ref and config["peft_type"] == "LORA"
    assert sorted(config["target_modules"]) == record.card.method_config["target_modules"]
    assert result.command.startswith(f"vllm serve {record.card.base.id} --enable-lora --max-lora-rank 8")


def test_every_method_is_in_the_matrix() -> None:
    assert {method for _, method, _ in CELLS} == set(METHODS)

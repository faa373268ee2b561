"""``hub export REF DEST --for hf`` and ``hub import hf://ORG/REPO[@REVISION]``, offline against a Hugging Face cache
filled as huggingface_hub fills it: the exported folder is what the Hub repo will hold, its README code runs
unchanged by repo id and predicts what the Hub predicts, and imports from the cache publish the same bytes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from adapterhub import Registry, train
from tests.export.test_peft import FAST, compare_with_hub, readme_parts, run_readme_code
from tests.hf_cache import offline_cache, put_in_cache
from tests.tiny import make_lora_adapter
from tests.training.conftest import write_classification, write_instructions

Hub = Callable[..., tuple[int, str, str]]
BASE_ID, REPO = "tiny-org/tiny-base", "my-org/reviews"
# an absolute path in a file's text: "/" then what a path holds, not inside a URL or a word
ABSOLUTE = re.compile(r"(?<![\w./:~-])/[\w.+-]+(?:/[\w.+-]+)+")


def local_paths(folder: Path) -> list[str]:
    """Every absolute path of this machine that a file of ``folder`` mentions."""
    found = []
    for path in folder.rglob("*"):
        text = path.read_bytes().decode("utf-8", "replace")
        found += [f"{path.name}: {p}" for p in ABSOLUTE.findall(text) if Path("/" + p.split("/")[1]).exists()]
    return found


def trained(task: str, base: Path, tmp_path: Path) -> str:
    if task == "generate":
        data = write_instructions(tmp_path / "g.jsonl")
        settings = dict(epochs=2, batch_size=4, lr=1e-2, max_length=64)
    else:
        data, settings = write_classification(tmp_path / "s.csv"), FAST
    return train(task=task, method="lora", base=str(base), data=str(data), **settings).record.ref


@pytest.mark.parametrize("task", ["sentiment", "generate"])
def test_an_export_for_the_hub_runs_its_readme_by_repo_id_and_predicts_what_the_hub_predicts(
    task: str, hub: Hub, mean_pooled_bert: Path, tiny_gpt2: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import ModelCard

    base = tiny_gpt2 if task == "generate" else mean_pooled_bert
    ref = trained(task, base, tmp_path)
    out = tmp_path / "for-hub"
    code, stdout, stderr = hub("export", ref, str(out), "--for", "hf", "--repo", REPO, "--base-model", BASE_ID)
    assert code == 0, stderr
    assert f"hf upload {REPO} {out}" in stdout

    assert local_paths(out) == []  # not the base's folder, the data file, the registry or the export folder
    assert str(tmp_path) not in "".join(p.read_text(errors="replace") for p in out.iterdir())
    card = ModelCard.load(out / "README.md")  # the Hub's own parser of the front matter
    assert (card.data.base_model, card.data.library_name) == (BASE_ID, "peft")
    assert card.data.pipeline_tag == ("text-generation" if task == "generate" else "text-classification")
    assert card.data.eval_results and card.data.eval_results[0].metric_value is not None
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == BASE_ID
    assert json.loads((out / "card.json").read_text())["base"]["id"] == BASE_ID
    _, block = readme_parts(out)
    assert f"DIR = {REPO!r}" in block and f"BASE = {BASE_ID!r}" in block

    # the repo and its base as huggingface_hub caches them: the block runs unchanged, offline, by repo id
    cache = offline_cache(tmp_path, monkeypatch)
    put_in_cache(cache, BASE_ID, base)
    put_in_cache(cache, REPO, out)
    scope = run_readme_code(block, "generate" if task == "generate" else "sequence")
    compare_with_hub(Registry(), ref, task, scope)


def test_an_export_for_the_hub_refuses_a_local_base_it_cannot_name(hub: Hub, tiny_bert: Path, tmp_path: Path) -> None:
    source, card = make_lora_adapter(tiny_bert, tmp_path / "adapter")
    Registry().publish("reviews", source, card)
    code, _, err = hub("export", "reviews", str(tmp_path / "out"), "--for", "hf", "--repo", REPO)
    assert code == 2 and err.count("\n") == 1, err
    assert f"local folder {tiny_bert.resolve()}" in err and "--base-model ORG/NAME" in err
    code, _, err = hub("export", "reviews", str(tmp_path / "out"), "--for", "hf", "--repo", "reviews")
    assert code == 2 and "--repo 'reviews' is not a Hugging Face repo id; give ORG/NAME" in err, err
    assert not (tmp_path / "out").exists()


def _plain_peft_repo(tiny_bert: Path, folder: Path) -> Path:
    """A LoRA adapter as plain PEFT saves it, its config naming the base by hub id as on the Hub."""
    source, _ = make_lora_adapter(tiny_bert, folder, seed=3)
    config = json.loads((source / "adapter_config.json").read_text())
    (source / "adapter_config.json").write_text(json.dumps({**config, "base_model_name_or_path": BASE_ID}))
    (source / "card.json").unlink(missing_ok=True)
    return source


def test_import_from_the_hub_reads_the_offline_cache_and_records_the_commit(
    hub: Hub, mean_pooled_bert: Path, tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = trained("sentiment", mean_pooled_bert, tmp_path)
    registry = Registry()
    assert hub("export", ref, str(tmp_path / "ours"), "--for", "hf", "--repo", REPO, "--base-model", BASE_ID)[0] == 0
    cache = offline_cache(tmp_path, monkeypatch)
    put_in_cache(cache, BASE_ID, mean_pooled_bert)
    ours = put_in_cache(cache, REPO, tmp_path / "ours", refs=("main", "v1"))

    code, stdout, stderr = hub("import", f"hf://{REPO}@v1")
    assert code == 0, stderr
    assert stdout.strip().startswith(f"imported hf://{REPO}@{ours} as reviews@1")
    copy, original = registry.get("reviews@1").card, registry.get(ref).card
    assert f"imported from hf://{REPO}@{ours}" in copy.data.description
    assert copy.files["adapter_model.safetensors"] == original.files["adapter_model.safetensors"]
    assert (copy.base.fingerprint, copy.labels, copy.task) == (original.base.fingerprint, original.labels, "sentiment")
    assert copy.base.id == BASE_ID
    assert registry.verify() == []

    # an adapter plain PEFT made, on another base of the cache, by commit
    put_in_cache(cache, "tiny-org/bert", tiny_bert)
    plain = _plain_peft_repo(tiny_bert, tmp_path / "plain")
    (plain / "adapter_config.json").write_text(
        (plain / "adapter_config.json").read_text().replace(BASE_ID, "tiny-org/bert")
    )
    commit = put_in_cache(cache, "someone/plain-lora", plain)
    code, stdout, stderr = hub("import", f"hf://someone/plain-lora@{commit}", "--name", "plain")
    assert code == 0, stderr
    card = registry.get("plain").card
    assert card.data.description == f"imported from hf://someone/plain-lora@{commit}"
    assert (card.base.id, card.method, card.labels) == ("tiny-org/bert", "lora", ("LABEL_0", "LABEL_1"))


def test_import_from_the_hub_refuses_in_one_line_what_it_cannot_bring(
    hub: Hub, tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = offline_cache(tmp_path, monkeypatch)
    code, _, err = hub("import", "hf://nobody/missing")
    assert code == 3 and err.count("\n") == 1, err
    assert "hf://nobody/missing@main is not in the local Hugging Face cache" in err
    assert "HF_HUB_OFFLINE is set" in err and "`hf download nobody/missing`" in err

    plain = _plain_peft_repo(tiny_bert, tmp_path / "plain")
    put_in_cache(cache, "someone/plain-lora", plain)
    code, _, err = hub("import", "hf://someone/plain-lora@v9")
    assert code == 3 and "hf://someone/plain-lora@v9 is not in the local" in err
    assert "`hf download someone/plain-lora --revision v9`" in err

    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "adapter_config.json").write_bytes((plain / "adapter_config.json").read_bytes())
    (pickled / "adapter_model.bin").write_bytes(b"not to be unpickled")
    commit = put_in_cache(cache, "someone/pickled", pickled)
    code, _, err = hub("import", "hf://someone/pickled", "--name", "pickled")
    assert code == 2 and err.count("\n") == 1, err
    assert f"hf://someone/pickled@{commit} holds no adapter_model.safetensors (only a pickled" in err

    long = "someone/" + "a" * 70  # a repo name, but longer than a registry name may be
    code, _, err = hub("import", f"hf://{long}")
    assert code == 2 and f"pass --name NAME for hf://{long}" in err, err
    code, _, err = hub("import", str(plain))
    assert code == 2 and f"`hub import {plain} --name NAME`" in err, err
    assert not Registry().exists()

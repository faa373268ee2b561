"""Export to and import from plain PEFT directories, and the refusals that keep adapters on their own base."""

from pathlib import Path

import pytest
import torch

from adapterhub import IncompatibleAdapter, Registry
from adapterhub.base import fingerprint, load_base
from adapterhub.export.attach import attach
from adapterhub.export.importing import import_adapter
from adapterhub.export.peft import export_adapter
from tests.tiny import LABELS, inputs, make_lora_adapter, save_tiny_bert


@pytest.fixture
def published(tiny_bert: Path, tmp_path: Path) -> Registry:
    reg = Registry()
    source, card = make_lora_adapter(tiny_bert, tmp_path / "adapter")
    reg.publish("sentiment", source, card)
    return reg


def _through_adapterhub(reg: Registry, ref: str, base: Path) -> torch.Tensor:
    model = attach(load_base(str(base), "SEQ_CLS", num_labels=2), reg.load(ref))
    with torch.no_grad():
        return model(**inputs()).logits


def test_an_exported_adapter_loads_in_plain_peft_with_the_same_outputs(
    published: Registry, tiny_bert: Path, tmp_path: Path
) -> None:
    from peft import PeftModel

    export_adapter(published, "sentiment", tmp_path / "exported")
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in (tmp_path / "exported").iterdir()}
    plain = PeftModel.from_pretrained(load_base(str(tiny_bert), "SEQ_CLS", num_labels=2), tmp_path / "exported").eval()
    with torch.no_grad():
        expected = plain(**inputs()).logits
    ours = _through_adapterhub(published, "sentiment", tiny_bert)
    assert torch.equal(ours, expected)
    base_only = load_base(str(tiny_bert), "SEQ_CLS", num_labels=2)(**inputs()).logits
    assert not torch.allclose(ours, base_only)  # the adapter really acts


def test_export_refuses_a_non_empty_target(published: Registry, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(Exception, match="not empty"):
        export_adapter(published, "sentiment", tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


def test_import_round_trips_an_export(published: Registry, tiny_bert: Path, tmp_path: Path) -> None:
    export_adapter(published, "sentiment", tmp_path / "exported")
    record = import_adapter(published, tmp_path / "exported", "sentiment-copy")
    original = published.get("sentiment").card
    assert record.card.base == original.base
    assert (record.card.labels, record.card.metrics, record.card.task) == (
        original.labels,
        original.metrics,
        "sentiment",
    )
    assert record.card.files["adapter_model.safetensors"] == original.files["adapter_model.safetensors"]
    assert torch.equal(
        _through_adapterhub(published, "sentiment-copy", tiny_bert),
        _through_adapterhub(published, "sentiment", tiny_bert),
    )


def test_import_of_a_plain_peft_directory_fingerprints_its_base(tiny_bert: Path, tmp_path: Path) -> None:
    source, _ = make_lora_adapter(tiny_bert, tmp_path / "plain", seed=3)
    record = import_adapter(Registry(), source, "plain")
    assert record.card.base.fingerprint == fingerprint(load_base(str(tiny_bert)))
    assert record.card.base.id == str(tiny_bert.resolve())
    assert (record.card.task, record.card.method, record.card.labels) == ("classify", "lora", ("LABEL_0", "LABEL_1"))
    assert record.card.method_config["r"] == 4
    assert import_adapter(Registry(), source, "named", labels=list(LABELS)).card.labels == LABELS


def test_import_refuses_an_adapter_made_for_another_base(
    published: Registry, other_tiny_bert: Path, tmp_path: Path
) -> None:
    export_adapter(published, "sentiment", tmp_path / "exported")
    with pytest.raises(IncompatibleAdapter, match="was made for base"):
        import_adapter(published, tmp_path / "exported", "wrong", base=str(other_tiny_bert))
    assert [r.name for r in published.list()] == ["sentiment"]


def test_import_refuses_keys_that_miss_the_base_modules(tiny_bert: Path, tmp_path: Path) -> None:
    source, _ = make_lora_adapter(tiny_bert, tmp_path / "two-layer")
    one_layer = save_tiny_bert(tmp_path / "one-layer", seed=0, layers=1)
    with pytest.raises(IncompatibleAdapter, match=r"unexpected key\(s\) \[.*layer\.1"):
        import_adapter(Registry(), source, "misfit", base=str(one_layer))
    assert not Registry().exists()


def test_attach_refuses_another_base_instead_of_falling_back(published: Registry, other_tiny_bert: Path) -> None:
    with pytest.raises(IncompatibleAdapter, match=r"sentiment@1 was trained on base"):
        attach(load_base(str(other_tiny_bert), "SEQ_CLS", num_labels=2), published.load("sentiment"))


@pytest.mark.parametrize("method", ["lora", "prefix", "head"])
def test_an_export_of_a_hub_trained_adapter_imports_again(tiny_bert: Path, tmp_path: Path, method: str) -> None:
    from tests.inference.helpers import publish_adapter

    registry = Registry()
    record, _ = publish_adapter(registry, tiny_bert, "topic", task="classify", method=method, labels=("a", "b", "c"))
    # adapterhub's layout: body + classifier.1, not transformers'
    export_adapter(registry, "topic", tmp_path / "exported")
    copy = import_adapter(registry, tmp_path / "exported", "topic-copy")
    assert (copy.card.base, copy.card.labels, copy.card.task) == (record.card.base, ("a", "b", "c"), "classify")
    assert copy.card.files["adapter_model.safetensors"] == record.card.files["adapter_model.safetensors"]
    assert registry.verify() == []


def test_import_refuses_labels_that_miss_the_head_before_loading_the_base(
    tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import adapterhub.export.importing as importing

    source, _ = make_lora_adapter(tiny_bert, tmp_path / "adapter")

    def no_base(*args, **kwargs):
        raise AssertionError("the base was loaded before the cheap checks")

    monkeypatch.setattr(importing, "_base_model", no_base)
    with pytest.raises(IncompatibleAdapter, match=r"classifier\.weight has 2 rows but the card lists 3 labels"):
        import_adapter(Registry(), source, "three", labels=["a", "b", "c"])
    assert not Registry().exists()


def test_import_keeps_the_inference_settings_an_export_carries(tiny_bert: Path, tmp_path: Path) -> None:
    """An export of ours runs as it did here; a plain PEFT folder gets the one default, pooled as its base."""
    from adapterhub.registry import InferenceSettings
    from tests.inference.helpers import publish_adapter

    registry = Registry()
    publish_adapter(registry, tiny_bert, "topic", task="classify", labels=("a", "b", "c"), pooling="mean")
    export_adapter(registry, "topic", tmp_path / "exported")
    copy = import_adapter(registry, tmp_path / "exported", "topic-copy")
    assert copy.card.inference == InferenceSettings(max_length=64, pooling="mean")
    source, _ = make_lora_adapter(tiny_bert, tmp_path / "plain", seed=3)
    assert import_adapter(registry, source, "plain").card.inference == InferenceSettings()


@pytest.mark.parametrize(
    ("offline", "said", "fix"),
    [
        (True, "HF_HUB_OFFLINE is set", "unset HF_HUB_OFFLINE"),
        (False, "the Hub cannot be reached", "check the network (or HF_ENDPOINT and the proxy settings)"),
    ],
)
def test_a_repo_missing_from_the_cache_names_the_real_cause_and_its_fix(
    offline: bool, said: str, fix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub
    from huggingface_hub import constants
    from huggingface_hub.errors import LocalEntryNotFoundError

    from adapterhub import AdapterNotFound
    from adapterhub.export.importing import fetch_from_hub

    def unreachable(*args: object, **kwargs: object) -> str:
        raise LocalEntryNotFoundError("not in the cache, and the Hub could not be asked")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", unreachable)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
    with pytest.raises(AdapterNotFound) as caught:
        fetch_from_hub("hf://my-org/reviews@v1", tmp_path)
    message = str(caught.value)
    assert "hf://my-org/reviews@v1 is not in the local Hugging Face cache" in message
    assert said in message and fix in message and "\n" not in message
    assert ("HF_HUB_OFFLINE" in message) == offline  # never "unset" a variable that is not set

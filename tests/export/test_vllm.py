"""``hub export --for vllm``: each exported folder loads with plain PEFT and generates what the Hub generates;
the printed command names every adapter; what vLLM cannot serve is refused."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from adapterhub.errors import ConfigError
from adapterhub.export.vllm import export_for_vllm
from adapterhub.inference import Hub
from adapterhub.registry import Registry
from adapterhub.tasks.generate import TEMPLATE
from tests.inference.helpers import publish_adapter


def test_each_folder_loads_with_plain_peft(registry: Registry, hub: Hub, tiny_gpt2: Path, tmp_path: Path) -> None:
    publish_adapter(registry, tiny_gpt2, "poet", task="generate", seed=1)
    publish_adapter(registry, tiny_gpt2, "sql", task="generate", seed=2, r=16)
    result = export_for_vllm(["poet", "sql@1"], tmp_path / "vllm", registry=registry)

    assert [ref for ref, _ in result.modules] == ["poet@1", "sql@1"]
    words = shlex.split(result.command)
    assert words[:3] == ["vllm", "serve", str(tiny_gpt2)] and "--enable-lora" in words
    assert words[words.index("--max-lora-rank") + 1] == "16"
    assert words[words.index("--lora-modules") + 1 :] == [
        f"poet@1={tmp_path / 'vllm' / 'poet-v1'}",
        f"sql@1={tmp_path / 'vllm' / 'sql-v1'}",
    ]

    tokenizer = AutoTokenizer.from_pretrained(tiny_gpt2)
    ids = tokenizer(TEMPLATE.format(prompt="a poem"), return_tensors="pt")["input_ids"]
    ids = torch.cat([torch.tensor([[tokenizer.bos_token_id]]), ids], 1)
    for ref, folder in result.modules:
        assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in folder.iterdir()}
        model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_gpt2), folder).eval()
        out = model.generate(input_ids=ids, max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.eos_token_id)
        text = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
        assert text == hub.predict("a poem", adapter=ref, max_new_tokens=5).text


def test_what_vllm_cannot_serve_is_refused(
    registry: Registry, tiny_gpt2: Path, tiny_bert: Path, tmp_path: Path
) -> None:
    from tests.tiny import save_tiny_gpt2

    other = save_tiny_gpt2(tmp_path / "other-gpt2", seed=5)
    publish_adapter(registry, tiny_gpt2, "poet", task="generate")
    publish_adapter(registry, tiny_gpt2, "prefix-poet", task="generate", method="prefix")
    publish_adapter(registry, other, "elsewhere", task="generate")
    publish_adapter(registry, tiny_bert, "sentiment")
    cases = {
        ("poet", "prefix-poet"): "prefix-poet@1 is a generate prefix adapter; vLLM serves LoRA",
        ("sentiment",): "sentiment@1 is a sentiment lora adapter",
        ("poet", "elsewhere"): "one vLLM server serves one base",
        ("poet", "poet@1"): "named twice",
    }
    for refs, message in cases.items():
        with pytest.raises(ConfigError, match=message):
            export_for_vllm(list(refs), tmp_path / "out", registry=registry)
    assert not (tmp_path / "out").exists()


def test_hub_export_for_vllm_prints_the_command(
    tiny_gpt2: Path, tmp_path: Path, registry: Registry, monkeypatch, capsys
) -> None:
    import sys

    from adapterhub.cli import main

    publish_adapter(registry, tiny_gpt2, "poet", task="generate")
    monkeypatch.setattr(sys, "argv", ["hub", "export", "poet", "--for", "vllm", "--out", str(tmp_path / "v")])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 0
    out, err = capsys.readouterr()
    assert out.startswith("vllm serve ") and "--lora-modules poet@1=" in out
    assert f"exported poet@1 to {tmp_path / 'v' / 'poet-v1'}" in err

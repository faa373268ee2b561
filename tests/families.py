"""Tiny random models of the families users bring, built from a transformers config (no downloads).

Each family is 2 layers (3 for ModernBERT, so that local and global attention layers both occur) with a small
hidden size, keeping what makes the family differ: grouped-query attention (Llama, Qwen2, Qwen3, Mistral,
Gemma 2, Gemma 3, Phi-3, Mixtral: 4 query heads, 2 key/value heads), multi-query attention (Falcon), a head
size that is not hidden / heads (Qwen3, Gemma 2, Gemma 3), fused projections (Phi-3's ``qkv_proj``, GPT-NeoX's
``query_key_value``), sliding-window or local attention narrower than the test prompts (Mistral, Gemma 2,
Gemma 3, ModernBERT), relative positions (DeBERTa-v2, MPNet), shared layers with factorised embeddings (ALBERT),
partial rotary embeddings (Phi) and a mixture of experts (Mixtral). :data:`MORE_FAMILIES` are built the same
way, for the unit tests only.

Encoders get the character-level WordPiece tokenizer of :func:`tests.tiny.save_tiny_bert`, decoders the
byte-level BPE of :func:`tests.tiny.save_tiny_gpt2`: the tokenizer's class does not matter to the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch


@dataclass(frozen=True)
class Family:
    """One model family: whether it is an encoder or a decoder, and its tiny config given the tokenizer's ids."""

    name: str
    kind: Literal["encoder", "decoder"]
    config: Callable[[dict[str, int]], Any]  # {"vocab": V, "pad": id, "bos": id, "eos": id} -> a transformers config


def _bert_like(cls_name: str, **extra: Any) -> Callable[[dict[str, int]], Any]:
    def make(ids: dict[str, int]) -> Any:
        import transformers

        settings = {
            "vocab_size": ids["vocab"],
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "max_position_embeddings": 128,
            "pad_token_id": ids["pad"],
            **extra,
        }
        return getattr(transformers, cls_name)(**settings)

    return make


def _decoder(cls_name: str, **extra: Any) -> Callable[[dict[str, int]], Any]:
    def make(ids: dict[str, int]) -> Any:
        import transformers

        settings = {
            "vocab_size": ids["vocab"],
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "intermediate_size": 64,
            "max_position_embeddings": 128,
            "pad_token_id": ids["pad"],
            "bos_token_id": ids["bos"],
            "eos_token_id": ids["eos"],
            "tie_word_embeddings": False,
            **extra,
        }
        return getattr(transformers, cls_name)(**settings)

    return make


def _gpt2(ids: dict[str, int]) -> Any:
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=ids["vocab"], n_embd=32, n_layer=2, n_head=2, n_positions=128, bos_token_id=ids["bos"],
        eos_token_id=ids["eos"], pad_token_id=ids["pad"],
    )  # fmt: skip


def _distilbert(ids: dict[str, int]) -> Any:
    from transformers import DistilBertConfig

    return DistilBertConfig(
        vocab_size=ids["vocab"], dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=128,
        pad_token_id=ids["pad"],
    )  # fmt: skip


def _gpt_neox(ids: dict[str, int]) -> Any:
    from transformers import GPTNeoXConfig

    return GPTNeoXConfig(
        vocab_size=ids["vocab"], hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=128, bos_token_id=ids["bos"], eos_token_id=ids["eos"], pad_token_id=ids["pad"],
        tie_word_embeddings=False,
    )  # fmt: skip


def _opt(ids: dict[str, int]) -> Any:
    from transformers import OPTConfig

    return OPTConfig(
        vocab_size=ids["vocab"], hidden_size=32, num_hidden_layers=2, num_attention_heads=4, ffn_dim=64,
        word_embed_proj_dim=32, max_position_embeddings=128, bos_token_id=ids["bos"], eos_token_id=ids["eos"],
        pad_token_id=ids["pad"], enable_bias=True,
    )  # fmt: skip


def _falcon(ids: dict[str, int]) -> Any:
    from transformers import FalconConfig

    return FalconConfig(  # Falcon-7B's layout: multi-query attention (one key/value head), parallel attention
        vocab_size=ids["vocab"], hidden_size=32, num_hidden_layers=2, num_attention_heads=4, multi_query=True,
        new_decoder_architecture=False, parallel_attn=True, bias=False, bos_token_id=ids["bos"],
        eos_token_id=ids["eos"], pad_token_id=ids["pad"], max_position_embeddings=128,
    )  # fmt: skip


def _gptj(ids: dict[str, int]) -> Any:
    from transformers import GPTJConfig

    return GPTJConfig(
        vocab_size=ids["vocab"], n_embd=32, n_layer=2, n_head=4, rotary_dim=4, n_positions=128,
        bos_token_id=ids["bos"], eos_token_id=ids["eos"], pad_token_id=ids["pad"], tie_word_embeddings=False,
    )  # fmt: skip


def _bloom(ids: dict[str, int]) -> Any:
    from transformers import BloomConfig

    return BloomConfig(
        vocab_size=ids["vocab"], hidden_size=32, n_layer=2, n_head=4, bos_token_id=ids["bos"],
        eos_token_id=ids["eos"], pad_token_id=ids["pad"],
    )  # fmt: skip


def _phi(ids: dict[str, int]) -> Any:
    from transformers import PhiConfig

    return PhiConfig(  # multi-head attention (as many key/value heads as query heads), rotary on half of each head
        vocab_size=ids["vocab"], hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        partial_rotary_factor=0.5, max_position_embeddings=128, bos_token_id=ids["bos"], eos_token_id=ids["eos"],
        pad_token_id=ids["pad"], tie_word_embeddings=False,
    )  # fmt: skip


def _moe(cls_name: str, **extra: Any) -> Callable[[dict[str, int]], Any]:
    """A mixture-of-experts decoder: 4 experts, 2 of them per token."""
    return _decoder(cls_name, num_experts_per_tok=2, **extra)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("bert", "encoder", _bert_like("BertConfig")),
        Family("roberta", "encoder", _bert_like("RobertaConfig")),
        Family("xlm-roberta", "encoder", _bert_like("XLMRobertaConfig")),
        Family("distilbert", "encoder", _distilbert),
        Family(
            "deberta-v2",
            "encoder",
            _bert_like("DebertaV2Config", relative_attention=True, position_buckets=16, pos_att_type=["p2c", "c2p"]),
        ),
        Family("electra", "encoder", _bert_like("ElectraConfig", embedding_size=32)),
        Family("albert", "encoder", _bert_like("AlbertConfig", embedding_size=16)),
        Family(
            "modernbert",
            "encoder",
            _bert_like(
                "ModernBertConfig",
                num_hidden_layers=3,
                local_attention=8,  # a window narrower than the test inputs
                layer_types=["full_attention", "sliding_attention", "full_attention"],
                bos_token_id=2,
                cls_token_id=2,
                eos_token_id=3,
                sep_token_id=3,
            ),
        ),
        Family("mpnet", "encoder", _bert_like("MPNetConfig")),
        Family("gpt2", "decoder", _gpt2),
        Family("llama", "decoder", _decoder("LlamaConfig")),
        Family("qwen2", "decoder", _decoder("Qwen2Config")),
        Family("qwen3", "decoder", _decoder("Qwen3Config", head_dim=16)),  # heads x head_dim != hidden
        Family("mistral", "decoder", _decoder("MistralConfig", sliding_window=8)),
        Family(
            "gemma2",
            "decoder",
            _decoder("Gemma2Config", head_dim=16, sliding_window=8, query_pre_attn_scalar=16),
        ),
        Family("phi3", "decoder", _decoder("Phi3Config")),  # fused qkv_proj and gate_up_proj
        Family("gpt-neox", "decoder", _gpt_neox),
        Family("opt", "decoder", _opt),
        Family("falcon", "decoder", _falcon),
        Family(  # Gemma 3's text model: sliding (local) and full (global) attention layers, query/key norms
            "gemma3",
            "decoder",
            _decoder(
                "Gemma3TextConfig",
                head_dim=16,
                sliding_window=8,
                query_pre_attn_scalar=16,
                layer_types=["sliding_attention", "full_attention"],
            ),
        ),
        Family("phi", "decoder", _phi),  # phi-2's layout: dense, fc1/fc2, partial rotary
        Family("mixtral", "decoder", _moe("MixtralConfig", num_local_experts=4)),  # mixture of experts
    )
}

# Families whose defaults (LoRA targets, head module, prefix refusal) are checked by the unit tests that iterate
# ALL_FAMILIES, but which the architecture matrix leaves out: their layout is one FAMILIES already covers
# (Llama's gated MLP, GPT-NeoX's fused query/key/value, a mixture of experts), so the matrix would repeat itself.
MORE_FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("olmo2", "decoder", _decoder("Olmo2Config")),
        Family("stablelm", "decoder", _decoder("StableLmConfig", partial_rotary_factor=0.25)),
        Family("gptj", "decoder", _gptj),
        Family("granite", "decoder", _decoder("GraniteConfig")),
        Family("smollm3", "decoder", _decoder("SmolLM3Config")),
        Family("bloom", "decoder", _bloom),
        Family("qwen3-moe", "decoder", _moe("Qwen3MoeConfig", num_experts=4, moe_intermediate_size=32, head_dim=16)),
    )
}
ALL_FAMILIES = FAMILIES | MORE_FAMILIES

ENCODERS = tuple(name for name, f in FAMILIES.items() if f.kind == "encoder")
DECODERS = tuple(name for name, f in FAMILIES.items() if f.kind == "decoder")


def save_family(name: str, directory: Path, seed: int = 0) -> Path:
    """Save a tiny random model of family ``name`` and its tokenizer to ``directory`` (a local base)."""
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    from tests.tiny import save_tiny_bert, save_tiny_gpt2

    family = ALL_FAMILIES[name]
    tokenizer_dir = directory / ".tokenizer"
    if family.kind == "encoder":
        save_tiny_bert(tokenizer_dir, seed=seed)
    else:
        save_tiny_gpt2(tokenizer_dir, seed=seed)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    tokenizer.save_pretrained(directory)
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    eos = eos if eos is not None else 0
    ids = {"vocab": len(tokenizer), "pad": pad, "bos": tokenizer.bos_token_id or 0, "eos": eos}
    config = family.config(ids)
    torch.manual_seed(seed)
    auto = AutoModel if family.kind == "encoder" else AutoModelForCausalLM
    auto.from_config(config).save_pretrained(directory)
    import shutil

    shutil.rmtree(tokenizer_dir)
    return directory

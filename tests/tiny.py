"""Tiny random models and adapters for tests: 2 layers, hidden 32, seeded."""

from __future__ import annotations

from pathlib import Path

import torch

from adapterhub.base import fingerprint, load_base
from adapterhub.registry import BaseInfo, Card, DataInfo

LABELS = ("negative", "positive")


def save_tiny_bert(directory: Path, seed: int, layers: int = 2, hidden: int = 32, dropout: float = 0.1) -> Path:
    """A random BERT with a character-level WordPiece tokenizer (any lower-case text tokenizes)."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *(f"##{c}" for c in chars), *".,!?'-"]
    vocab += [f"[unused{i}]" for i in range(100 - len(vocab))]
    BertTokenizerFast(vocab={token: i for i, token in enumerate(vocab)}).save_pretrained(directory)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=100,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=64,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    BertModel(config).save_pretrained(directory)
    return directory


def save_tiny_gpt2(directory: Path, seed: int = 0) -> Path:
    """A random 2-layer GPT-2 with a small byte-level BPE tokenizer trained on a few sentences."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    text = ["### Instruction:", "### Response:", "write a short poem about the sea", "the sea is blue and wide"] * 20
    tok.train_from_iterator(text, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    fast.save_pretrained(directory)
    eos = fast.eos_token_id
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(fast), n_embd=32, n_layer=2, n_head=2, n_positions=128, bos_token_id=eos, eos_token_id=eos
    )
    GPT2LMHeadModel(config).save_pretrained(directory)
    return directory


def make_lora_adapter(base_dir: Path, out: Path, seed: int = 0, r: int = 4) -> tuple[Path, Card]:
    """Save a non-trivial LoRA sequence-classification adapter of ``base_dir`` to ``out`` and its card."""
    from peft import LoraConfig, get_peft_model

    base = load_base(str(base_dir), "SEQ_CLS", num_labels=len(LABELS))
    torch.manual_seed(seed)
    config = LoraConfig(
        task_type="SEQ_CLS", r=r, lora_alpha=2 * r, target_modules=["query", "value"], init_lora_weights=False
    )
    model = get_peft_model(base, config)
    with torch.no_grad():  # a trained head, not the random one every load would draw afresh
        for p in model.base_model.model.classifier.modules_to_save["default"].parameters():
            p.normal_()
    model.save_pretrained(out)
    card = Card(
        task="sentiment",
        task_type="SEQ_CLS",
        method="lora",
        base=BaseInfo(id=str(base_dir), fingerprint=fingerprint(base)),
        labels=LABELS,
        method_config={"r": r, "alpha": 2 * r, "target_modules": ["query", "value"]},
        metrics={"accuracy": 0.5 + seed / 100},
        headline_metric="accuracy",
        data=DataInfo(description="synthetic", fingerprint="sha256:0", train_examples=10, eval_examples=2),
        tags=("test",),
    )
    return out, card


def inputs(batch: int = 3, length: int = 7, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 100, (batch, length), generator=generator)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

"""Decoding throughput with many adapters, measured side by side in one run: generated tokens per second of the
base alone, of the Hub with 1 and with N distinct LoRA adapters in one batch, and of PEFT's ``generate`` with
the same adapters (``adapter_names=``, one per row) and with one adapter.

Base: a random-weight Llama of realistic shape (hidden 512, 8 layers, 8 attention heads over 4 key/value heads,
MLP 1376, vocabulary 32,000; the cost does not depend on the weights' values), saved with a word-level
tokenizer (token ``wN`` is id N) to a temporary directory, fp32 on the CPU. Adapters: rank-8 LoRA on
``q_proj``/``v_proj`` (PEFT's default targets for Llama; ``--targets`` changes them), random weights, all
created in one ``PeftModel`` and each published from it into a temporary registry, so the Hub and PEFT run the
very same weights. Prompts: ``--prompts`` random token sequences of 16 to 32 tokens (one BOS token first, no
template), one batch, greedy. The tokenizer declares no end-of-sequence token, so every row generates exactly
``--new-tokens`` tokens in every contender (checked): tokens/s compare like with like. Each rate counts the new
tokens over the wall time of the whole call (prefill included).

The base alone runs the Hub's own decoding loop (:func:`adapterhub.inference.decoding.decode`) on the Hub's
base with no adapter routed. Before measuring, the run checks that the Hub really applied N distinct
adapters: its greedy tokens match PEFT's per row (the same adapters, the same prompts) and differ from the
base's. Contenders alternate within every round (A B C D, A B C D, ...) and the best round of each counts.

    python scripts/bench_generate.py                 # about 4 minutes on 2 cores
    python scripts/bench_generate.py --quick --json  # fewer rounds; one JSON object on stdout
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SPECIALS = ["<pad>", "<unk>", "<s>"]  # ids 0, 1, 2; no end-of-sequence token on purpose (see the docstring)


def save_llama(directory: Path, vocab: int, seed: int) -> Path:
    """A random Llama (hidden 512, 8 layers, GQA 8/4 heads, MLP 1376) and a word-level tokenizer of ``vocab``
    tokens (``wN`` is id N), saved to ``directory``; no network."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    words = {token: i for i, token in enumerate(SPECIALS)} | {f"w{i}": i for i in range(len(SPECIALS), vocab)}
    tok = Tokenizer(models.WordLevel(vocab=words, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", bos_token="<s>")
    fast.save_pretrained(directory)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=512,
        num_hidden_layers=8,
        num_attention_heads=8,
        num_key_value_heads=4,
        intermediate_size=1376,
        max_position_embeddings=512,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=None,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = None
    model.save_pretrained(directory)
    return directory


def publish_adapters(registry, base_dir: Path, count: int, targets: list[str], seed: int) -> tuple[list[str], Any]:
    """``count`` random rank-8 LoRA generate adapters (names g0 …) in one ``PeftModel`` on ``base_dir``, each
    published from it into ``registry``; returns the names and the ``PeftModel`` (PEFT's contender)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from adapterhub.base import fingerprint
    from adapterhub.registry import BaseInfo, Card, InferenceSettings
    from adapterhub.tasks import get_task

    model = get_task("generate").build_model(str(base_dir), (), 0.0)
    base = BaseInfo(id=str(base_dir), fingerprint=fingerprint(model))
    config = LoraConfig(
        task_type="CAUSAL_LM", r=8, lora_alpha=16, lora_dropout=0.0, target_modules=targets, init_lora_weights=False
    )  # random A and B: every adapter changes the output
    torch.manual_seed(seed)
    names = [f"g{i}" for i in range(count)]
    model = get_peft_model(model, config, adapter_name=names[0])
    for name in names[1:]:
        model.add_adapter(name, config)
    card = Card(
        task="generate",
        task_type="CAUSAL_LM",
        method="lora",
        base=base,
        labels=(),
        hyperparameters={"max_length": 512},
        inference=InferenceSettings(max_length=512, prompt_template=""),
    )
    with tempfile.TemporaryDirectory() as out:
        for name in names:
            model.save_pretrained(out, selected_adapters=[name])  # into out/<name>
            registry.publish(name, Path(out) / name, card)
    return names, model.eval()


def make_prompts(count: int, vocab: int, seed: int) -> list[str]:
    """``count`` prompts of 16 to 32 random word tokens, longest first (the order the Hub batches them in)."""
    rng = random.Random(seed)
    prompts = [
        " ".join(f"w{rng.randrange(len(SPECIALS), vocab)}" for _ in range(rng.randint(16, 32))) for _ in range(count)
    ]
    return sorted(prompts, key=lambda p: len(p.split()), reverse=True)


def left_padded(tokenizer, prompts: list[str], device) -> tuple[Any, Any]:
    """(B, T) ids and mask of ``prompts`` as the Hub feeds a generate adapter without a template: BOS first,
    left-padded."""
    import torch

    rows = [[tokenizer.bos_token_id, *tokenizer(p, add_special_tokens=False)["input_ids"]] for p in prompts]
    width = max(len(r) for r in rows)
    ids = torch.tensor([[tokenizer.pad_token_id] * (width - len(r)) + r for r in rows], device=device)
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
    return ids, mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds instead of 4")
    parser.add_argument("--rounds", type=int, default=0, help="measured rounds per contender (default 4; 2 --quick)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--prompts", type=int, default=64, help="prompts, one batch; also the distinct adapters")
    parser.add_argument("--new-tokens", type=int, default=32, help="tokens generated per prompt")
    parser.add_argument("--targets", default="q_proj,v_proj", help="LoRA target modules, comma-separated")
    parser.add_argument(
        "--json", action="store_true", help="print the numbers as one JSON object on stdout (the report goes to stderr)"
    )
    args = parser.parse_args()
    measured: dict = {}
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        run(args, measured)
    if args.json:
        print(json.dumps(measured, indent=2))


def run(args, measured: dict) -> None:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from adapterhub.inference import Hub
    from adapterhub.registry import Registry

    vocab, count, new = 32000, args.prompts, args.new_tokens
    rounds = args.rounds or (2 if args.quick else 4)
    tmp = Path(tempfile.mkdtemp(prefix="bench-generate-"))
    started = time.perf_counter()
    base_dir = save_llama(tmp / "base", vocab, seed=0)
    names, peft_model = publish_adapters(Registry(tmp / "registry"), base_dir, count, args.targets.split(","), 1)
    hub = Hub(tmp / "registry", device="cpu", max_adapters=max(count, 1), batch_size=count)
    hub.load(names[0])
    host = next(iter(hub._hosts.values()))  # the Hub's base, for the base-alone row (as bench_swap does)
    prompts = make_prompts(count, vocab, seed=2)
    ids, mask = left_padded(host.tokenizer, prompts, host.device)
    lengths = mask.sum(1).tolist()
    print(
        f"random Llama (hidden 512, 8 layers, 8/4 heads, MLP 1376, vocab {vocab}, "
        f"{sum(p.numel() for p in host.root.parameters()) / 1e6:.0f}M parameters, fp32); {count} rank-8 LoRA "
        f"adapters on {args.targets}; {count} prompts of {min(lengths)}-{max(lengths)} tokens, {new} new tokens "
        f"each, greedy; {torch.get_num_threads()} torch threads; set up in {time.perf_counter() - started:.0f} s\n"
    )

    mixed = names[:count]
    contenders = {
        "base alone (Hub's decode loop)": lambda: base_alone(host, ids, mask, new),
        "hub, 1 adapter": lambda: hub_generate(hub, prompts, [names[0]] * count, new),
        f"hub, {count} adapters (one per row)": lambda: hub_generate(hub, prompts, mixed, new),
        f"PEFT generate, {count} adapters (adapter_names)": lambda: peft_generate(peft_model, ids, mask, new, mixed),
        "PEFT generate, 1 adapter": lambda: peft_generate(peft_model, ids, mask, new, None),
    }
    outputs = {label: runner() for label, runner in contenders.items()}  # warm-up, and the outputs checked
    for label, rows in outputs.items():
        if not label.startswith("hub") and any(len(row) != new for row in rows):  # the Hub's rows: hub_generate
            raise SystemExit(f"{label}: not every row generated {new} tokens: {sorted({len(r) for r in rows})}")
        outputs[label] = [[t for t in row if t >= len(SPECIALS)] for row in rows]  # as the Hub's text shows them
    check = agreement(outputs, list(contenders), count)
    print("check (greedy tokens, per row):")
    for line in check["lines"]:
        print(f"  {line}")
    measured["check"] = {k: v for k, v in check.items() if k != "lines"}
    if check["hub_vs_peft_mixed"] < 0.9 * count or check["hub_mixed_distinct"] < 0.9 * count:
        raise SystemExit("the Hub's mixed batch did not run the adapters as PEFT did: the numbers would mislead")

    results: dict[str, list[float]] = {}
    for _ in range(rounds):  # alternating: every contender once per round, in the same order
        for label, runner in contenders.items():
            start = time.perf_counter()
            runner()
            results.setdefault(label, []).append(count * new / (time.perf_counter() - start))
    best = {label: max(values) for label, values in results.items()}
    labels = list(contenders)
    base, hub1, hub_mixed, peft_mixed, peft_one = (best[label] for label in labels)
    print(f"\ngenerated tokens/s ({count} x {new} tokens per call; best of {rounds} alternating rounds, median after)")
    for label, value in best.items():
        print(
            f"  {label:42s} {value:8.1f}/s   {value / base:5.2f} of base   (median "
            f"{statistics.median(results[label]):7.1f})"
        )
    print(f"  hub {count} adapters / base alone:          {hub_mixed / base:5.2f}   (goal >= 0.85)")
    print(f"  hub {count} adapters / hub 1 adapter:       {hub_mixed / hub1:5.2f}   (1.00 = flat)")
    print(f"  hub {count} adapters / PEFT mixed generate: {hub_mixed / peft_mixed:5.2f}x  (goal > 1)")
    measured.update(
        torch_threads=torch.get_num_threads(),
        prompts=count,
        new_tokens=new,
        rounds=rounds,
        targets=args.targets.split(","),
        base_tokens_per_s=base,
        hub_tokens_per_s={"1": hub1, str(count): hub_mixed},
        peft_mixed_tokens_per_s=peft_mixed,
        peft_single_tokens_per_s=peft_one,
        ratios={
            "hub_mixed_over_base": hub_mixed / base,
            "hub_mixed_over_hub_1": hub_mixed / hub1,
            "hub_mixed_over_peft_mixed": hub_mixed / peft_mixed,
        },
        median_tokens_per_s={label: statistics.median(values) for label, values in results.items()},
    )


def agreement(outputs: dict[str, list[list[int]]], labels: list[str], count: int) -> dict[str, Any]:
    """How many rows agree between contenders: the Hub's mixed batch against PEFT's (same adapters: should be
    all), against the base and against the Hub's one-adapter rows (other adapters: should be none but row 0)."""
    base, hub1, hub_mixed, peft_mixed, peft_one = (outputs[label] for label in labels)
    same = lambda a, b: sum(x == y for x, y in zip(a, b, strict=True))  # noqa: E731
    result = {
        "rows": count,
        "hub_vs_peft_mixed": same(hub_mixed, peft_mixed),
        "hub_1_vs_peft_1": same(hub1, peft_one),
        "hub_mixed_vs_base": same(hub_mixed, base),
        "hub_mixed_vs_hub_1": same(hub_mixed, hub1),
        "hub_mixed_distinct": len({tuple(row) for row in hub_mixed}),
    }
    result["lines"] = [
        f"hub {count} adapters = PEFT adapter_names: {result['hub_vs_peft_mixed']}/{count} rows identical",
        f"hub 1 adapter = PEFT 1 adapter:           {result['hub_1_vs_peft_1']}/{count} rows identical",
        f"hub {count} adapters = base alone:          {result['hub_mixed_vs_base']}/{count} rows (should be 0)",
        f"hub {count} adapters = hub 1 adapter:       {result['hub_mixed_vs_hub_1']}/{count} rows (only row 0's "
        "adapter is the same)",
        f"distinct continuations in the mixed batch: {result['hub_mixed_distinct']}/{count}",
    ]
    return result


def base_alone(host, ids, mask, new: int) -> list[list[int]]:
    """The Hub's decoding loop on its base with nothing routed; each row's new token ids."""
    import torch

    from adapterhub.inference.decoding import GenerationOptions, decode

    with torch.inference_mode():
        tokens, _ = decode(host.root, ids, mask, GenerationOptions(max_new_tokens=new), None)
    return tokens


def hub_generate(hub, prompts: list[str], adapters: list[str], new: int) -> list[list[int]]:
    """``Hub.predict`` of every prompt with its adapter, one batch; each row's new token ids, read back from its
    text (special tokens, which the text skips, left out)."""
    results = hub.predict(prompts, adapter=adapters, max_new_tokens=new)
    if any(r.finished or r.tokens != new for r in results):
        raise SystemExit(f"the Hub stopped a row early: {sorted({r.tokens for r in results})} tokens")
    if [r.adapter.split("@")[0] for r in results] != list(adapters):
        raise SystemExit("the Hub answered some rows with another adapter than asked")
    return [[int(word[1:]) for word in r.text.split()] if r.text else [] for r in results]


def peft_generate(model, ids, mask, new: int, adapters: list[str] | None) -> list[list[int]]:
    """PEFT's ``generate``: a mixed batch (``adapter_names``, one per row) or the first adapter for every row."""
    import torch

    kwargs: dict[str, Any] = {"adapter_names": adapters} if adapters is not None else {}
    if adapters is None:
        model.set_adapter("g0")
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=new,
            do_sample=False,
            pad_token_id=0,
            eos_token_id=None,
            **kwargs,
        )
    return out[:, ids.shape[1] :].tolist()


if __name__ == "__main__":
    main()

"""Decoding throughput with many adapters: generated tokens per second of the base alone, of the Hub with 1 and
with N distinct LoRA adapters in one batch, of the Hub with N adapters of which every fourth row is a prefix
adapter (LoRA and prefix rows decoded in one pass), and of PEFT's ``generate`` with the same LoRA adapters
(``adapter_names=``, one per row) and with one adapter.

Base: a random-weight Llama of realistic shape (hidden 512, 8 layers, 8 attention heads over 4 key/value heads,
MLP 1376, vocabulary 32,000; the cost does not depend on the weights' values), saved with a word-level
tokenizer (token ``wN`` is id N) to a temporary directory, fp32 on the CPU. Adapters: rank-8 LoRA on
``q_proj``/``v_proj`` (PEFT's default targets for Llama; ``--targets`` changes them) and N/4 prefix adapters of
``--prefix-tokens`` virtual tokens, random weights, published once into a temporary registry. PEFT's contenders
load the very same weights from the registry's version folders (each is a plain PEFT adapter folder); the run
checks that a ``PeftModel`` loaded so generates what the one they were published from did. Prompts:
``--prompts`` random token sequences of 16 to 32 tokens (one BOS token first, no template), one batch, greedy.
The tokenizer declares no end-of-sequence token, so every row generates exactly ``--new-tokens`` tokens in
every contender (checked): tokens/s compare like with like. Each rate counts the new tokens over the wall time
of the whole call (prefill included).

Before measuring, the run checks, once, that the Hub really applied N distinct adapters: its greedy tokens
match PEFT's per row and differ from the base's; and that in the LoRA + prefix batch the LoRA rows match the
all-LoRA batch and the prefix rows differ from the base. Then every contender runs in a process of its own
(loads what it needs, one warm-up call, ``--reps`` timed calls), alternating A B C ..., A B C ... per round, so
none inherits another's threads or caches; the best and the median call of each are reported. The base alone
runs the Hub's own decoding loop (:func:`adapterhub.inference.decoding.decode`) with no adapter on its layers.

    python scripts/bench_generate.py                 # 4 rounds x 2 calls; about 15 minutes on 2 cores
    python scripts/bench_generate.py --quick --json  # 2 rounds x 1 call; one JSON object on stdout
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from contenders import dispatch, in_processes

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
    from adapterhub.registry import BaseInfo
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
    publish_each(registry, model, names, base, "lora")
    return names, model.eval()


def publish_prefixes(registry, base_dir: Path, count: int, tokens: int, seed: int) -> list[str]:
    """``count`` random prefix-tuning generate adapters of ``tokens`` virtual tokens (names x0 …), published into
    ``registry``; their weights are drawn as a trained prefix's could be (not PEFT's zero-free init alone)."""
    import torch
    from peft import get_peft_model

    from adapterhub.base import fingerprint
    from adapterhub.methods import PrefixSettings
    from adapterhub.registry import BaseInfo
    from adapterhub.tasks import get_task

    model = get_task("generate").build_model(str(base_dir), (), 0.0)
    base = BaseInfo(id=str(base_dir), fingerprint=fingerprint(model))
    config = PrefixSettings(num_virtual_tokens=tokens).peft_config("CAUSAL_LM", model)
    names = [f"x{i}" for i in range(count)]
    model = get_peft_model(model, config, adapter_name=names[0])
    for name in names[1:]:
        model.add_adapter(name, config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name in names:
            for param in model.prompt_encoder[name].parameters():
                param.copy_(torch.randn(param.shape, generator=generator) * 0.3)
    publish_each(registry, model, names, base, "prefix")
    return names


def publish_each(registry, model, names: list[str], base, method: str) -> None:
    """Publish each adapter ``names`` of the PeftModel ``model`` under its own name, as a generate adapter of
    ``base`` (no prompt template: the prompts are token ids)."""
    from adapterhub.registry import Card, InferenceSettings

    card = Card(
        task="generate",
        task_type="CAUSAL_LM",
        method=method,
        base=base,
        labels=(),
        hyperparameters={"max_length": 512},
        inference=InferenceSettings(max_length=512, prompt_template=""),
    )
    with tempfile.TemporaryDirectory() as out:
        for name in names:
            model.save_pretrained(out, selected_adapters=[name])  # into out/<name>
            registry.publish(name, Path(out) / name, card)


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


CONTENDERS = ("base", "hub_1", "hub_mixed", "hub_mixed_prefix", "peft_mixed", "peft_1")


def labels(count: int) -> dict[str, str]:
    """The printed name of each contender for ``count`` prompts (one batch)."""
    prefixes = count // 4
    return {
        "base": "base alone (Hub's decode loop, no adapter)",
        "hub_1": "hub, 1 adapter",
        "hub_mixed": f"hub, {count} adapters (one per row)",
        "hub_mixed_prefix": f"hub, {count} adapters: {count - prefixes} LoRA + {prefixes} prefix rows",
        "peft_mixed": f"PEFT generate, {count} adapters (adapter_names)",
        "peft_1": "PEFT generate, 1 adapter",
    }


def spreads(count: int) -> tuple[list[str], list[str]]:
    """The adapter of each row: one LoRA adapter per row (g0 …), and the same with every fourth row on a prefix
    adapter instead (x0 …), so the LoRA rows of both batches run the same adapters on the same prompts."""
    lora = [f"g{i}" for i in range(count)]
    mixed = [f"x{i // 4}" if i % 4 == 3 else lora[i] for i in range(count)]
    return lora, mixed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 1 timed call instead of 4 rounds of 2")
    parser.add_argument("--rounds", type=int, default=0, help="rounds per contender (default 4; 2 with --quick)")
    parser.add_argument("--reps", type=int, default=0, help="timed calls per contender process (default 2; 1 --quick)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--prompts", type=int, default=64, help="prompts, one batch; also the distinct adapters")
    parser.add_argument("--new-tokens", type=int, default=32, help="tokens generated per prompt")
    parser.add_argument("--targets", default="q_proj,v_proj", help="LoRA target modules, comma-separated")
    parser.add_argument("--prefix-tokens", type=int, default=8, help="virtual tokens of each prefix adapter")
    parser.add_argument("--contender", choices=CONTENDERS, help=argparse.SUPPRESS)  # a child: one contender's calls
    parser.add_argument("--registry", help=argparse.SUPPRESS)
    parser.add_argument(
        "--json", action="store_true", help="print the numbers as one JSON object on stdout (the report goes to stderr)"
    )
    args = parser.parse_args()
    if args.prompts < 4:
        parser.error(f"--prompts {args.prompts} is too few: give 4 or more (every fourth row is a prefix row)")
    args.reps = args.reps or (1 if args.quick else 2)
    dispatch(args, contender, run)


def run(args, measured: dict) -> None:
    import gc

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from adapterhub.registry import Registry

    vocab, count, new = 32000, args.prompts, args.new_tokens
    rounds = args.rounds or (2 if args.quick else 4)
    tmp = Path(tempfile.mkdtemp(prefix="bench-generate-"))
    started = time.perf_counter()
    base_dir = save_llama(tmp / "base", vocab, seed=0)
    registry = Registry(tmp / "registry")
    names, original = publish_adapters(registry, base_dir, count, args.targets.split(","), 1)
    publish_prefixes(registry, base_dir, count // 4, args.prefix_tokens, seed=3)
    names_of = labels(count)

    # ------------------------------------------------------------------ the check, once, in this process
    outputs: dict[str, list[list[int]]] = {}
    for key in CONTENDERS:
        runner, info = prepare(key, registry, args)
        outputs[key] = runner()
        if key == "peft_mixed":  # the PeftModel rebuilt from the registry runs what the published one ran
            ids, mask = info["ids"], info["mask"]
            if peft_generate(original, ids, mask, new, names[:count]) != outputs[key]:
                raise SystemExit("a PeftModel loaded from the registry's folders did not generate as the published one")
        if key == "base":
            described = info
        del runner, info
        gc.collect()
    del original
    gc.collect()
    lengths = described["mask"].sum(1).tolist()
    print(
        f"random Llama (hidden 512, 8 layers, 8/4 heads, MLP 1376, vocab {vocab}, {described['params'] / 1e6:.0f}M "
        f"parameters, fp32); {count} rank-8 LoRA adapters on {args.targets}, {count // 4} prefix adapters of "
        f"{args.prefix_tokens} virtual tokens; {count} prompts of {min(lengths)}-{max(lengths)} tokens, {new} new "
        f"tokens each, greedy; {described['threads']} torch threads; set up and checked in "
        f"{time.perf_counter() - started:.0f} s\n"
    )
    for key, rows in outputs.items():
        if key.startswith(("peft", "base")) and any(len(row) != new for row in rows):  # the Hub's: hub_generate
            raise SystemExit(f"{names_of[key]}: not every row generated {new} tokens: {sorted({len(r) for r in rows})}")
        outputs[key] = [[t for t in row if t >= len(SPECIALS)] for row in rows]  # as the Hub's text shows them
    check = agreement(outputs, count)
    print("check (greedy tokens, per row):")
    for line in check["lines"]:
        print(f"  {line}")
    measured["check"] = {k: v for k, v in check.items() if k != "lines"}
    prefixes = count // 4
    if check["hub_vs_peft_mixed"] < 0.9 * count or check["hub_mixed_distinct"] < 0.9 * count:
        raise SystemExit("the Hub's mixed batch did not run the adapters as PEFT did: the numbers would mislead")
    if check["mixed_prefix_lora_vs_hub_mixed"] < 0.9 * (count - prefixes) or check["prefix_rows_vs_base"] > 0:
        raise SystemExit("the Hub's LoRA + prefix batch did not run each row's adapter: the numbers would mislead")

    # ------------------------------------------------------------------ throughput, each contender in its process
    command = [
        sys.executable,
        __file__,
        "--registry",
        str(registry.root),
        "--reps",
        str(args.reps),
        "--prompts",
        str(count),
        "--new-tokens",
        str(new),
    ]
    if args.threads:
        command += ["--threads", str(args.threads)]
    results = in_processes(command, list(CONTENDERS), rounds, names_of.__getitem__)
    best = {key: max(values) for key, values in results.items()}
    median = {key: statistics.median(values) for key, values in results.items()}
    base, hub1, hub_mixed, peft_mixed = best["base"], best["hub_1"], best["hub_mixed"], best["peft_mixed"]
    print(
        f"\ngenerated tokens/s ({count} x {new} tokens per call; best of {rounds} alternating rounds x {args.reps} "
        "calls, each contender in its own process; median after)"
    )
    for key, value in best.items():
        print(f"  {names_of[key]:46s} {value:8.1f}/s   {value / base:5.2f} of base   (median {median[key]:7.1f})")
    print(f"  hub {count} adapters / base alone:          {hub_mixed / base:5.2f}   (goal >= 0.85)")
    print(f"  hub {count} adapters / PEFT mixed generate: {hub_mixed / peft_mixed:5.2f}x  (goal > 1)")
    print(f"  hub {count} adapters / hub 1 adapter:       {hub_mixed / hub1:5.2f}   (1.00 = flat)")
    print(f"  hub {count} LoRA + prefix / base alone:     {best['hub_mixed_prefix'] / base:5.2f}")
    measured.update(
        torch_threads=described["threads"],
        prompts=count,
        new_tokens=new,
        rounds=rounds,
        reps=args.reps,
        targets=args.targets.split(","),
        prefix_tokens=args.prefix_tokens,
        base_tokens_per_s=base,
        hub_tokens_per_s={"1": hub1, str(count): hub_mixed, f"{count}_mixed_prefix": best["hub_mixed_prefix"]},
        peft_mixed_tokens_per_s=peft_mixed,
        peft_single_tokens_per_s=best["peft_1"],
        ratios={
            "hub_mixed_over_base": hub_mixed / base,
            "hub_mixed_over_hub_1": hub_mixed / hub1,
            "hub_mixed_over_peft_mixed": hub_mixed / peft_mixed,
            "hub_mixed_prefix_over_base": best["hub_mixed_prefix"] / base,
        },
        median_tokens_per_s={names_of[key]: value for key, value in median.items()},
    )


def prepare(key: str, registry, args) -> tuple[Any, dict[str, Any]]:
    """What contender ``key`` needs, loaded in this process alone: a call that returns each row's new token ids,
    and facts about it (the prompts' ids and mask, the base's parameter count, torch's threads)."""
    import torch
    from transformers import AutoTokenizer

    from adapterhub.inference import Hub
    from adapterhub.tasks import get_task

    count, new = args.prompts, args.new_tokens
    lora, mixed = spreads(count)
    base_dir = registry.get("g0").card.base.id
    prompts = make_prompts(count, 32000, seed=2)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    ids, mask = left_padded(tokenizer, prompts, "cpu")
    info: dict[str, Any] = {"ids": ids, "mask": mask, "threads": torch.get_num_threads()}
    if key.startswith("peft"):
        from peft import PeftModel

        model = get_task("generate").build_model(base_dir, (), 0.0)
        info["params"] = sum(p.numel() for p in model.parameters())
        model = PeftModel.from_pretrained(model, registry.get(lora[0]).path, adapter_name=lora[0])
        for name in lora[1:]:  # each registry version folder is a plain PEFT adapter folder
            model.load_adapter(registry.get(name).path, adapter_name=name)
        model.eval()
        adapters = lora if key == "peft_mixed" else None
        return (lambda: peft_generate(model, ids, mask, new, adapters)), info
    hub = Hub(registry, device="cpu", max_adapters=count, batch_size=count)
    hub.load(lora[0])  # the base
    host = next(iter(hub._hosts.values()))
    info["params"] = sum(p.numel() for p in host.root.parameters())
    if key == "base":
        hub.unload_all()  # the base with nothing on its layers
        return (lambda: base_alone(host, ids, mask, new)), info
    rows = {"hub_1": [lora[0]] * count, "hub_mixed": lora, "hub_mixed_prefix": mixed}[key]
    info["hub"] = hub
    return (lambda: hub_generate(hub, prompts, rows, new)), info


def contender(args) -> list[float]:
    """One contender's timed calls (generated tokens/s) after one warm-up call, in this process alone."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from adapterhub.registry import Registry

    runner, info = prepare(args.contender, Registry(Path(args.registry)), args)
    runner()  # warm up: every adapter resident, every code path run once
    loads: list[str] = []
    if "hub" in info:
        info["hub"].on_load = lambda record, kind, seconds: loads.append(record.ref)
    rates = []
    for _ in range(args.reps):
        start = time.perf_counter()
        runner()
        rates.append(args.prompts * args.new_tokens / (time.perf_counter() - start))
    if loads:
        raise SystemExit(f"{len(loads)} adapter loads while measuring: not every adapter stayed hot")
    return rates


def agreement(outputs: dict[str, list[list[int]]], count: int) -> dict[str, Any]:
    """How many rows agree between contenders: the Hub's mixed batch against PEFT's (same adapters: should be
    all), against the base and against the Hub's one-adapter rows (other adapters: should be none but row 0);
    the LoRA + prefix batch's LoRA rows against the all-LoRA batch (same adapters: all), its prefix rows against
    the base (none)."""
    base, hub1, hub_mixed, peft_mixed = (outputs[k] for k in ("base", "hub_1", "hub_mixed", "peft_mixed"))
    same = lambda a, b: sum(x == y for x, y in zip(a, b, strict=True))  # noqa: E731
    _, spread = spreads(count)
    lora_rows = [i for i, name in enumerate(spread) if name.startswith("g")]
    prefix_rows = [i for i, name in enumerate(spread) if name.startswith("x")]
    pick = lambda rows, which: [rows[i] for i in which]  # noqa: E731
    with_prefix = outputs["hub_mixed_prefix"]
    result = {
        "rows": count,
        "hub_vs_peft_mixed": same(hub_mixed, peft_mixed),
        "hub_1_vs_peft_1": same(hub1, outputs["peft_1"]),
        "hub_mixed_vs_base": same(hub_mixed, base),
        "hub_mixed_vs_hub_1": same(hub_mixed, hub1),
        "hub_mixed_distinct": len({tuple(row) for row in hub_mixed}),
        "mixed_prefix_lora_vs_hub_mixed": same(pick(with_prefix, lora_rows), pick(hub_mixed, lora_rows)),
        "prefix_rows_vs_base": same(pick(with_prefix, prefix_rows), pick(base, prefix_rows)),
        "prefix_rows_distinct": len({tuple(with_prefix[i]) for i in prefix_rows}),
    }
    lora, prefixes = len(lora_rows), len(prefix_rows)
    result["lines"] = [
        f"hub {count} adapters = PEFT adapter_names: {result['hub_vs_peft_mixed']}/{count} rows identical",
        f"hub 1 adapter = PEFT 1 adapter:           {result['hub_1_vs_peft_1']}/{count} rows identical",
        f"hub {count} adapters = base alone:          {result['hub_mixed_vs_base']}/{count} rows (should be 0)",
        f"hub {count} adapters = hub 1 adapter:       {result['hub_mixed_vs_hub_1']}/{count} rows (only row 0's "
        "adapter is the same)",
        f"distinct continuations in the mixed batch: {result['hub_mixed_distinct']}/{count}",
        f"LoRA + prefix batch, LoRA rows = all-LoRA batch: {result['mixed_prefix_lora_vs_hub_mixed']}/{lora} rows "
        "identical",
        f"LoRA + prefix batch, prefix rows = base alone: {result['prefix_rows_vs_base']}/{prefixes} rows (should be "
        f"0); {result['prefix_rows_distinct']}/{prefixes} distinct",
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

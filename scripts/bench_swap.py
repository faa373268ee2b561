"""Hot-swap inference measured side by side in one run: swap latency (hot, warm, cold, and cold from a remote),
resident memory as adapters grow against merged full-model copies, and mixed-adapter batch throughput against
PEFT.

Base: all-MiniLM-L6-v2 (embedded), fp32 on the CPU. Adapters: 256 rank-8 LoRA adapters on
query/key/value/dense with a 2-label head, random weights, published into a temporary registry (the weights'
values do not change the cost). Throughput: the first 256 SST-2 dev sentences, batches of 32, every contender
given the inputs in the same length-sorted order (tokenization included): the base alone, and the Hub's mixed
batch with 1, 8, 64 and 256 distinct adapters spread over the requests (with 256, one sentence each), every
adapter hot (checked: no adapter loads while the rows are measured, and every result names the adapter it was
asked for). PEFT contenders use 8 adapters loaded into one ``PeftModel``: per request ``set_adapter`` then a
forward of that one request, and PEFT's own mixed batch (``adapter_names=``). Each contender runs in a process
of its own (loading its base and adapters, one warm-up pass, then ``--reps`` timed passes), so none inherits
another's threads, caches or allocator state; the processes alternate within each round (A B C ..., A B C ...)
and the best pass of each contender is reported, the median beside it. The base alone runs with no adapter
loaded (no hooks on its layers). Memory per hot adapter
is the Hub's own accounting (the adapters' tensor bytes over their count) and the process's RSS growth per
adapter, both with 256 hot.

Cold from a remote: one of the adapters pushed to a local S3 endpoint (moto's S3 server, started here as a
separate process on loopback, as the tests do), then loaded N times by a Hub with ``remote=`` whose local
registry has no copy (removed before each load): resolve on the remote, download, verify every sha256 in
staging, adopt, load (sha256 and base fingerprint again) and the first prediction of one sentence. The row
"cold to first prediction" is the same request with the version in the local registry, measured in turn with
it; "of which the pull" is the time until the version is in the local registry.

    python scripts/bench_swap.py                 # about 5 minutes here
    python scripts/bench_swap.py --quick         # fewer repetitions
    python scripts/bench_swap.py --latency-only --json   # the latency rows alone, as one JSON object on stdout
    python scripts/bench_swap.py --throughput-only --json  # memory and throughput rows alone (no moto needed)
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import itertools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from contenders import dispatch, in_processes

SST_DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst" / "stsa.binary.dev"
FALLBACK = [
    "a gripping, beautifully acted drama",
    "the plot never comes together and the jokes fall flat",
    "an uneven but often charming comedy",
    "i wanted my two hours back",
]


def sentences(n: int) -> list[str]:
    if SST_DEV.is_file():
        lines = [line.split(" ", 1)[1].strip() for line in SST_DEV.read_text().splitlines() if " " in line]
        return lines[:n]
    print(f"({SST_DEV} not found: using {len(FALLBACK)} built-in sentences, repeated)")
    return [FALLBACK[i % len(FALLBACK)] for i in range(n)]


def publish_adapters(registry, count: int, base_id: str | None = None) -> list[str]:
    """``count`` random rank-8 adapters published from one PEFT model (on ``base_id``, the embedded MiniLM by
    default); returns their names."""
    import torch
    from peft import get_peft_model

    from adapterhub.base import DEFAULT_BASE, fingerprint
    from adapterhub.methods import LoraSettings
    from adapterhub.registry import BaseInfo, Card
    from adapterhub.tasks import get_task

    task = get_task("sentiment")
    model = task.build_model(base_id, ("negative", "positive"), 0.0)
    base = BaseInfo(id=base_id or DEFAULT_BASE, fingerprint=fingerprint(model))
    settings = LoraSettings(r=8, alpha=16, dropout=0.0)
    model = get_peft_model(model, settings.peft_config("SEQ_CLS", model))
    names = []
    generator = torch.Generator().manual_seed(0)
    for i in range(count):
        with torch.no_grad():
            for param in model.parameters():
                if param.requires_grad:
                    param.copy_(torch.randn(param.shape, generator=generator) * 0.02)
        card = Card(
            task="sentiment",
            task_type="SEQ_CLS",
            method="lora",
            base=base,
            labels=("negative", "positive"),
            hyperparameters={"max_length": 128},
        )
        with tempfile.TemporaryDirectory() as out:
            model.save_pretrained(out)
            registry.publish(f"a{i}", out, card)
        names.append(f"a{i}")
    return names


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank: with 100 values p99 is the second largest)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(values: list[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds and the number of samples, for ``--json``."""
    return {
        "p50_ms": statistics.median(values) * 1e3,
        "p95_ms": percentile(values, 0.95) * 1e3,
        "p99_ms": percentile(values, 0.99) * 1e3,
        "n": len(values),
    }


def ms(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values) * 1e3:8.3f} ms   p95 {percentile(values, 0.95) * 1e3:8.3f} ms   "
        f"p99 {percentile(values, 0.99) * 1e3:8.3f} ms"
    )


def rss() -> int:
    gc.collect()
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument(
        "--remote-loads", type=int, default=0, help="loads from the remote (default 100; 30 with --quick)"
    )
    parser.add_argument("--latency-only", action="store_true", help="only the swap latency rows")
    parser.add_argument(
        "--throughput-only",
        action="store_true",
        help="only the memory and throughput rows (no swap latency, no remote: no moto server)",
    )
    parser.add_argument("--rounds", type=int, default=0, help="measured throughput rounds (default 5; 3 with --quick)")
    parser.add_argument("--reps", type=int, default=2, help="timed passes per contender process and round")
    parser.add_argument("--contender", help=argparse.SUPPRESS)  # run in a child process: one contender's passes
    parser.add_argument("--registry", help=argparse.SUPPRESS)
    parser.add_argument(
        "--json", action="store_true", help="print the numbers as one JSON object on stdout (the report goes to stderr)"
    )
    args = parser.parse_args()
    if args.latency_only and args.throughput_only:
        parser.error("--latency-only and --throughput-only exclude each other; give one, or neither for both")
    dispatch(args, contender, run)


def run(args, measured: dict) -> None:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from adapterhub.inference import Hub
    from adapterhub.registry import Registry

    repeat = 50 if args.quick else 200
    remote_loads = args.remote_loads or (30 if args.quick else 100)
    rounds = args.rounds or (3 if args.quick else 5)
    tmp = Path(tempfile.mkdtemp(prefix="bench-swap-"))
    registry = Registry(tmp / "registry")
    names = publish_adapters(registry, 100 if args.latency_only else 256)
    print(
        f"published {len(names)} rank-8 adapters of all-MiniLM-L6-v2 ({sys.platform}, {torch.get_num_threads()} "
        "torch threads)\n"
    )
    measured["torch_threads"] = torch.get_num_threads()

    # ---------------------------------------------------------------------------------------------- latency
    hub = Hub(registry, device="cpu", max_adapters=8)
    if not args.throughput_only:
        swap_latency(args, registry, hub, names, tmp, repeat, remote_loads, measured)
    if args.latency_only:
        return

    # ---------------------------------------------------------------------------------------------- memory
    hub.load(names[0])  # the base, loaded once and shared below
    hub.unload_all()
    host = next(iter(hub._hosts.values()))
    base_bytes = host.nbytes
    before = rss()
    print(f"\nresident memory (base {base_bytes / 1e6:.1f} MB fp32)")
    print("  adapters   hub: base + adapters     RSS growth    merged copies      ratio")
    hub.max_adapters = 256
    for count in (1, 10, 100, 256):
        for name in names[:count]:
            hub.load(name)
        adapters = sum(hub._hot[ref].adapter.nbytes for ref in hub.loaded)
        ours = base_bytes + adapters
        merged = count * base_bytes
        grown = rss() - before
        print(
            f"  {count:8d}   {ours / 1e6:10.1f} MB       {grown / 1e6:8.1f} MB  {merged / 1e6:10.1f} MB"
            f"   {merged / ours:8.1f}x"
        )
        measured.setdefault("memory", []).append(
            {"adapters": count, "hub_bytes": ours, "merged_bytes": merged, "rss_growth_bytes": grown}
        )
    hot = len(hub.loaded)
    measured["hot_adapter_bytes"] = {"accounted": adapters / hot, "rss_growth": grown / hot, "adapters": hot}
    print(
        f"  per hot adapter ({hot} hot): {adapters / hot / 1e3:.1f} kB accounted (tensor bytes), "
        f"{grown / hot / 1e3:.1f} kB RSS growth"
    )

    # ---------------------------------------------------------------------------------------------- throughput
    texts = sentences(256)
    hub.unload_all()
    command = [sys.executable, __file__, "--registry", str(registry.root), "--reps", str(args.reps)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    results = in_processes(command, list(CONTENDERS), rounds)
    best = {label: max(values) for label, values in results.items()}
    measured["throughput_per_s"] = best
    measured["throughput_median_per_s"] = {label: statistics.median(values) for label, values in results.items()}
    hub_rates = {str(n): best[_hub_label(n)] for n in SPREADS}
    base = best["base alone (no adapter)"]
    measured.update(
        base_per_s=base,
        hub_per_s=hub_rates,
        peft_mixed_per_s=best["PEFT mixed batch (adapter_names)"],
        peft_set_adapter_per_s=best["PEFT set_adapter per request"],
        throughput_rounds=rounds,
    )
    print(
        f"\nthroughput: {len(texts)} SST-2 sentences, batches of 32 (best of {rounds} alternating rounds x "
        f"{args.reps} passes, each contender in its own process; samples/s, median after)"
    )
    for label, value in best.items():
        print(
            f"  {label:34s} {value:8.1f}/s   {value / base:5.2f} of base   (median "
            f"{statistics.median(results[label]):7.1f})"
        )
    ours = hub_rates["8"]
    print(
        f"  hub 8 adapters / PEFT set_adapter per request: {ours / best['PEFT set_adapter per request']:.2f}x "
        "(goal >= 3)"
    )
    print(f"  hub 8 adapters / PEFT mixed batch:             {ours / best['PEFT mixed batch (adapter_names)']:.2f}x")
    print(f"  hub 64 / 1 adapters:                           {hub_rates['64'] / hub_rates['1']:.2f} (1.00 = flat)")
    print(
        f"  hub 256 / 1 adapters: {hub_rates['256'] / hub_rates['1']:.2f} (goal >= 0.90)   "
        f"hub 8 / base: {ours / base:.2f} (goal >= 0.95)"
    )
    measured["ratios"] = {
        "hub_256_over_hub_1": hub_rates["256"] / hub_rates["1"],
        "hub_8_over_base": ours / base,
        "hub_64_over_hub_1": hub_rates["64"] / hub_rates["1"],
    }


SPREADS = (1, 8, 64, 256)


def _hub_label(n: int) -> str:
    return f"hub mixed batch, {n} adapter{'s' if n > 1 else ''}"


CONTENDERS = (
    "base alone (no adapter)",
    "PEFT set_adapter per request",
    "PEFT mixed batch (adapter_names)",
    *(_hub_label(n) for n in SPREADS),
)


def contender(args) -> list[float]:
    """One contender's timed passes (samples/s) over the registry's adapters ``a0`` …, in this process alone."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from adapterhub.inference import Hub
    from adapterhub.registry import Registry

    label = args.contender
    registry = Registry(Path(args.registry))
    names = [f"a{i}" for i in range(max(SPREADS))]
    hub = Hub(registry, device="cpu", max_adapters=max(SPREADS))
    hub.load(names[0])  # the base
    host = next(iter(hub._hosts.values()))
    texts = sentences(256)
    texts.sort(key=lambda t: len(host.tokenizer(t)["input_ids"]), reverse=True)
    peft_eight = [f"p{i % 8}" for i in range(len(texts))]
    if label == CONTENDERS[0]:
        hub.unload_all()  # the base with nothing on its layers
        runner = lambda: base_alone(host, texts)  # noqa: E731
    elif label.startswith("PEFT"):
        hub.unload_all()
        model = peft_baseline(8)
        run_peft = peft_per_request if "set_adapter" in label else peft_mixed
        runner = lambda: run_peft(model, host, texts, peft_eight)  # noqa: E731
    else:
        n = next(n for n in SPREADS if label == _hub_label(n))
        spread = [names[i % n] for i in range(len(texts))]
        runner = lambda: hub_mixed(hub, texts, spread)  # noqa: E731
    runner()  # warm up: every adapter resident, every code path run once
    loads: list[str] = []
    hub.on_load = lambda record, kind, seconds: loads.append(record.ref)
    rates = []
    for _ in range(args.reps):
        start = time.perf_counter()
        runner()
        rates.append(len(texts) / (time.perf_counter() - start))
    if loads:
        raise SystemExit(f"{len(loads)} adapter loads while measuring: not every adapter stayed hot")
    return rates


def swap_latency(args, registry, hub, names, tmp, repeat, remote_loads, measured) -> None:
    """The swap latency rows: hot, warm, cold, cold and remote to first prediction, PEFT's own swaps."""
    from adapterhub.inference import Hub

    for name in names[:8]:
        hub.load(name)
    resident = itertools.cycle(names[:8])
    hot = timed(lambda: switch(hub, next(resident)), repeat)
    small = Hub(registry, device="cpu", max_adapters=1, warm_adapters=8)
    small.load(names[0])
    small.load(names[1])
    pair = itertools.cycle(names[:2])
    warm = timed(lambda: switch(small, next(pair)), repeat)
    on_disk = itertools.cycle(names[8:])

    def cold_once() -> None:
        name = next(on_disk)
        hub.load(name)
        hub.unload(name)

    cold = timed(cold_once, repeat)
    cold_first, remote_first, remote_pull = remote_latency(registry, names[-1], tmp, remote_loads)
    peft_hot, peft_cold = peft_latency(peft_baseline(8), tmp, repeat)
    rows = {
        "hot": ("hot  (resident, switch)", hot, "   goal p50 < 1 ms"),
        "warm": ("warm (from the CPU-side cache)", warm, ""),
        "cold": ("cold (registry on disk, sha256)", cold, "   goal p50 < 20 ms"),
        "cold_first_prediction": ("cold to first prediction", cold_first, ""),
        "remote_first_prediction": ("remote (S3) to first prediction", remote_first, f"   {remote_loads} loads"),
        "remote_pull": ("  of which the pull (S3 -> disk)", remote_pull, ""),
        "peft_set_adapter": ("PEFT set_adapter (resident)", peft_hot, ""),
        "peft_load_adapter": ("PEFT load_adapter (from disk)", peft_cold, ""),
    }
    print("swap latency (switch the adapter the next request uses)")
    for label, values, note in rows.values():
        print(f"  {label:33s}{ms(values)}{note}")
    measured["latency"] = {key: summary(values) for key, (_, values, _) in rows.items()}


def remote_latency(registry, name: str, tmp: Path, loads: int) -> tuple[list[float], list[float], list[float]]:
    """Seconds from a request for ``name`` to its first prediction: from the local registry (the adapter cold on
    disk), and from a remote on a local S3 endpoint with no local copy (pulled, verified, adopted, loaded); and
    the pull alone, the part of the second that the first does not have."""
    from adapterhub.inference import Hub
    from adapterhub.registry import Registry
    from adapterhub.remote import Remote, RemoteRegistry, push

    # moto accepts any credentials: these keep the bench off whatever the environment holds for real S3
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    with s3_server() as endpoint:
        import boto3

        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
        remote = RemoteRegistry(Remote("bench", "s3://bench/adapters", endpoint_url=endpoint))
        push(registry, remote, [name])
        serving = Registry(tmp / "serving")
        hub = Hub(serving, device="cpu", remote=remote)
        text = "a gripping, beautifully acted drama"
        hub.predict(text, adapter=name)  # the base loads once, outside the measurement

        local, remote_total, pull_alone = [], [], []
        for _ in range(loads):  # interleaved, so both paths meet the same load on the machine
            hub.unload(name)  # neither hot nor warm: cold in the local registry
            start = time.perf_counter()
            hub.predict(text, adapter=name)
            local.append(time.perf_counter() - start)
            hub.unload(name)
            serving.remove(name, force=True)  # not in the local registry either: the request pulls it
            start = time.perf_counter()
            hub.resolve(name)  # what predict does first: resolve on the remote, download, verify, adopt
            pulled = time.perf_counter()
            hub.predict(text, adapter=name)  # then as from the local registry: load, verify, forward
            remote_total.append(time.perf_counter() - start)
            pull_alone.append(pulled - start)
        return local, remote_total, pull_alone


@contextlib.contextmanager
def s3_server():
    """``http://127.0.0.1:PORT`` of moto's S3 server, run as a separate process for the block."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    message = f"moto's S3 server did not start on port {port} (pip install 'moto[server]')"
                    raise SystemExit(message) from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def switch(hub, name: str) -> None:
    """Make ``name`` the adapter of the calls that follow (what a request for another adapter costs)."""
    with hub.using(name):
        pass


def base_alone(host, texts: list[str]) -> None:
    from adapterhub.models import pool

    with torch_inference():
        for start in range(0, len(texts), 32):
            enc = host.tokenizer(
                texts[start : start + 32], padding=True, truncation=True, max_length=128, return_tensors="pt"
            )
            states = host.root.body(**enc).last_hidden_state
            pool(states, enc["attention_mask"], "mean")


def hub_mixed(hub, texts: list[str], adapters: list[str]) -> None:
    results = hub.predict(texts, adapter=adapters, batch_size=32)
    if [r.adapter.split("@")[0] for r in results] != adapters:
        raise SystemExit("the Hub answered some rows with another adapter than asked")


def peft_baseline(count: int):
    """The usual PEFT set-up: AutoModelForSequenceClassification with ``count`` rank-8 LoRA adapters (random
    weights, names p0 …) on query/key/value/dense, as one ``PeftModel``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSequenceClassification

    from adapterhub.base import quiet_transformers, resolve_base

    with quiet_transformers():
        model = AutoModelForSequenceClassification.from_pretrained(resolve_base(None), num_labels=2)
    config = LoraConfig(
        task_type="SEQ_CLS",
        r=8,
        lora_alpha=16,
        target_modules=["query", "key", "value", "dense"],
        init_lora_weights=False,
    )
    torch.manual_seed(0)
    model = get_peft_model(model, config, adapter_name="p0")
    for i in range(1, count):
        model.add_adapter(f"p{i}", config)
    return model.eval()


def peft_per_request(model, host, texts: list[str], adapters: list[str]) -> None:
    with torch_inference():
        for text, name in zip(texts, adapters, strict=True):
            model.set_adapter(name)
            model(**host.tokenizer(text, truncation=True, max_length=128, return_tensors="pt"))


def peft_mixed(model, host, texts: list[str], adapters: list[str]) -> None:
    with torch_inference():
        for start in range(0, len(texts), 32):
            enc = host.tokenizer(
                texts[start : start + 32], padding=True, truncation=True, max_length=128, return_tensors="pt"
            )
            model(**enc, adapter_names=adapters[start : start + 32])


def peft_latency(model, tmp: Path, repeat: int) -> tuple[list[float], list[float]]:
    """PEFT's own swap costs: set_adapter among the resident adapters, load_adapter from a saved directory."""
    model.save_pretrained(tmp / "peft", selected_adapters=["p0"])
    resident = itertools.cycle(list(model.peft_config))
    hot = timed(lambda: model.set_adapter(next(resident)), repeat)
    model.set_adapter("p0")

    def cold_once() -> None:
        model.load_adapter(str(tmp / "peft" / "p0"), adapter_name="fresh")
        model.delete_adapter("fresh")

    return hot, timed(cold_once, repeat)


def torch_inference():
    import torch

    return torch.inference_mode()


if __name__ == "__main__":
    main()

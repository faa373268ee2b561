"""``hub serve`` under concurrent load, measured side by side in one run, over loopback only.

Two real ``hub serve`` processes on free 127.0.0.1 ports, each preloading every adapter:

* **batching on** (``--max-batch 32 --max-wait-ms 5``): traffic spread evenly over 1, 8 and 32 LoRA
  adapters, and over a head-only adapter, whose body is the bare base (**the no-adapter bound**: the same
  server, HTTP and JSON, with nothing added to the base's forward pass but a linear head);
* **batching off** (``--max-batch 1``): the same traffic over 1, 8 and 32 LoRA adapters, one forward pass
  per request.

and a **shadow row**: two batching servers alive side by side, one plain and one with ``--shadow a0=a1`` (every
request for ``a0`` also runs ``a1`` in the same batch), both sent the same one-adapter traffic, measured in
turns (so drift hits both alike); the ratio of their requests/s is what a shadow costs. Its reference, in the same
turns: the plain server sent each sentence twice per request, i.e. the rows a shadow adds as plain inputs.

Adapters: random rank-8 LoRA on query/key/value/dense of all-MiniLM-L6-v2 (CPU; ``--dtype`` fp32 or bf16, and
``--off-dtype`` for the batching-off server, so each side can run at its best) with a 2-label head.
Clients: ``--clients`` concurrent HTTP/1.1 keep-alive connections (a minimal asyncio client), each sending one SST-2 dev
sentence per ``POST /v1/predict``; ``--requests`` per measurement (after a warm-up), best of ``--rounds``.
Everything is bounded: a fixed request count per measurement and ``--timeout`` seconds for the whole run.

    python scripts/bench_serve.py                   # about 3 minutes here
    python scripts/bench_serve.py --quick           # fewer requests, one round
    python scripts/bench_serve.py --only-shadow     # the shadow row alone
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_swap import publish_adapters, sentences


@dataclass
class Run:
    label: str
    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def publish_head(registry, base_id: str | None = None) -> str:
    """A head-only adapter: its LoRA stays at PEFT's zero initialisation, so the body is the bare base."""
    import torch
    from peft import get_peft_model

    from adapterhub.base import DEFAULT_BASE, fingerprint
    from adapterhub.methods import HeadSettings
    from adapterhub.registry import BaseInfo, Card
    from adapterhub.tasks import get_task

    task = get_task("sentiment")
    model = task.build_model(base_id, ("negative", "positive"), 0.0)
    base = BaseInfo(id=base_id or DEFAULT_BASE, fingerprint=fingerprint(model))
    model = get_peft_model(model, HeadSettings().peft_config("SEQ_CLS", model))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.requires_grad and "classifier" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.02)
    card = Card(
        task="sentiment",
        task_type="SEQ_CLS",
        method="head",
        base=base,
        labels=("negative", "positive"),
        hyperparameters={"max_length": 128},
    )
    with tempfile.TemporaryDirectory() as out:
        model.save_pretrained(out)
        registry.publish("base-only", out, card)
    return "base-only"


def device() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()} (CUDA)"
    return f"{os.cpu_count()} CPU cores"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One ``hub serve`` process; stopped with SIGTERM."""

    def __init__(self, registry: Path, adapters: list[str], *flags: str) -> None:
        import httpx

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "adapterhub", "--registry", str(registry), "serve", "--port", str(self.port)]
        for name in adapters:
            args += ["--adapter", name]
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed with the process)
        self.process = subprocess.Popen([*args, *flags], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while True:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise SystemExit(f"hub serve exited with {self.process.returncode}:\n{self.log.read()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("hub serve did not start within 300 s")
            time.sleep(0.25)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Connection:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: on a 2-core machine the load generator shares
    the CPU with the server, so it must cost as little as possible (a general client such as httpx costs
    several times more per request)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        assert self.reader is not None
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def load(url: str, texts: list[str], adapters: list[str], clients: int, count: int, copies: int = 1) -> Run:
    """``count`` requests from ``clients`` concurrent connections; request i uses adapter i mod len(adapters) and
    sends its sentence ``copies`` times (as that many inputs)."""
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    errors = 0
    counter = iter(range(count))
    bodies = [
        json.dumps({"adapter": adapters[i % len(adapters)], "inputs": [texts[i % len(texts)]] * copies}).encode()
        for i in range(count)
    ]

    async def client() -> None:
        nonlocal errors
        connection = Connection(host, int(port))
        try:
            for i in counter:
                started = time.perf_counter()
                try:
                    status, _ = await connection.post("/v1/predict", bodies[i])
                    ok = status == 200
                except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                    ok = False
                    connection.close()
                    connection = Connection(host, int(port))
                latencies.append(time.perf_counter() - started)
                errors += not ok
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return Run("", count, time.perf_counter() - started, latencies, errors)


def measure(server: Server, configs: dict[str, list[str]], args, texts: list[str]) -> dict[str, Run]:
    """Every traffic spread on ``server``, rounds interleaved and rotated (so drift on a noisy machine, and
    whatever the first measurement of a round pays, hits all alike); the best round of each."""
    for adapters in configs.values():  # warm-up: every adapter resident, every code path run
        asyncio.run(load(server.url, texts, adapters, args.clients, max(args.clients, len(adapters) * 2)))
    rounds: dict[str, list[Run]] = {label: [] for label in configs}
    labels = list(configs)
    for k in range(args.rounds):  # each round starts with another spread: no spread always runs first
        for label in labels[k % len(labels) :] + labels[: k % len(labels)]:
            rounds[label].append(asyncio.run(load(server.url, texts, configs[label], args.clients, args.requests)))
    best = {}
    for label, runs in rounds.items():
        run = max(runs, key=lambda r: r.rate)
        run.label, run.errors = label, sum(r.errors for r in runs)
        best[label] = run
        print(
            f"  {label:<32} {run.rate:7.1f} req/s  p50 {run.pct(0.5):7.1f} ms  p99 {run.pct(0.99):7.1f} ms"
            f"  errors {run.errors}",
            flush=True,
        )
    return best


def shadow_row(registry: Path, names: list[str], args, texts: list[str]) -> float:
    """Requests/s for ``names[0]`` without and with ``--shadow names[0]=names[1]``, and the cost of the rows a
    shadow adds as plain inputs: a third server without a shadow, sent each sentence twice per request, with twice
    the ``--max-batch`` (so its passes carry the rows of the shadow's). All three up at once and measured in
    adjacent turns (the order rotates each time), so what else runs on the machine weighs on every side of a turn
    alike; the median of the turns' ratios. Checks that the shadow compared every input it was sent."""
    import statistics

    import httpx

    flags = ["--max-wait-ms", "5", "--dtype", args.dtype, "--max-queue", "4096"]
    batch = args.max_batch or 32
    pair = f"{names[0]}={names[1]}"
    contenders = {  # label: (server, copies of the sentence per request)
        "no shadow": (Server(registry, names[:1], "--max-batch", str(batch), *flags), 1),
        "one shadow": (
            Server(
                registry,
                names[:1],
                "--max-batch",
                str(batch),
                *flags,
                "--shadow",
                pair,
                "--shadow-share",
                str(args.shadow_share),
            ),
            1,
        ),
        "no shadow, sentence twice": (Server(registry, names[:1], "--max-batch", str(2 * batch), *flags), 2),
    }
    print(
        f"shadow (--max-batch {batch} {' '.join(flags)}; --shadow {pair} --shadow-share {args.shadow_share:g} on "
        "one; the sentence twice per request "
        f"with --max-batch {2 * batch} on a third):",
        flush=True,
    )
    labels = list(contenders)
    turns: list[dict[str, Run]] = []
    shadowed = contenders["one shadow"][0]
    try:
        for server, copies in contenders.values():
            asyncio.run(load(server.url, texts, names[:1], args.clients, args.clients * 2, copies))
        before = httpx.get(f"{shadowed.url}/v1/shadows/{names[0]}").json()["total"]
        for k in range(args.shadow_pairs):
            order = labels[k % 3 :] + labels[: k % 3]  # none always goes first
            turn = {}
            for label in order:
                server, copies = contenders[label]
                turn[label] = asyncio.run(load(server.url, texts, names[:1], args.clients, args.requests, copies))
            turns.append(turn)
        report = httpx.get(f"{shadowed.url}/v1/shadows/{names[0]}").json()
    finally:
        for server, _ in contenders.values():
            server.stop()
    for label in labels:
        runs = [t[label] for t in turns]
        run = max(runs, key=lambda r: r.rate)
        print(
            f"  {label:<32} {run.rate:7.1f} req/s  p50 {run.pct(0.5):7.1f} ms  p99 {run.pct(0.99):7.1f} ms"
            f"  errors {sum(r.errors for r in runs)}  (best of {len(runs)})",
            flush=True,
        )
    ratios = [t["one shadow"].rate / t["no shadow"].rate for t in turns]
    rows = [t["no shadow, sentence twice"].rate / t["no shadow"].rate for t in turns]
    print(f"  one shadow / no shadow, each turn: {' '.join(f'{r:.2f}' for r in ratios)}", flush=True)
    print(
        f"  sentence twice / once (the shadow's rows as plain inputs), each turn: {' '.join(f'{r:.2f}' for r in rows)}"
        f"; median {statistics.median(rows):.2f}",
        flush=True,
    )
    own = statistics.median(a / b for a, b in zip(ratios, rows, strict=True))
    if args.shadow_share == 1:  # with a smaller share the shadow adds fewer rows than the reference does
        print(f"  one shadow / sentence twice {own:.2f} (1.00: a shadow costs its rows and nothing more)", flush=True)
    compared = report["total"] - before
    sent = sum(t["one shadow"].requests for t in turns)
    print(
        f"  the shadow compared {compared} of {sent} inputs sent (share {args.shadow_share:g}), "
        f"{report['errors']} shadow errors",
        flush=True,
    )
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, help="requests per measurement [768; --quick: 256]")
    parser.add_argument("--rounds", type=int, help="rounds [3; --quick: 1]")
    parser.add_argument("--max-batch", type=int, default=0, help="the batching server's --max-batch [its default]")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds for the whole run")
    parser.add_argument(
        "--dtype", default="fp32", choices=["fp32", "bf16", "fp16"], help="hub serve --dtype of the base (fp16: CUDA)"
    )
    parser.add_argument(
        "--off-dtype",
        choices=["fp32", "bf16", "fp16"],
        help="the batching-off server's dtype [--dtype]: each at its best",
    )
    parser.add_argument("--base", help="a local base model directory or hub id [the embedded all-MiniLM-L6-v2]")
    parser.add_argument("--quick", action="store_true", help="fewer requests and one round, unless given")
    parser.add_argument("--only-shadow", action="store_true", help="measure the shadow row alone")
    parser.add_argument(
        "--shadow-share", type=float, default=1.0, help="the shadowed server's --shadow-share [every request]"
    )
    parser.add_argument("--shadow-pairs", type=int, default=8, help="turns of the shadow row (three contenders each)")
    args = parser.parse_args()
    args.off_dtype = args.off_dtype or args.dtype
    args.requests = (256 if args.quick else 768) if args.requests is None else args.requests
    args.rounds = (1 if args.quick else 3) if args.rounds is None else args.rounds
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(SystemExit(f"stopped after {args.timeout:g} s")))
    signal.alarm(int(args.timeout))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from adapterhub.registry import Registry

    texts = sentences(872)
    with tempfile.TemporaryDirectory() as tmp:
        registry = Registry(Path(tmp) / "registry")
        names = publish_adapters(registry, 2 if args.only_shadow else 32, args.base)
        bound_name = "" if args.only_shadow else publish_head(registry, args.base)
        spreads = {1: names[:1], 8: names[:8], 32: names}
        print(
            f"{args.clients} clients, {args.requests} single-sentence requests per measurement, best of "
            f"{args.rounds}; {args.base or 'MiniLM'} on {device()}; batching on in {args.dtype}, "
            f"off in {args.off_dtype}",
            flush=True,
        )
        ratio = shadow_row(registry.root, names, args, texts)
        goal = " (goal >= 0.75, with a shadow on every request)" if args.shadow_share == 1 else ""
        print(f"  one shadow / no shadow {ratio:.2f}, the median turn{goal}\n", flush=True)
        if args.only_shadow:
            return
        results: dict[str, Run] = {}
        batching = ["--max-batch", str(args.max_batch)] if args.max_batch else []
        servers = [
            ("on", [*batching, "--max-wait-ms", "5", "--dtype", args.dtype]),
            ("off", ["--max-batch", "1", "--max-wait-ms", "0", "--dtype", args.off_dtype]),
        ]
        for mode, flags in servers:
            print(f"batching {mode} ({' '.join(flags)}):", flush=True)
            server = Server(registry.root, [*names, bound_name], *flags, "--max-queue", "4096")
            configs = {f"{n} LoRA adapter{'s' * (n > 1)}": adapters for n, adapters in spreads.items()}
            if mode == "on":
                configs = {"no adapter (head only, bound)": [bound_name], **configs}
            try:
                runs = measure(server, configs, args, texts)
            finally:
                server.stop()
            for label, run in runs.items():
                n = label.split()[0]
                results["bound" if n == "no" else f"{mode}{n}"] = run

    bound = results["bound"].rate
    print("\nratios (requests/s):")
    for n in spreads:
        on, off = results[f"on{n}"].rate, results[f"off{n}"].rate
        print(
            f"  {n:>2} adapters: batching on / no-adapter bound {on / bound:5.2f}   "
            f"batching on / batching off {on / off:5.2f}"
        )
    errors = sum(r.errors for r in results.values())
    on8 = results["on8"].rate
    print(
        f"\ngoals: errors {errors} (0); 8 adapters / bound {on8 / bound:.2f} (>= 0.8); "
        f"8 adapters on / off {on8 / results['off8'].rate:.2f} (>= 3)"
    )


if __name__ == "__main__":
    main()

"""Run every refusal and hardening case of the `hub` command and the server as a user would, and print one
markdown row per case: the command (or request), the exit code (or HTTP status), the one line printed, seconds.

    python scripts/refusal_table.py            # about 3 minutes on 2 CPU cores; tiny random bases, offline

Each CLI case is a fresh `hub` process (so its time includes start-up); HTTP cases go to one real `hub serve`
process on loopback. Bases are tiny random BERT and GPT-2 models built here (2 layers, hidden 32).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HUB = [sys.executable, "-m", "adapterhub"]
ROWS: list[tuple[str, str, str, str]] = []


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="adapterhub-table-"))
    try:
        os.chdir(work)
        env = prepare(work)
        cli_cases(work, env)
        http_cases(work, env)
    finally:
        os.chdir(ROOT)
        shutil.rmtree(work, ignore_errors=True)
    print("| command | exit | printed | seconds |")
    print("|---|---|---|---|")
    for row in ROWS:
        print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")


def prepare(work: Path) -> dict[str, str]:
    from tests.tiny import save_tiny_bert, save_tiny_gpt2
    from tests.training.conftest import write_classification

    save_tiny_bert(work / "bert", seed=0)
    save_tiny_gpt2(work / "gpt2")
    write_classification(work / "reviews.csv", n=64)
    lines = ["text,label"] + [f"text number {i},{i % 2}" for i in range(40)]
    (work / "numbered.csv").write_text("\n".join(lines) + "\n")
    poems = [{"prompt": "write about the sea", "response": "the sea is blue and wide"}] * 16
    (work / "poems.jsonl").write_text("".join(json.dumps(p) + "\n" for p in poems))
    (work / "bad.yaml").write_text("lr: abc\nepohcs: 2\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ADAPTERHUB_REGISTRY": str(work / "reg"), "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONWARNINGS", None)
    train = ["train", "--base", "bert", "--data", "reviews.csv", "--epochs", "1", "--batch-size", "16"]
    prefix = ["--method", "prefix", "--prefix-tokens", "4"]
    for extra in ([], [], prefix):  # rev@1, rev@2 (LoRA), rev@3 (prefix)
        run([*train, "--name", "rev", *extra], env)
    run(["tag", "rev@2", "prod"], env)
    run(
        ["train", "--task", "generate", "--base", "gpt2", "--data", "poems.jsonl", "--name", "poet", "--epochs", "1"],
        env,
    )
    return env


def run(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*HUB, *args], env=env, capture_output=True, text=True, input=stdin, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"setup step {args} failed: {done.stderr[-2000:]}")
    return done


def case(shown: str, args: list[str], env: dict[str, str], *, pick: str = "error") -> None:
    """Run `hub ARGS`; record its exit code and the line that matters (the error, or the first of stdout)."""
    started = time.perf_counter()
    done = subprocess.run([*HUB, *args], env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    err = [line for line in done.stderr.splitlines() if line.strip()]
    out = [line for line in done.stdout.splitlines() if line.strip()]
    if pick == "warning":
        line = next((x for x in err if x.startswith("warning:")), "(no warning)")
    elif pick == "noise":
        noisy = [x for x in err if any(w in x for w in ("Warning", "deprecat", "[transformers]", "Traceback"))]
        line = f"{len(noisy)} library warning lines in stderr; stdout: {out[0] if out else ''}"
    elif pick == "stdout" or (done.returncode == 0 and out):
        line = " / ".join(out[:3]) if pick == "stdout" else out[0]
    else:
        line = err[-1] if err else (out[0] if out else "")
    ROWS.append((f"`{shown}`", str(done.returncode), clip(line), f"{seconds:.2f}"))


def clip(text: str, width: int = 330) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def cli_cases(work: Path, env: dict[str, str]) -> None:
    online = {k: v for k, v in env.items() if k != "HF_HUB_OFFLINE"}
    case(
        "HF_HUB_OFFLINE=1 hub train --task classify --data reviews.csv --base bert-base-uncasd",
        ["train", "--task", "classify", "--data", "reviews.csv", "--base", "bert-base-uncasd"],
        env,
    )
    case(
        "hub train --task classify --data reviews.csv --base bert-base-uncasd  (online, hub unreachable)",
        ["train", "--task", "classify", "--data", "reviews.csv", "--base", "bert-base-uncasd"],
        online,
    )
    case(
        "hub train --task classify --data reviews.csv --base ./models/my-bert",
        ["train", "--task", "classify", "--data", "reviews.csv", "--base", "./models/my-bert"],
        env,
    )
    case(
        "hub train --data reviews.csv --config bad.yaml  (lr: abc, epohcs: 2)",
        ["train", "--data", "reviews.csv", "--config", "bad.yaml"],
        env,
    )
    case("hub train --task clasify --data reviews.csv", ["train", "--task", "clasify", "--data", "reviews.csv"], env)
    case("hub train --task classify --data missing.txt", ["train", "--task", "classify", "--data", "missing.txt"], env)
    case("hub train --method lroa --data reviews.csv", ["train", "--method", "lroa", "--data", "reviews.csv"], env)
    case(
        "hub train --task classify --data numbered.csv --labels a,b,c --base bert",
        ["train", "--task", "classify", "--data", "numbered.csv", "--labels", "a,b,c", "--base", "bert"],
        env,
    )
    case(
        "hub train --task classify --data numbered.csv --labels neg,pos --base bert --epochs 1 --name num --json",
        [
            "train",
            "--task",
            "classify",
            "--data",
            "numbered.csv",
            "--labels",
            "neg,pos",
            "--base",
            "bert",
            "--epochs",
            "1",
            "--name",
            "num",
            "--json",
        ],
        env,
        pick="stdout",
    )
    case(
        "hub train --base bert --data reviews.csv --epochs 1 --lr 1e-9 --name weak",
        ["train", "--base", "bert", "--data", "reviews.csv", "--epochs", "1", "--lr", "1e-9", "--name", "weak"],
        env,
        pick="warning",
    )
    case(
        "hub train --base bert --data reviews.csv --epochs 1 --min-metric 0.99 --name strict",
        [
            "train",
            "--base",
            "bert",
            "--data",
            "reviews.csv",
            "--epochs",
            "1",
            "--min-metric",
            "0.99",
            "--name",
            "strict",
        ],
        env,
    )
    case(
        "hub train --task generate --base gpt2 --data poems.jsonl --method prefix --prefix-tokens 4 --name verse",
        [
            "train",
            "--task",
            "generate",
            "--base",
            "gpt2",
            "--data",
            "poems.jsonl",
            "--method",
            "prefix",
            "--prefix-tokens",
            "4",
            "--name",
            "verse",
            "--epochs",
            "1",
        ],
        env,
        pick="noise",
    )
    case(
        "hub predict rev 'a fine film' 'dull' (stderr read for warnings)",
        ["predict", "rev", "a fine film", "dull"],
        env,
        pick="noise",
    )
    case(
        "hub eval rev --data reviews.csv --no-record (stderr read for warnings)",
        ["eval", "rev", "--data", "reviews.csv", "--no-record"],
        env,
        pick="noise",
    )

    publish_bare_card(work, env)
    plant_bare_card(work)
    case("hub registry verify  (a version planted with a bare card)", ["registry", "verify"], env, pick="stdout")
    shutil.rmtree(work / "reg" / "bare")
    case("hub rm rev --dry-run", ["rm", "rev", "--dry-run"], env, pick="stdout")
    case("hub rm rev:prod --dry-run", ["rm", "rev:prod", "--dry-run"], env, pick="stdout")
    case("hub rm rev:prod", ["rm", "rev:prod"], env)
    case("hub rm rev  (an alias points into it)", ["rm", "rev"], env)
    case("hub rm weak  (stdin not a terminal)", ["rm", "weak"], env)
    case("hub rm weak -y", ["rm", "weak", "-y"], env, pick="stdout")
    case("hub rm rev@1 revv -y", ["rm", "rev@1", "revv", "-y"], env)
    case("hub rm rev@1 --json", ["rm", "rev@1", "--json"], env, pick="stdout")
    case("hub --registry /path/that/does/not/exist list", ["--registry", "/path/that/does/not/exist", "list"], env)
    case("hub show 'rev@²'", ["show", "rev@²"], env)
    case("hub show 'rev@１'", ["show", "rev@１"], env)
    case("hub show rev@<5,000 digits>", ["show", "rev@" + "9" * 5000], env)
    case("hub show rev:prd", ["show", "rev:prd"], env)
    case("hub show revv", ["show", "revv"], env)
    case("hub list rev -q", ["list", "rev", "-q"], env, pick="stdout")
    case("hub list --sort size -q", ["list", "--sort", "size", "-q"], env, pick="stdout")
    case("hub tag rev@3 canary --json", ["tag", "rev@3", "canary", "--json"], env, pick="stdout")
    case("hub registry verify --json", ["registry", "verify", "--json"], env, pick="stdout")

    outside = work / "elsewhere"
    outside.mkdir()
    (outside / "sentinel").write_text("keep me")
    trash, journal = work / "reg" / ".trash", work / "reg" / ".journal"
    for folder in (trash, journal):
        shutil.rmtree(folder, ignore_errors=True)
    trash.symlink_to(outside)
    case("ln -s elsewhere reg/.trash; hub tag rev@2 stable", ["tag", "rev@2", "stable"], env)
    trash.unlink()
    journal.symlink_to(outside)
    case("ln -s elsewhere reg/.journal; hub list", ["list"], env)
    journal.unlink()
    assert (outside / "sentinel").read_text() == "keep me", "a symlinked work folder lost a file outside the registry"

    case("hub predict nope 'a text'", ["predict", "nope", "a text"], env)
    case("hub predict rev $'\\xff'", ["predict", "rev", "\udcff"], env)
    case(
        "hub predict poet 'the sea' --max-new-tokens 200",
        ["predict", "poet", "the sea", "--max-new-tokens", "200"],
        env,
    )
    case("hub serve --max-queue 8", ["serve", "--max-queue", "8"], env)
    case("hub serve --adapter nope", ["serve", "--adapter", "nope"], env)
    case("hub --version", ["--version"], env)
    case("hub rm -h", ["rm", "-h"], env, pick="stdout")


def publish_bare_card(work: Path, env: dict[str, str]) -> None:
    """`Registry.publish` of a card with only task, method and base (what used to break every bare-name use)."""
    code = (
        "from adapterhub import Registry, Card, BaseInfo\n"
        "import sys\n"
        "reg = Registry()\n"
        "card = Card(task='sentiment', method='lora', base=BaseInfo(id='bert', fingerprint=reg.get('rev@1')"
        ".card.base.fingerprint))\n"
        "try:\n"
        "    reg.publish('rev', reg.get('rev@1').path, card)\n"
        "except Exception as exc:\n"
        "    print(f'{type(exc).__name__}: {exc}', file=sys.stderr); sys.exit(getattr(exc, 'exit_code', 1))\n"
    )
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    ROWS.append(
        (
            "`Registry().publish('rev', <rev@1's folder>, Card(task, method, base))`",
            str(done.returncode),
            clip(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.stdout.strip()),
            f"{time.perf_counter() - started:.2f}",
        )
    )


def plant_bare_card(work: Path) -> None:
    """A version written with a bare card by hand, as registries made before publish checked cards may hold."""
    from adapterhub.registry import Registry
    from tests.registry.helpers import plant_version

    registry = Registry(work / "reg")
    source = registry.get("rev@1")
    bare = type(source.card)(task="sentiment", method="lora", base=source.card.base)
    plant_version(registry, "bare", source.path, bare)


# ------------------------------------------------------------------------------------------------------ HTTP


def http_cases(work: Path, env: dict[str, str]) -> None:
    import httpx

    port = free_port()
    server = subprocess.Popen(
        [*HUB, "serve", "--port", str(port), "--adapter", "rev", "--adapter", "poet", "--max-wait-ms", "50"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url)
        with httpx.Client(base_url=url, timeout=60) as client:
            requests(client, work, server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str) -> None:
    import httpx

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.5)
    raise SystemExit("hub serve did not start")


def request(client, shown: str, method: str, path: str, **kwargs) -> object:
    started = time.perf_counter()
    response = client.request(method, path, **kwargs)
    seconds = time.perf_counter() - started
    try:
        body = response.json()
        line = body["error"]["message"] if "error" in body else json.dumps(body)[:200]
    except (ValueError, KeyError, TypeError):
        line = response.text.strip().splitlines()[-1] if response.text.strip() else ""
    extra = f" (Allow: {response.headers['allow']})" if "allow" in response.headers else ""
    ROWS.append((f"`{shown}`", str(response.status_code), clip(line + extra), f"{seconds:.3f}"))
    return response


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def requests(client, work: Path, pid: int) -> None:
    json_type = {"content-type": "application/json"}
    surrogate = '{"adapter": "rev", "inputs": ["ok", "ok", "ok", "\\udc80x"]}'
    statuses: list[int] = []

    def innocent(i: int) -> None:
        statuses.append(client.post("/v1/predict", json={"adapter": "rev", "inputs": [f"fine {i}"]}).status_code)

    threads = [threading.Thread(target=innocent, args=(i,)) for i in range(50)]
    for thread in threads[:25]:
        thread.start()
    request(
        client,
        'POST /v1/predict {"adapter":"rev","inputs":["ok","ok","ok","\\udc80x"]}',
        "POST",
        "/v1/predict",
        content=surrogate.encode(),
        headers=json_type,
    )
    for thread in threads[25:]:
        thread.start()
    for thread in threads:
        thread.join()
    ROWS.append(
        (
            "`50 concurrent innocent POST /v1/predict beside it`",
            f"{statuses.count(200)}×200",
            f"other statuses: {sorted(s for s in statuses if s != 200)}",
            "-",
        )
    )

    completion = {"model": "poet", "prompt": "the sea", "max_tokens": 200}
    request(
        client,
        'POST /v1/completions {"model":"poet","prompt":"the sea","max_tokens":200}',
        "POST",
        "/v1/completions",
        json=completion,
    )
    request(client, "the same with stream: true", "POST", "/v1/completions", json={**completion, "stream": True})
    request(
        client,
        'POST /v1/completions {..., "max_tokens": 8, "temperature": 1e-300}',
        "POST",
        "/v1/completions",
        json={"model": "poet", "prompt": "the sea", "max_tokens": 8, "temperature": 1e-300},
    )
    streamed = client.post(
        "/v1/completions", json={"model": "poet", "prompt": "the sea", "max_tokens": 4, "stream": True}
    )
    models = {json.loads(x[6:])["model"] for x in streamed.text.splitlines() if x.startswith("data: {")}
    ROWS.append(
        (
            '`POST /v1/completions {"model":"poet",...,"stream":true}`',
            str(streamed.status_code),
            f"every chunk's model: {sorted(models)}",
            "-",
        )
    )
    request(
        client,
        'POST /v1/predict {"adapter":"poet","inputs":["x"],"options":{"seed":10**30}}',
        "POST",
        "/v1/predict",
        content=b'{"adapter":"poet","inputs":["x"],"options":{"seed":' + b"1" + b"0" * 30 + b"}}",
        headers=json_type,
    )
    for spelled in ("rev@²", "rev@١", "rev@" + "9" * 5000):
        shown = spelled if len(spelled) < 20 else "rev@<5,000 digits>"
        request(
            client,
            f'POST /v1/predict {{"adapter":"{shown}",...}}',
            "POST",
            "/v1/predict",
            json={"adapter": spelled, "inputs": ["x"]},
        )

    before = rss_mib(pid)
    started = time.perf_counter()
    codes = [client.post(f"/v1/adapters/rev@{'0' * (i % 9)}3/load").status_code for i in range(2000)]
    ROWS.append(
        (
            "`2,000 POST /v1/adapters/rev@0…03/load, zero padding varied`",
            f"{codes.count(200)}×200",
            f"server RSS {before:.0f} -> {rss_mib(pid):.0f} MiB",
            f"{time.perf_counter() - started:.1f}",
        )
    )
    request(
        client,
        'POST /v1/predict {"adapter":"reb","inputs":["x"]}',
        "POST",
        "/v1/predict",
        json={"adapter": "reb", "inputs": ["x"]},
    )
    request(client, "GET /v1/adapters?limit=2", "GET", "/v1/adapters", params={"limit": 2})
    chat = {"model": "poet", "messages": [{"role": "user", "content": "the sea"}]}
    request(
        client,
        'POST /v1/chat/completions {..., "max_completion_tokens": 3}',
        "POST",
        "/v1/chat/completions",
        json={**chat, "max_completion_tokens": 3},
    )
    request(
        client,
        'POST /v1/chat/completions {..., "tool_choice": "auto"}',
        "POST",
        "/v1/chat/completions",
        json={**chat, "tool_choice": "auto"},
    )
    request(client, "GET /v1/models/poet", "GET", "/v1/models/poet")
    request(
        client,
        "POST /v1/predict with a 3 MB body",
        "POST",
        "/v1/predict",
        content=b'{"adapter":"rev","inputs":["' + b"x" * 3_000_000 + b'"]}',
        headers=json_type,
    )
    request(
        client,
        "POST /v1/predict with the byte 0xff in the body",
        "POST",
        "/v1/predict",
        content=b'{"adapter":"rev","inputs":["\xff"]}',
        headers=json_type,
    )
    request(
        client,
        "POST /v1/predict with [ x 1000 ] x 1000",
        "POST",
        "/v1/predict",
        content=b"[" * 1000 + b"]" * 1000,
        headers=json_type,
    )
    request(client, "GET /v1/predict", "GET", "/v1/predict")
    request(client, "GET /v1/adapters -H 'Host: evil.example'", "GET", "/v1/adapters", headers={"host": "evil.example"})
    request(
        client,
        "POST /v1/predict -H 'Origin: http://evil.example'",
        "POST",
        "/v1/predict",
        json={"adapter": "rev", "inputs": ["x"]},
        headers={"origin": "http://evil.example"},
    )
    request(
        client,
        "POST /v1/predict -H 'content-type: text/plain'",
        "POST",
        "/v1/predict",
        content=b'{"adapter":"rev","inputs":["x"]}',
        headers={"content-type": "text/plain"},
    )
    weights = work / "reg" / "rev" / "3" / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 1
    weights.write_bytes(bytes(data))
    request(client, "POST /v1/adapters/rev/load  (one byte of rev@3 flipped on disk)", "POST", "/v1/adapters/rev/load")
    index = work / "reg" / ".index.sqlite"
    index.write_bytes(b"not a database" * 100)
    request(
        client,
        "GET /v1/adapters?limit=1  (.index.sqlite overwritten with junk)",
        "GET",
        "/v1/adapters",
        params={"limit": 1},
    )


if __name__ == "__main__":
    main()

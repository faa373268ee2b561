"""Several processes publishing the same name at once get distinct versions and lose nothing."""

import subprocess
import sys
from pathlib import Path

from adapterhub import Registry
from tests.registry.helpers import fake_adapter

ROOT = Path(__file__).resolve().parents[2]
PUBLISHER = """
import sys
from dataclasses import replace
from adapterhub import Registry
from tests.registry.helpers import CARD
root, source, who, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.stdin.readline()  # start together
for i in range(count):
    Registry(root).publish("sentiment", source, replace(CARD, tags=(f"{who}-{i}",)))
"""


def test_concurrent_publishers_get_distinct_versions_and_lose_nothing(tmp_path: Path, registry_dir: Path) -> None:
    source = fake_adapter(tmp_path / "src")
    processes, per_process = 4, 10
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PUBLISHER, str(registry_dir), str(source), f"p{p}", str(per_process)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            text=True,
        )
        for p in range(processes)
    ]
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    reg = Registry(registry_dir)
    records = reg.list()
    assert sorted(r.version for r in records) == list(range(1, processes * per_process + 1))
    assert sorted(r.card.tags[0] for r in records) == sorted(
        f"p{p}-{i}" for p in range(processes) for i in range(per_process)
    )
    for p in range(processes):  # each publisher's own versions increase in the order it published them
        mine = sorted(
            (int(r.card.tags[0].split("-")[1]), r.version) for r in records if r.card.tags[0].startswith(f"p{p}-")
        )
        assert [v for _, v in mine] == sorted(v for _, v in mine)
    assert reg.verify() == []

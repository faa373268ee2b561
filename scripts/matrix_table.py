"""Print the README's "Model families" table: family x (method, task), one column per check of the matrix.

Runs tests/matrix/test_matrix.py under pytest (about three minutes on two CPU cores) and reads its JUnit XML
report, or reads a report given with ``--junit FILE``. A cell is ✅ when its check passed; a check that ends in a
one-line refusal the matrix tests (prefix tuning on a family without a key/value cache, an export that cannot
apply) shows that line; a check that does not apply shows —.

Usage:
    .venv/bin/python scripts/matrix_table.py                 # run the matrix, print the table
    .venv/bin/python scripts/matrix_table.py --junit out.xml # from an earlier `pytest --junitxml=out.xml` run
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.matrix.cells import CELLS, CHECKS, EXPORT_REFUSALS, TRAIN_REFUSALS, exported_applies, trains  # noqa: E402

TEST_OF = {
    "trained": "test_trained",
    "served": "test_served",
    "mixed": "test_mixed",
    "equals PEFT": "test_equals_peft",
    "PEFT export": "test_peft_export",
    "exported": "test_exported",
}


def outcomes(junit: Path) -> dict[tuple[str, str], str]:
    """(test function, cell id) -> passed, failed, xfailed or skipped."""
    found = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        match = re.fullmatch(r"(test_\w+)\[(.+)\]", case.get("name", ""))
        if not match:
            continue
        skipped = case.find("skipped")
        if case.find("failure") is not None or case.find("error") is not None:
            state = "failed"
        elif skipped is not None:
            state = "xfailed" if skipped.get("type") == "pytest.xfail" else "skipped"
        else:
            state = "passed"
        found[match.group(1), match.group(2)] = state
    return found


def mark(state: str | None, refusal: str | None = None) -> str:
    if state == "passed":
        return f"refused: {refusal}" if refusal else "✅"
    return {"failed": "❌", "skipped": "skipped", None: "—"}.get(state, state or "—")


def table(found: dict[tuple[str, str], str]) -> str:
    lines = ["| family | method | task | " + " | ".join(CHECKS) + " |", "|" + "---|" * (3 + len(CHECKS))]
    for cell in CELLS:
        cell_id = "-".join(cell)
        marks = []
        for check in CHECKS:
            if (check == "exported" and not exported_applies(cell)) or (check != "trained" and not trains(cell)):
                marks.append("—")
                continue
            refusal = {"trained": TRAIN_REFUSALS, "exported": EXPORT_REFUSALS}.get(check, {}).get(cell)
            marks.append(mark(found.get((TEST_OF[check], cell_id)), refusal))
        exported = marks[-1]
        if exported == "✅" and cell[2] == "generate":
            marks[-1] = "✅ merged, vLLM"
        elif exported == "✅":
            marks[-1] = "✅ merged"
        lines.append(f"| {' | '.join(cell)} | " + " | ".join(marks) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--junit", type=Path, help="read this JUnit XML report instead of running the matrix")
    args = parser.parse_args()
    junit = args.junit
    if junit is None:
        junit = Path(tempfile.mkdtemp(prefix="matrix-")) / "matrix.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "tests/matrix", f"--junitxml={junit}"]
        subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, check=False)
    print(table(outcomes(junit)))


if __name__ == "__main__":
    main()

"""Write docs/families.md, the docs' "Model families" page: family x (method, task), one column per check of the matrix.

Runs tests/matrix/test_matrix.py under pytest (about a minute on two idle CPU cores) and reads its JUnit XML
report, or reads a report given with ``--junit FILE``. A cell is ✅ when its check passed; a check that ends in a
one-line refusal the matrix tests (prefix tuning on a family without a key/value cache, an export that cannot
apply) shows that line; a check that does not apply shows —. The page is this script's output, prose and table:
edit the prose here, never in docs/families.md.

Usage:
    .venv/bin/python scripts/matrix_table.py                 # run the matrix, write docs/families.md
    .venv/bin/python scripts/matrix_table.py --junit out.xml # from an earlier `pytest --junitxml=out.xml` run
    .venv/bin/python scripts/matrix_table.py --stdout        # print the page instead of writing it
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
PAGE = ROOT / "docs" / "families.md"
sys.path.insert(0, str(ROOT))

from tests.matrix.cells import CELLS, CHECKS, EXPORT_REFUSALS, TRAIN_REFUSALS, exported_applies, trains  # noqa: E402

# The page above the table: what the matrix checks, and the families' notes.
INTRO = """# Model families

Every family below is tested end to end on a tiny random model of its architecture (tests/families.py: grouped-
and multi-query attention, fused projections, sliding-window and local attention, relative positions, shared
layers, partial rotary embeddings, a mixture of experts), for each method and each task that fits it: encoders
`sentiment` and `ner`, decoders `generate` and `classify` (last-token pooling, right padding, the EOS token as
padding where the tokenizer has none). Each cell
is trained with `adapterhub.train`, published, served alone and in a mixed batch with another method's adapter
on the same base through `Hub.predict`, compared with PEFT's own model loaded from the version folder
(probabilities to 1e-4, identical tags, identical greedy tokens), exported with `hub export NAME DIR` and
loaded by that folder's own README code with nothing but transformers and PEFT (the Hub's outputs again), and,
for LoRA, exported with `hub export --merged` (and `--for vllm` for generators) and checked to give the Hub's
outputs. ✅ passed; — does not apply (prefix and head adapters are not exported merged here; a refused cell has
no later checks); "refused:" is the one line `hub train` or the export prints, exit 2, which the matrix checks
word for word. Prefix tuning is refused on ALBERT, DeBERTa-v2, DistilBERT, ModernBERT and MPNet: their attention
takes no key/value cache (ALBERT's and MPNet's swallow one silently), so PEFT's prefix has nowhere to go; LoRA
and head work on all 22 families.

- MPNet (sentence-transformers' all-mpnet-base-v2) adapts `q`, `k`, `v`, `o`, `intermediate.dense` and
  `output.dense` by default; a sentence-transformers MPNet base mean-pools, as MiniLM does.
- Gemma 3 is its text model (`Gemma3ForCausalLM`, `model_type` `gemma3_text`), with local (sliding) and global
  attention layers; its prefixes are served in the passes a sliding window needs, as Mistral's and Gemma 2's.
- Phi is phi-2's layout (`q_proj`/`k_proj`/`v_proj`/`dense`, `fc1`/`fc2`, rotary on part of each head).
- Mixture-of-experts decoders (Mixtral, Qwen3-MoE): transformers keeps the experts' weights as stacked 3-D
  parameters and routes with a module that is no linear layer, so LoRA adapts the attention's `q_proj`,
  `k_proj`, `v_proj` and `o_proj` (`--target-modules` takes linear layers only).
- Also supported, with default LoRA targets, the head method and prefix tuning checked by the unit tests
  (tests/methods) on a tiny model of each, and the whole matrix passing on them when run over them, but left out
  of the matrix because their layout is one it already covers: OLMo 2, Granite, SmolLM3 and StableLM (Llama's
  `q/k/v/o_proj`, `gate/up/down_proj`), GPT-J (`q/k/v_proj`, `out_proj`, `fc_in`/`fc_out`), BLOOM (GPT-NeoX's
  fused `query_key_value`) and Qwen3-MoE (Mixtral's).
- Any other architecture takes PEFT's own default targets where PEFT has some (often the attention's query and
  value only), else `--target-modules`: without it, `hub train` stops before training with one line naming the
  model type and its linear layers (exit 2).

Written by `.venv/bin/python scripts/matrix_table.py` (it runs `pytest tests/matrix`, about a minute on two idle
CPU cores, and writes this page):
"""

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


def page_text(found: dict[tuple[str, str], str]) -> str:
    """The whole families page: the prose, then the table."""
    return f"{INTRO}\n{table(found)}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--junit", type=Path, help="read this JUnit XML report instead of running the matrix")
    parser.add_argument("--stdout", action="store_true", help=f"print the page instead of writing {PAGE.name}")
    args = parser.parse_args()
    junit = args.junit
    if junit is None:
        junit = Path(tempfile.mkdtemp(prefix="matrix-")) / "matrix.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "tests/matrix", f"--junitxml={junit}"]
        subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, check=False)
    page = page_text(outcomes(junit))
    if args.stdout:
        print(page, end="")
    else:
        PAGE.write_text(page)
        print(f"wrote {PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""`hub tag NAME@V=W... ALIAS` (a canary), its refusals and exit codes, and how `hub show` and `hub list` show it."""

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from adapterhub import Registry
from tests.registry.helpers import CARD, fake_adapter

Hub = Callable[..., tuple[int, str, str]]


@pytest.fixture
def reg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    registry = Registry(tmp_path / "registry")
    for i in range(2):
        registry.publish("sentiment", fake_adapter(tmp_path / f"a{i}", fill=i), CARD)
    registry.publish("sentiment", fake_adapter(tmp_path / "t", fill=5), replace(CARD, task="classify"))
    registry.publish("other", fake_adapter(tmp_path / "o"), CARD)
    monkeypatch.setenv("ADAPTERHUB_REGISTRY", str(registry.root))
    return registry


def test_tag_splits_shows_and_ends_a_canary(hub: Hub, reg: Registry) -> None:
    assert hub("tag", "sentiment@1", "prod")[0] == 0
    code, out, _ = hub("tag", "sentiment@1=0.9", "sentiment@2=0.1", "prod")
    assert code == 0 and out == "sentiment:prod -> sentiment@1=0.9 sentiment@2=0.1 (was sentiment@1)\n"
    code, out, _ = hub("show", "sentiment:prod")
    shown = json.loads(out)
    assert code == 0 and shown["alias"] == "sentiment:prod"
    assert [(s["ref"], s["weight"], s["record"]["version"]) for s in shown["split"]] == [
        ("sentiment@1", 0.9, 1),
        ("sentiment@2", 0.1, 2),
    ]
    code, out, _ = hub("list", "sentiment")
    rows = {line.split()[1]: line.split()[2] for line in out.splitlines()[1:]}
    assert rows == {"3": "-", "2": "prod=0.1", "1": "prod=0.9"}
    code, out, _ = hub("tag", "sentiment@2", "prod")
    assert code == 0 and out == "sentiment:prod -> sentiment@2 (was sentiment@1=0.9 sentiment@2=0.1)\n"
    assert json.loads((reg.root / "sentiment" / "aliases.json").read_text()) == {"prod": 2}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("sentiment@1=0.9", "sentiment@2=0.2"), 2, "the weights sum to 1.1 (0.9 + 0.2), not 1"),
        (("sentiment@1=0", "sentiment@2=1"), 2, "the weight of version 1 is 0; each weight is above 0 and at most 1"),
        (("sentiment@1=1.5", "sentiment@2=-0.5"), 2, "the weight of version 1 is 1.5"),
        (("sentiment@1=0.5", "sentiment@1=0.5"), 2, "version 1 appears twice in the split"),
        (("sentiment@1=0.5", "sentiment@7=0.5"), 3, "sentiment has no version 7"),
        (("sentiment@1=0.5", "other@1=0.5"), 2, "a split is between versions of one name, not of other and sentiment"),
        (
            ("sentiment@1=0.5", "sentiment@3=0.5"),
            4,
            "sentiment@3 and sentiment@1 cannot share an alias: different task (classify",
        ),
        (("sentiment@1=0.5", "sentiment@2=x"), 2, "the weight in 'sentiment@2=x' is not a number"),
        (("sentiment@1=0.5", "sentiment@2"), 2, "'sentiment@2' has no weight"),
        (("sentiment@1", "sentiment@2"), 2, "several versions need a weight each"),
    ],
)
def test_bad_splits_are_one_line_refusals_that_change_nothing(
    hub: Hub, reg: Registry, args: tuple[str, ...], code: int, message: str
) -> None:
    assert hub("tag", "sentiment@2", "prod")[0] == 0
    before = (reg.root / "sentiment" / "aliases.json").read_bytes()
    got, out, err = hub("tag", *args, "prod")
    assert (got, out) == (code, "") and err.startswith(f"error: {message}") and err.count("\n") == 1
    assert (reg.root / "sentiment" / "aliases.json").read_bytes() == before


def test_a_split_is_refused_on_a_remote_and_as_a_removal_target(hub: Hub, reg: Registry) -> None:
    code, _, err = hub("tag", "sentiment@1=0.9", "sentiment@2=0.1", "prod", "--remote", "origin")
    assert code == 2 and err.startswith("error: weighted aliases are local only") and err.count("\n") == 1
    assert hub("tag", "sentiment@1=0.9", "sentiment@2=0.1", "prod")[0] == 0
    code, _, err = hub("rm", "sentiment:prod")
    assert code == 2 and "splits traffic between sentiment@1 (0.9) and sentiment@2 (0.1)" in err
    code, _, err = hub("rm", "sentiment@2")
    assert code == 6 and "sentiment:prod -> sentiment@2" in err
    assert reg.versions("sentiment") == [1, 2, 3]

"""Browser tests of the web page: a real ``hub serve`` on a free loopback port, driven in headless Chromium.

The browser is the system's ``chromium`` (Debian's package; ``.ci/run`` installs it), launched by Playwright;
Playwright's own browser downloads are never used. Without chromium these tests fail, saying how to install it.
Every test's page fails it on any console error, and leaves a screenshot in ``tests/ui/artifacts/`` (or
``$ADAPTERHUB_UI_ARTIFACTS``).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from adapterhub.registry import Registry
from tests.inference.helpers import publish_adapter
from tests.serving.test_process import _server as hub_serve

KEY = "ui-test-key"
BULK_NAMES, BULK_VERSIONS = 100, 3  # 300 more versions: the registry table with hundreds of rows
ARTIFACTS = Path(os.environ.get("ADAPTERHUB_UI_ARTIFACTS") or Path(__file__).parent / "artifacts")
CONFUSION = [[40, 10], [8, 42]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.ui)


def chromium() -> str:
    """The chromium executable: $ADAPTERHUB_CHROMIUM, else chromium on the PATH; a failure saying how to get it."""
    found = os.environ.get("ADAPTERHUB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail(
            "chromium not found: install it (Debian/Ubuntu: sudo apt-get install chromium) or set ADAPTERHUB_CHROMIUM"
            " to a Chrome/Chromium binary; or deselect the browser tests with -m 'not slow and not gpu and not ui'",
            pytrace=False,
        )
    return found


def _history(points: int, top: float) -> tuple[dict[str, Any], ...]:
    return tuple(
        {
            "step": 10 * (i + 1),
            "epoch": round((i + 1) / 2, 3),
            "train_loss": round(0.7 - 0.08 * i, 6),
            "accuracy": round(top - 0.05 * (points - 1 - i), 6),
            "macro_f1": round(top - 0.02 - 0.05 * (points - 1 - i), 6),
        }
        for i in range(points)
    )


@pytest.fixture(scope="session")
def ui_registry(tmp_path_factory: pytest.TempPathFactory, tiny_bert: Path, tiny_gpt2: Path) -> Registry:
    """sentiment@1, @2 (curves, an evaluation with its confusion matrix, alias prod, tags), ner, poet (generate),
    a merged adapter whose lineage names both sentiment versions, and 300 bulk versions of tiny copies."""
    registry = Registry(tmp_path_factory.mktemp("ui") / "registry")
    old = {"created": "2024-01-01T00:00:00+00:00"}
    one, _ = publish_adapter(
        registry, tiny_bert, "sentiment", seed=1,
        card_fields={**old, "metrics": {"accuracy": 0.7, "macro_f1": 0.68}, "headline_metric": "accuracy",
                     "history": _history(4, 0.7), "tags": ("reviews",)},
    )  # fmt: skip
    two, _ = publish_adapter(
        registry, tiny_bert, "sentiment", seed=2,
        card_fields={"metrics": {"accuracy": 0.82, "macro_f1": 0.8}, "headline_metric": "accuracy",
                     "history": _history(6, 0.82), "tags": ("reviews", "english")},
    )  # fmt: skip
    registry.record_evaluation(
        "sentiment@2",
        {
            "adapter": "sentiment@2", "task": "sentiment", "data": "reviews-test.csv", "data_fingerprint": "f" * 16,
            "examples": 100, "metrics": {"accuracy": 0.82, "macro_f1": 0.8}, "labels": ["negative", "positive"],
            "per_class": {
                "negative": {"precision": 0.833333, "recall": 0.8, "f1": 0.816327, "support": 50},
                "positive": {"precision": 0.807692, "recall": 0.84, "f1": 0.823529, "support": 50},
            },
            "confusion": CONFUSION, "created": "2025-01-02T03:04:05+00:00",
        },
    )  # fmt: skip
    registry.tag("sentiment@2", "prod")
    publish_adapter(registry, tiny_bert, "ner", task="ner", seed=3, card_fields={"metrics": {"f1": 0.61}})
    publish_adapter(registry, tiny_gpt2, "poet", task="generate", seed=4, card_fields={"metrics": {"perplexity": 12.5}})
    lineage = tuple(
        {"ref": r.ref, "content_hash": r.card.content_hash, "weight": 0.5} for r in (one, two)
    )  # a merge's card, as `hub merge` writes it
    publish_adapter(registry, tiny_bert, "sentiment-merged", seed=5, card_fields={"lineage": lineage})
    with tempfile.TemporaryDirectory() as copy:
        for path in one.path.iterdir():
            if path.name != "card.json":
                shutil.copy(path, copy)
        for i in range(BULK_NAMES):
            for v in range(BULK_VERSIONS):
                card = one.card.__class__.from_dict(
                    {**one.card.to_dict(), "metrics": {"accuracy": round(0.5 + 0.004 * i + 0.01 * v, 6)},
                     "tags": ["bulk"], "history": [], "created": ""}
                )  # fmt: skip
                registry.publish(f"bulk-{i:03d}", copy, card)
    return registry


@pytest.fixture(scope="session")
def server(ui_registry: Registry) -> Iterator[str]:
    """The URL of a real ``hub serve --api-key`` process on ``ui_registry``."""
    with hub_serve(ui_registry, "--device", "cpu", key=KEY) as (_, url):
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        yield browser
        browser.close()


@dataclass
class UI:
    """A page on the test server. ``errors`` collects console errors and uncaught exceptions; a test that
    expects some (a 401 before the key is given) lists their patterns in ``allowed``."""

    page: Any
    url: str
    errors: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def open(self, hash_: str = "") -> Any:
        self.page.goto(f"{self.url}/ui{hash_}")
        return self.page

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(re.search(p, e) for p in self.allowed)]


def _ui(browser: Any, server: str, request: pytest.FixtureRequest, *, key: bool, **context: Any) -> Iterator[UI]:
    ctx = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **context})
    if key:  # as if the key had been typed into the page's dialog in this tab
        ctx.add_init_script(f"sessionStorage.setItem('adapterhub.key', {KEY!r})")
    page = ctx.new_page()
    page.set_default_timeout(30_000)  # a loaded CI machine: the first answer loads the adapter
    ui = UI(page, server)
    page.on("console", lambda m: m.type == "error" and ui.errors.append(m.text))
    page.on("pageerror", lambda e: ui.errors.append(f"uncaught: {e}"))
    try:
        yield ui
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        assert not ui.unexpected(), f"console errors on the page: {ui.unexpected()}"
    finally:
        ctx.close()


@pytest.fixture
def ui(browser: Any, server: str, request: pytest.FixtureRequest) -> Iterator[UI]:
    """A laptop-sized page whose tab already holds the server's API key."""
    yield from _ui(browser, server, request, key=True)


@pytest.fixture
def ui_without_key(browser: Any, server: str, request: pytest.FixtureRequest) -> Iterator[UI]:
    yield from _ui(browser, server, request, key=False)


@pytest.fixture
def phone(browser: Any, server: str, request: pytest.FixtureRequest) -> Iterator[UI]:
    """A phone-sized page (390 × 844, touch) holding the key."""
    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
    yield from _ui(browser, server, request, key=True, **phone)

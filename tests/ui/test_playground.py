"""The playground: inputs through the same ``POST /v1/predict`` a client uses, shown as probability bars,
highlighted entities or generated text; two adapters side by side; API errors as one line in the page."""

from __future__ import annotations

import re

import pytest

from adapterhub.inference.hub import Hub
from adapterhub.registry import Registry
from tests.ui.conftest import UI

TEXTS = ["Alice met Bob in Paris", "the film was great"]


@pytest.fixture(scope="module")
def hub(ui_registry: Registry) -> Hub:
    """The library on the registry the server serves: what `hub predict` answers."""
    return Hub(ui_registry, device="cpu")


def _run(page, adapters: list[str], texts: list[str]) -> None:
    page.get_by_role("heading", name="Playground", level=1).wait_for()
    page.get_by_label("Inputs (one per line)").fill("\n".join(texts))
    page.get_by_label("Adapter", exact=True).fill(adapters[0])
    page.get_by_label("Compare with").fill(adapters[1] if len(adapters) > 1 else "")
    page.get_by_role("button", name="Run").click()


def test_a_classifier_shows_the_label_and_probability_bars_of_the_library(ui: UI, hub: Hub) -> None:
    page = ui.open()
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Playground").click()
    _run(page, ["sentiment:prod"], TEXTS)
    for i, text in enumerate(TEXTS):
        expected = hub.predict(text, adapter="sentiment@2")
        answer = page.get_by_role("region", name=f"sentiment@2, input {i + 1}")
        shown = answer.locator(".classification")
        assert shown.get_attribute("data-label") == expected.label
        assert float(shown.get_attribute("data-score")) == pytest.approx(expected.score, abs=1e-4)
        assert f"{expected.label} {expected.score * 100:.1f}%" in answer.locator(".verdict").inner_text()
        for label, p in expected.scores.items():
            meter = answer.get_by_label(label, exact=True)  # each bar is a <meter> labelled by its class
            assert meter.evaluate("e => e.tagName") == "METER"
            assert float(meter.get_attribute("value")) == pytest.approx(p, abs=1e-4)
            assert f"{p * 100:.1f}%" in meter.locator("xpath=..").inner_text()  # the bar's percentage as text


def test_two_versions_side_by_side_on_the_same_inputs(ui: UI, hub: Hub) -> None:
    page = ui.open("#/adapter/sentiment@1")
    page.get_by_role("link", name="Try it in the playground").click()
    assert page.get_by_label("Adapter", exact=True).input_value() == "sentiment@1"
    _run(page, ["sentiment@1", "sentiment@2"], TEXTS)
    page.get_by_role("status").get_by_text("through sentiment@1 and sentiment@2").wait_for()
    for i, text in enumerate(TEXTS):
        row = page.get_by_role("article", name=f"Input {i + 1}")
        answers = row.locator(".side-by-side > section")
        assert [a.get_attribute("data-adapter") for a in answers.all()] == ["sentiment@1", "sentiment@2"]
        boxes = [a.bounding_box() for a in answers.all()]
        assert boxes[0]["x"] < boxes[1]["x"] and abs(boxes[0]["y"] - boxes[1]["y"]) < 1  # one row, two columns
        for a, ref in zip(answers.all(), ["sentiment@1", "sentiment@2"], strict=True):
            expected = hub.predict(text, adapter=ref)
            shown = a.locator(".classification")
            assert shown.get_attribute("data-label") == expected.label
            assert float(shown.get_attribute("data-score")) == pytest.approx(expected.score, abs=1e-4)


def test_entities_are_highlighted_in_the_text(ui: UI, hub: Hub) -> None:
    page = ui.open("#/playground/ner")
    _run(page, ["ner"], TEXTS[:1])
    expected = hub.predict(TEXTS[0], adapter="ner").entities
    assert expected  # the tiny tagger finds some
    marks = page.get_by_role("region", name="ner@1, input 1").locator("mark")
    marks.first.wait_for()
    assert [m.locator(".entity").inner_text() for m in marks.all()] == [e.text for e in expected]
    assert [m.get_attribute("data-type") for m in marks.all()] == [e.type for e in expected]
    assert [m.locator(".etype").inner_text().lower() for m in marks.all()] == [e.type for e in expected]
    plain = "e => [...e.childNodes].map(n => n.nodeName === 'MARK' ? n.firstChild.textContent : n.textContent).join('')"
    assert page.locator(".tagged").evaluate(plain) == TEXTS[0]  # the marks cover the input's own words, in place


def test_a_generate_adapter_shows_the_generated_text(ui: UI, hub: Hub) -> None:
    page = ui.open("#/playground/poet")
    _run(page, ["poet"], ["once upon a time"])
    expected = hub.predict("once upon a time", adapter="poet")
    generated = page.get_by_role("region", name="poet@1, input 1").locator(".generated")
    generated.wait_for()
    assert expected.text and generated.evaluate("e => e.textContent") == expected.text


@pytest.mark.parametrize(
    ("adapter", "texts", "message"),
    [
        ("nosuch", ["hi"], re.compile(r"^nosuch: .*nosuch")),
        ("sentiment@9", ["hi"], re.compile(r"^sentiment@9: .*version")),
        ("Bad Name!", ["hi"], re.compile(r"^Bad Name!: ")),
    ],
    ids=["unknown-404", "unknown-version-404", "bad-name-422"],
)
def test_an_api_error_is_one_line_in_the_page(ui: UI, adapter: str, texts: list[str], message: re.Pattern) -> None:
    ui.allowed.append(r"status of (404|422)")  # the browser's own log line for the API's answer, which the page shows
    page = ui.open("#/playground")
    _run(page, [adapter], texts)
    alert = page.locator("#play-error")
    page.wait_for_function("() => document.getElementById('play-error').textContent !== ''")
    text = alert.inner_text()
    assert alert.get_attribute("role") == "alert" and "\n" not in text and message.search(text), text
    assert not page.locator("#results article").count()
    assert not [e for e in ui.errors if e.startswith("uncaught")]

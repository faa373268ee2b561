"""The playground: inputs through the same ``POST /v1/predict`` a client uses, shown as probability bars or
highlighted entities; generated text streamed through ``POST /v1/completions``; two adapters side by side, or
combined as one ensemble; API errors as one line in the page."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from adapterhub.inference.hub import Hub
from adapterhub.registry import Registry
from tests.ui.conftest import KEY, UI

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


# counts every change the page makes to a .generated element's text, from before the page's script runs
COUNT_PIECES = """
window.pieces = 0;
new MutationObserver((changes) => {
  for (const c of changes) {
    if ((c.target.nodeType === 1 ? c.target : c.target.parentElement)?.closest(".generated")) window.pieces++;
  }
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


def _generate(page, adapters: list[str], prompt: str, max_tokens: int) -> None:
    page.get_by_role("heading", name="Playground", level=1).wait_for()
    page.get_by_label("Inputs (one per line)").fill(prompt)
    page.get_by_label("Adapter", exact=True).fill(adapters[0])
    page.get_by_label("Compare with").fill(adapters[1] if len(adapters) > 1 else "")
    page.get_by_label("Max tokens").fill(str(max_tokens))
    page.get_by_label("Temperature").fill("0")
    page.get_by_role("button", name="Run").click()


def _finished(region) -> str:
    about = region.locator(".generation > .muted")
    about.filter(has_text="tokens (").wait_for()
    return about.inner_text()


def test_generated_text_streams_in_from_the_openai_route(ui: UI, hub: Hub) -> None:
    prompt, tokens = "once upon a time", 12
    requests = []
    ui.page.on("request", lambda r: requests.append(r) if "/v1/" in r.url and r.method == "POST" else None)
    ui.page.add_init_script(COUNT_PIECES)
    page = ui.open("#/playground/poet")
    _generate(page, ["poet"], prompt, tokens)
    region = page.get_by_role("region", name="poet@1, input 1")
    about = _finished(region)
    expected = hub.predict(prompt, adapter="poet", max_new_tokens=tokens)  # greedy, as `hub predict` runs it
    assert expected.text and region.locator(".generated").evaluate("e => e.textContent") == expected.text
    why = "the model ended it" if expected.finished else "cut at the token limit"
    assert about == f"{expected.tokens} tokens ({why})"
    assert [r.url.removeprefix(ui.url) for r in requests] == ["/v1/completions"]  # not /v1/predict
    sent = requests[0].post_data_json
    assert sent["stream"] is True and sent["model"] == "poet" and sent["prompt"] == prompt
    assert (sent["max_tokens"], sent["temperature"]) == (tokens, 0)
    assert requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert requests[0].response().headers["content-type"].startswith("text/event-stream")
    assert page.evaluate("window.pieces") > 1  # the text grew piece by piece, not in one go
    page.get_by_role("status").get_by_text("1 input through poet@1").wait_for()


def test_two_generate_adapters_stream_side_by_side(ui: UI, hub: Hub) -> None:
    events = []
    page = ui.page
    page.on("request", lambda r: r.url.endswith("/v1/completions") and events.append("sent"))
    page.on("requestfinished", lambda r: r.url.endswith("/v1/completions") and events.append("finished"))
    ui.open("#/playground/poet,poet@1")
    _generate(page, ["poet", "poet@1"], "the sea", 8)
    page.get_by_role("status").get_by_text("through poet@1 and poet@1").wait_for()
    expected = hub.predict("the sea", adapter="poet", max_new_tokens=8)
    answers = page.get_by_role("article", name="Input 1").locator(".side-by-side > section")
    assert answers.count() == 2
    for answer in answers.all():
        _finished(answer)
        assert answer.locator(".generated").evaluate("e => e.textContent") == expected.text
    assert events[:2] == ["sent", "sent"]  # both streams were open at once


def test_a_refused_key_on_the_stream_asks_for_the_key_and_streams_again(ui: UI, hub: Hub) -> None:
    ui.allowed.append("status of 401")  # the browser logs the refused request before the page asks for the key
    page = ui.open("#/playground/poet")
    page.get_by_role("heading", name="Playground", level=1).wait_for()
    page.evaluate("sessionStorage.setItem('adapterhub.key', 'stale')")  # the registry was read; the key went bad
    sent = []
    page.on("request", lambda r: r.url.endswith("/v1/completions") and sent.append(r.headers["authorization"]))
    _generate(page, ["poet"], "hello", 5)
    dialog = page.get_by_role("dialog", name="API key")
    dialog.get_by_role("alert").get_by_text("refused that key").wait_for()
    dialog.get_by_label("Key").fill(KEY)
    dialog.get_by_role("button", name="Use key").click()
    _finished(page.get_by_role("region", name="poet@1, input 1"))
    assert sent == ["Bearer stale", f"Bearer {KEY}"]
    expected = hub.predict("hello", adapter="poet", max_new_tokens=5)
    assert page.locator(".generated").evaluate("e => e.textContent") == expected.text


def test_an_error_inside_the_stream_is_one_line_in_the_page(ui: UI) -> None:
    # a stream that fails after its 200, in the server's format: a piece, the error object, then [DONE]
    error = {"message": "internal error (RuntimeError) while generating; the server log has the details",
             "type": "internal_error", "param": None, "code": 500}  # fmt: skip
    piece = {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "poet@1",
             "choices": [{"index": 0, "text": "once", "logprobs": None, "finish_reason": None}]}  # fmt: skip
    body = f"data: {json.dumps(piece)}\n\ndata: {json.dumps({'error': error})}\n\ndata: [DONE]\n\n"
    stream = {"status": 200, "content_type": "text/event-stream", "body": body}
    ui.page.route("**/v1/completions", lambda route: route.fulfill(**stream))
    page = ui.open("#/playground/poet")
    _generate(page, ["poet"], "hello", 5)
    page.get_by_role("alert").get_by_text(f"poet: {error['message']}", exact=True).wait_for()
    assert not page.locator("#results article").count() and not page.get_by_role("status").inner_text()


def test_generation_options_are_checked_and_the_api_refusal_shown(ui: UI) -> None:
    ui.allowed.append(r"status of 413")  # the browser's own log line for the API's answer, which the page shows
    page = ui.open("#/playground/poet")
    page.get_by_role("heading", name="Playground", level=1).wait_for()
    assert page.get_by_label("Max tokens").is_visible()
    page.get_by_label("Adapter", exact=True).fill("sentiment")
    assert not page.get_by_label("Max tokens").is_visible()  # options only for generate adapters
    _generate(page, ["poet"], "hello", 100_000)  # beyond the server's --max-new-tokens
    page.wait_for_function("() => document.getElementById('play-error').textContent !== ''")
    text = page.locator("#play-error").inner_text()
    assert re.match(r"^poet: .*\b512\b", text) and "\n" not in text, text
    assert not page.locator("#results article").count()


def test_an_ensemble_shows_the_combined_answer_of_the_api(ui: UI) -> None:
    adapters = ["sentiment@1", "sentiment@2"]
    response = httpx.post(
        f"{ui.url}/v1/predict",
        json={"adapter": adapters, "inputs": TEXTS, "combine": "mean"},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 200, response.text
    expected = response.json()
    sent = []
    ui.page.on("request", lambda r: r.url.endswith("/v1/predict") and sent.append(r.post_data_json))
    page = ui.open("#/playground")
    page.get_by_role("heading", name="Playground", level=1).wait_for()
    page.get_by_label("Combine as an ensemble").check()
    assert page.get_by_label("Combine", exact=True).input_value() == "mean"
    _run(page, adapters, TEXTS)
    page.get_by_role("status").get_by_text(f"through {expected['adapter']}").wait_for()
    assert sent == [{"adapter": adapters, "inputs": TEXTS, "combine": "mean"}]  # one request, both members
    for i, result in enumerate(expected["results"]):
        row = page.get_by_role("article", name=f"Input {i + 1}")
        assert row.locator("section").count() == 1  # one combined answer, not two side by side
        region = row.get_by_role("region", name=f"mean(sentiment@1,sentiment@2), input {i + 1}")
        shown = region.locator(".classification")
        assert shown.get_attribute("data-label") == result["label"]
        assert float(shown.get_attribute("data-score")) == pytest.approx(result["score"], abs=1e-6)
        assert row.get_by_role("link", name="sentiment@1").count() == 1  # the members link to their pages


def test_an_ensemble_needs_two_adapters(ui: UI) -> None:
    page = ui.open("#/playground/sentiment")
    page.get_by_role("heading", name="Playground", level=1).wait_for()
    page.get_by_label("Combine as an ensemble").check()
    _run(page, ["sentiment"], TEXTS)
    page.get_by_role("alert").get_by_text("An ensemble needs two adapters").wait_for()
    assert not page.locator("#results article").count()


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


def test_the_playground_fits_a_phone_screen_while_streaming_side_by_side(phone: UI) -> None:
    page = phone.open("#/playground/poet,sentiment")
    _generate(page, ["poet", "sentiment"], "a long winding road through the hills", 16)
    page.get_by_role("status").get_by_text("through poet@1 and sentiment@2").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    answers = page.get_by_role("article", name="Input 1").locator(".side-by-side > section").all()
    assert answers[0].bounding_box()["y"] < answers[1].bounding_box()["y"]  # the columns stack on a phone

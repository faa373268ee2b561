"""The server view (#/server): resident adapters and their state, request counts and rates from the server's
own /metrics, refreshed live; load and unload buttons on the real routes; errors as one line naming the adapter.

Each test works on bulk adapters of its own, so the counts it reads are the requests it sent.
"""

from __future__ import annotations

import re
import time

import httpx
from playwright.sync_api import expect

from adapterhub.registry import Registry
from tests.ui.conftest import KEY, UI

# The view reads /metrics every 2 s; on a loaded machine a poll can take longer than expect()'s 5 s default.
expect.set_options(timeout=20_000)

AUTH = {"Authorization": f"Bearer {KEY}"}


def _predict(url: str, ref: str, times: int = 1) -> None:
    for _ in range(times):
        answer = httpx.post(f"{url}/v1/predict", json={"adapter": ref, "inputs": ["fine"]}, headers=AUTH, timeout=60)
        assert answer.status_code == 200, answer.text


def _row(page, ref: str):
    return page.locator(f'#server-adapters tbody tr[data-ref="{ref}"]')


def _resident(url: str, ref: str) -> str | None:
    name = ref.split("@")[0]
    listed = httpx.get(f"{url}/v1/adapters", params={"name": name}, headers=AUTH).json()["adapters"]
    return next(a["resident"] for a in listed if a["ref"] == ref)


def test_a_served_adapter_shows_hot_with_its_request_count_and_rate(ui: UI, server: str) -> None:
    ref = "bulk-040@1"
    _predict(server, ref)
    page = ui.open()
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Server").click()
    page.get_by_role("heading", name="Server", level=1).wait_for()
    table = page.get_by_role("table", name="Adapters: in memory, or served since the server started")
    row = _row(page, ref)
    expect(row.locator('[data-column="state"]')).to_have_text("hot")
    expect(table.get_by_role("rowheader", name=ref, exact=True)).to_have_count(1)  # retried: the view polls
    expect(row.locator('[data-column="requests"]')).to_have_text("1")
    expect(page.locator("#server-status")).to_have_text("Live: refreshing every 2 s")
    assert page.locator("#server-status").get_attribute("role") == "status"
    # five more requests between two reads: the count is exactly what was sent, the rate above zero
    _predict(server, ref, 5)
    expect(row.locator('[data-column="requests"]')).to_have_text("6")
    page.wait_for_function(
        "ref => Number(document.querySelector(`#server-adapters tr[data-ref='${ref}'] [data-column=rate]`)"
        ".dataset.value) > 0",
        arg=ref,
    )
    summary = page.get_by_role("table", name="Now")
    hot = summary.get_by_role("row", name=re.compile("Hot adapters")).get_by_role("cell")
    assert int(hot.inner_text()) >= 1
    queue = summary.get_by_role("row", name=re.compile("Queue depth")).get_by_role("cell")
    assert queue.inner_text() == "0"  # nothing waiting once every request was answered
    mean = summary.get_by_role("row", name=re.compile("since start")).get_by_role("cell")
    assert re.fullmatch(r"\d+\.\d over \d+ batches", mean.inner_text())


def test_unload_and_load_buttons_change_what_the_server_holds(ui: UI, server: str) -> None:
    ref = "bulk-041@1"
    _predict(server, ref)
    page = ui.open("#/server")
    row = _row(page, ref)
    state = row.locator('[data-column="state"]')
    expect(state).to_have_text("hot")
    load = row.get_by_role("button", name=f"Load {ref}", exact=True)
    expect(load).to_be_hidden()  # a hot version has nothing to load
    row.get_by_role("button", name=f"Unload {ref}", exact=True).click()
    expect(state).to_have_text("not resident")
    expect(page.locator("#server-done")).to_have_text(f"Unloaded {ref}")
    assert _resident(server, ref) is None
    expect(load).to_be_focused()  # the keyboard stays in the row: the unload button went away
    load.press("Enter")
    expect(state).to_have_text("hot")
    expect(page.locator("#server-done")).to_have_text(f"Loaded {ref}")
    assert _resident(server, ref) == "hot"
    assert page.locator("#server-error").inner_text() == ""


def test_a_refused_load_is_one_line_naming_the_adapter(ui: UI, server: str, ui_registry: Registry) -> None:
    ui.allowed.append("status of 409")  # the browser's own log line for the API's answer, which the page shows
    ref = "bulk-042@1"
    _predict(server, ref)
    assert httpx.delete(f"{server}/v1/adapters/{ref}", headers=AUTH).status_code == 200
    weights = next(p for p in ui_registry.get(ref).path.iterdir() if p.suffix == ".safetensors")
    kept = weights.read_bytes()
    page = ui.open("#/server")
    row = _row(page, ref)
    expect(row.locator('[data-column="state"]')).to_have_text("not resident")
    try:
        weights.write_bytes(kept + b"\0")  # no longer the file its card names: the server refuses it (409)
        row.get_by_role("button", name=f"Load {ref}", exact=True).click()
        alert = page.get_by_role("alert").filter(has_text=ref)
        expect(alert).to_have_text(re.compile(rf"^Could not load {re.escape(ref)}: .+"))
        assert "\n" not in alert.inner_text()
    finally:
        weights.write_bytes(kept)
    expect(row.locator('[data-column="state"]')).to_have_text("not resident")


def test_polling_stops_when_the_user_leaves_the_view(ui: UI) -> None:
    page = ui.page
    page.clock.install()  # the page's timers run on a clock the test moves: no waiting on the real one
    reads: list[str] = []
    page.on("request", lambda r: r.url.endswith("/metrics") and reads.append(r.url))
    ui.open("#/server")
    expect(page.locator("#server-status")).to_have_text(re.compile("^Live"))
    with page.expect_request(lambda r: r.url.endswith("/metrics")):  # open: another read 2 s later
        page.clock.run_for(2_100)
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Registry").click()
    page.get_by_role("link", name="sentiment@2", exact=True).wait_for()
    left = len(reads)
    page.clock.run_for(20_000)
    with page.expect_request(lambda r: r.url.endswith("/health")):  # every request the page made is seen by now
        page.evaluate("fetch('/health')")
    assert len(reads) == left, f"{len(reads) - left} reads of /metrics after leaving the server view"


def test_the_server_view_fits_a_phone_screen(phone: UI, server: str) -> None:
    _predict(server, "bulk-043@1")
    page = phone.open("#/server")
    expect(_row(page, "bulk-043@1").locator('[data-column="state"]')).to_have_text("hot")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    scroller = page.locator(".server-adapters")
    assert scroller.evaluate("e => getComputedStyle(e).overflowX") == "auto"  # the wide table scrolls in its box


def test_the_metrics_parser_reads_escaped_label_values(ui: UI) -> None:
    page = ui.open("#/server")
    page.locator("#server-status").get_by_text("Live").wait_for()
    text = (  # the exposition format's escapes in label values: \\ for a backslash, \" for a quote, \n
        '# HELP x_total a "help" line\n# TYPE x_total counter\n'
        r'x_total{adapter="a\"b",path="c:\\d",note="one\ntwo",} 3 1700000000000'
        "\n"
        'y_bucket{le="+Inf"} +Inf\nz NaN\n'
    )
    parsed = page.evaluate("t => parseMetrics(t).map(s => [s.name, s.labels, String(s.value)])", text)
    assert parsed == [
        ["x_total", {"adapter": 'a"b', "path": "c:\\d", "note": "one\ntwo"}, "3"],
        ["y_bucket", {"le": "+Inf"}, "Infinity"],
        ["z", {}, "NaN"],
    ]


def test_a_slow_registry_list_never_replaces_the_view_the_user_went_on_to(ui: UI, server: str) -> None:
    """The registry's list answers after the user clicked through to the server view: that view stays."""
    held: list = []
    ui.page.route("**/v1/adapters?*", lambda route: held.append(route))  # the list waits until released below
    page = ui.open()
    deadline = time.monotonic() + 20
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert held, "the registry view never asked for its list"
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Server").click()
    page.get_by_role("heading", name="Server", level=1).wait_for()
    ui.page.unroute("**/v1/adapters?*")  # lets the held request go on to the server
    page.wait_for_timeout(1500)  # the released list arrives and is drawn, if it were drawn at all
    expect(page.get_by_role("heading", level=1)).to_have_text("Server")
    assert page.title().startswith("Server")

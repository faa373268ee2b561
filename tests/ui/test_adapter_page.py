"""The adapter page: the card for people, learning curves with values on hover, evaluations with the confusion
matrix as a heat map, every version side by side, lineage as links."""

from __future__ import annotations

import re

from adapterhub.registry import Registry
from tests.ui.conftest import CONFUSION, UI


def test_the_adapter_page_shows_the_card_and_its_learning_curves(ui: UI, ui_registry: Registry) -> None:
    page = ui.open()
    page.get_by_role("link", name="sentiment@2", exact=True).click()  # from the registry table
    page.get_by_role("heading", name="sentiment@2", level=1).wait_for()
    assert page.url.endswith("/ui#/adapter/sentiment@2")
    card = ui_registry.get("sentiment@2").card
    summary = page.get_by_role("region", name="Summary")
    assert card.base.fingerprint in summary.inner_text() and card.content_hash in summary.inner_text()
    files = page.get_by_role("region", name="Files").inner_text()
    assert all(info.sha256 in files for info in card.files.values())
    labels = page.get_by_role("region", name="Labels").get_by_role("listitem")
    assert labels.all_inner_texts() == ["negative", "positive"]
    assert not page.get_by_role("region", name="Lineage").count()  # not merged: no lineage section
    assert page.locator("main").inner_text().rstrip().endswith(card.files["adapter_model.safetensors"].sha256)

    curves = page.get_by_role("region", name="Learning curves")
    assert curves.locator("figcaption").all_inner_texts() == ["accuracy", "macro_f1", "train_loss"]
    accuracy = curves.get_by_role("img", name=re.compile("^accuracy by training step, 6 points"))
    assert accuracy.locator("circle").count() == len(card.history)
    box = accuracy.bounding_box()
    accuracy.hover(position={"x": box["width"] - 14, "y": box["height"] / 2})  # over the last point
    readout = curves.locator("#curve-0-readout")
    assert readout.inner_text() == "step 60 (epoch 3): accuracy = 0.8200"
    accuracy.press("ArrowLeft")  # keyboard users step through the points
    assert readout.inner_text() == "step 50 (epoch 2.5): accuracy = 0.7700"


def test_the_evaluation_shows_per_class_scores_and_the_confusion_matrix_as_a_heat_map(ui: UI) -> None:
    page = ui.open("#/adapter/sentiment@2")
    evaluation = page.get_by_role("region", name="Evaluations")
    evaluation.get_by_text("reviews-test.csv · 100 examples").wait_for()
    per_class = evaluation.get_by_role("table", name="Per class")
    assert per_class.get_by_role("rowheader").all_inner_texts() == ["negative", "positive"]
    assert "0.8333" in per_class.inner_text()
    heatmap = evaluation.get_by_role("table", name=re.compile("^Confusion matrix"))
    cells = heatmap.locator("td.num")
    assert cells.all_inner_texts() == [str(v) for row in CONFUSION for v in row]
    shade = [float(c.evaluate("e => getComputedStyle(e).backgroundColor").split(",")[-1][:-1]) for c in cells.all()]
    assert shade[0] > shade[1] and shade[3] > shade[2]  # each cell is shaded by its share of the true label's row


def test_versions_of_one_name_side_by_side_with_metric_differences(ui: UI) -> None:
    page = ui.open("#/adapter/sentiment@2")
    versions = page.get_by_role("table", name=re.compile("^Versions of sentiment"))
    versions.wait_for()
    assert versions.get_by_role("columnheader").all_inner_texts() == ["v2 (this)", "v1"]
    accuracy = versions.get_by_role("row", name=re.compile("^accuracy"))
    assert accuracy.get_by_role("cell").all_inner_texts() == ["0.8200", "0.7000 (-0.1200)"]
    assert accuracy.locator(".down").inner_text() == " (-0.1200)"
    versions.get_by_role("link", name="v1").click()
    page.get_by_role("heading", name="sentiment@1", level=1).wait_for()
    page.get_by_text("Not evaluated since it was published").wait_for()


def test_lineage_links_to_the_merged_versions(ui: UI) -> None:
    page = ui.open("#/adapter/sentiment-merged")  # a bare name opens the newest version
    page.get_by_role("heading", name="sentiment-merged@1", level=1).wait_for()
    page.get_by_text("This card has no training history").wait_for()
    lineage = page.get_by_role("region", name="Lineage")
    assert lineage.get_by_role("link").all_inner_texts() == ["sentiment@1", "sentiment@2"]
    lineage.get_by_role("link", name="sentiment@1").click()
    page.get_by_role("heading", name="sentiment@1", level=1).wait_for()


def test_an_unknown_adapter_says_so(ui: UI) -> None:
    ui.allowed.append("status of 404")  # the browser logs the API's 404 that the page then shows
    page = ui.open("#/adapter/nosuch")
    page.get_by_role("alert").get_by_text("nosuch").wait_for()

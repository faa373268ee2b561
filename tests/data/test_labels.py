"""``--labels``: names for integer labels 0..N-1, or an order for named labels; mismatches named."""

from __future__ import annotations

import pytest

from adapterhub.data.labels import order_labels
from adapterhub.errors import ConfigError


def test_names_for_integer_labels_and_an_order_for_named_ones() -> None:
    assert order_labels(("0", "1", "2"), ("world", "sports", "business"), "news.csv") == ("0", "1", "2")
    assert order_labels(("negative", "positive"), ("positive", "negative"), "r.csv") == ("positive", "negative")
    assert order_labels(("1", "2"), ("2", "1"), "r.csv") == ("2", "1")  # the labels themselves, reordered


def test_a_mismatch_names_the_difference_in_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        order_labels(("0", "1", "2", "3"), ("a", "b", "c"), "news.csv")
    assert str(caught.value) == (
        "--labels names 3 classes, 0..2, but news.csv has labels '0', '1', '2', '3': label 3 has no name; "
        "give one name per label 0..N-1, in order"
    )
    with pytest.raises(ConfigError, match=r"no example has label 2 \('c'\)"):
        order_labels(("0", "1"), ("a", "b", "c"), "news.csv")
    with pytest.raises(ConfigError) as caught:
        order_labels(("negative", "neutral", "positive"), ("negative", "positive", "mixed"), "r.csv")
    assert str(caught.value).startswith(
        "--labels does not match the labels of r.csv: it lacks 'neutral', which the data has and names 'mixed', "
        "which no example has;"
    )

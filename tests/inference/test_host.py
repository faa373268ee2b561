"""How the host cuts a length-sorted request list into forward passes."""

from __future__ import annotations

import itertools

from adapterhub.inference.host import split_by_padding


def test_short_inputs_are_not_padded_to_a_long_one_when_another_pass_is_cheaper() -> None:
    assert split_by_padding([50, 48, 10, 9, 8, 8], batch_size=32, overhead=20) == [(0, 2), (2, 6)]


def test_costly_passes_make_full_batches_and_batch_size_is_a_hard_limit() -> None:
    lengths = sorted([5, 40, 12, 33, 7, 21, 9, 18, 30, 6], reverse=True)
    spans = split_by_padding(lengths, batch_size=4, overhead=10**9)
    assert len(spans) == 3 and all(stop - start <= 4 for start, stop in spans)
    assert split_by_padding(lengths, batch_size=64, overhead=10**9) == [(0, 10)]


def test_spans_cover_every_input_once_in_order() -> None:
    lengths = sorted([(i * 37) % 51 + 1 for i in range(200)], reverse=True)
    for overhead in (0, 16, 64, 1000):
        spans = split_by_padding(lengths, batch_size=32, overhead=overhead)
        assert spans[0][0] == 0 and spans[-1][1] == len(lengths)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
        assert all(0 < stop - start <= 32 for start, stop in spans)
    assert split_by_padding([], batch_size=8, overhead=64) == []

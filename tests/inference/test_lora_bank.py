"""The adapter bank: every row gets its own adapter's low-rank update, by segments or gathered from the bank,
and slots come and go without leaving anything behind."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from adapterhub.inference.lora_bank import INITIAL_SLOTS, MAX_RUNS, LoraBank, rank_bucket
from adapterhub.inference.resident import LoraFactors, ResidentAdapter

IN, OUT = 12, 10


class _Two(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first, self.second = nn.Linear(IN, OUT), nn.Linear(IN, OUT)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.first(x), self.second(x)


def _adapter(seed: int, rank: int = 4, paths: tuple[str, ...] = ("first", "second"), dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    lora = {
        p: LoraFactors(
            torch.randn(rank, IN, generator=generator).to(dtype), torch.randn(rank, OUT, generator=generator).to(dtype)
        )
        for p in paths
    }
    return ResidentAdapter(record=None, lora=lora)  # type: ignore[arg-type]


def _expected(root: _Two, x: torch.Tensor, per_row: list[ResidentAdapter]) -> tuple[torch.Tensor, torch.Tensor]:
    outs = []
    for path in ("first", "second"):
        out = getattr(root, path)(x).clone()
        for row, adapter in enumerate(per_row):
            f = adapter.lora.get(path)
            if f is not None:
                out[row] += x[row] @ f.a.float().T @ f.b_t.float()
        outs.append(out)
    return outs[0], outs[1]


def _segments(per_row: list[ResidentAdapter]) -> list[tuple[int, int, ResidentAdapter]]:
    segments: list[tuple[int, int, ResidentAdapter]] = []
    for row, adapter in enumerate(per_row):
        if segments and segments[-1][2] is adapter:
            segments[-1] = (segments[-1][0], row + 1, adapter)
        else:
            segments.append((row, row + 1, adapter))
    return segments


@pytest.mark.parametrize(
    ("shares", "kind"),
    [
        ([6], "segments"),  # one adapter: one dense product
        ([2, 2, 2, 2, 2], "segments"),  # equal shares: one batched run
        ([3, 1, 1, 2, 4], "segments"),  # a few runs (3, 1+1, 2, 4)
        ([1] * 9 + [3, 2, 1, 5], "gathered"),  # many adapters, uneven: one gathered product
        ([2, 1, 3, 1, 2, 1, 2], "gathered"),
    ],
)
def test_each_row_gets_its_own_adapters_update(shares: list[int], kind: str) -> None:
    root = _Two()
    bank = LoraBank(root)
    adapters = [_adapter(i, rank=(4, 8, 2)[i % 3]) for i in range(len(shares))]  # ranks differ: padded
    for adapter in adapters:
        bank.register(adapter)
    per_row = [a for a, n in zip(adapters, shares, strict=True) for _ in range(n)]
    x = torch.randn(len(per_row), 5, IN)
    expected = _expected(root, x, per_row)
    with torch.no_grad(), bank.route(_segments(per_row)) as plan:
        got = root(x)
    assert plan is not None and plan.kind == kind
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-5)


def test_rows_of_adapters_without_lora_and_layers_an_adapter_skips_get_no_update() -> None:
    root = _Two()
    bank = LoraBank(root)
    only_first = _adapter(1, paths=("first",))
    prefix_only = ResidentAdapter(record=None)  # type: ignore[arg-type]  # a prefix or a head alone
    others = [_adapter(10 + i) for i in range(MAX_RUNS + 1)]
    for adapter in (only_first, prefix_only, *others):
        bank.register(adapter)
    assert bank.slot(prefix_only) is None  # it needs no slot
    uneven = [a for i, a in enumerate(others) for _ in range(1 + i % 2)]  # runs of 1, 2, 1, 2...: gathered
    per_row = [prefix_only, only_first, only_first, *uneven, prefix_only, others[0], others[0], others[0]]
    x = torch.randn(len(per_row), 3, IN)
    expected = _expected(root, x, per_row)
    with torch.no_grad(), bank.route(_segments(per_row)) as plan:
        got = root(x)
    assert plan is not None and plan.kind == "gathered"
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-5)


def test_the_base_is_bit_identical_with_nothing_routed_and_with_only_prefix_rows() -> None:
    root = _Two()
    x = torch.randn(4, 3, IN)
    with torch.no_grad():
        before = root(x)
        bank = LoraBank(root)
        for i in range(3):
            bank.register(_adapter(i))
        assert all(torch.equal(a, b) for a, b in zip(root(x), before, strict=True))
        prefix_only = ResidentAdapter(record=None)  # type: ignore[arg-type]
        with bank.route([(0, 4, prefix_only)]) as plan:
            assert plan is None
            assert all(torch.equal(a, b) for a, b in zip(root(x), before, strict=True))


def test_a_gathered_batch_gathers_once_for_every_pass_of_a_decode_loop() -> None:
    root = _Two()
    bank = LoraBank(root)
    adapters = [_adapter(i) for i in range(8)]
    for adapter in adapters:
        bank.register(adapter)
    per_row = [a for i, a in enumerate(adapters) for _ in range(1 + i % 2)]  # uneven: gathered
    with torch.no_grad(), bank.route(_segments(per_row)) as plan:
        assert plan is not None and plan.kind == "gathered"
        for _ in range(3):  # three decode steps of one token each
            root(torch.randn(len(per_row), 1, IN))
        first = {k: v[0].data_ptr() for k, v in plan.gathered.items()}
        root(torch.randn(len(per_row), 1, IN))
        assert {k: v[0].data_ptr() for k, v in plan.gathered.items()} == first
    assert set(first) == {"first", "second"}


def test_slots_are_freed_reused_and_the_bank_grows_and_shrinks() -> None:
    root = _Two()
    bank = LoraBank(root)
    adapters = [_adapter(i, rank=4) for i in range(3 * INITIAL_SLOTS)]
    originals = [{p: (f.a.clone(), f.b_t.clone()) for p, f in a.lora.items()} for a in adapters]
    for adapter in adapters:
        bank.register(adapter)
    assert bank.capacity >= len(adapters) and bank.hooked == 2
    # a hot adapter's factors are views of its slot: held once
    slot = bank.slot(adapters[5])
    assert adapters[5].lora["first"].a.data_ptr() == bank._layers["first"].a[slot].data_ptr()
    # the factors survived the moves of the bank's growth
    for adapter, original in zip(adapters, originals, strict=True):
        for path, (a, b) in original.items():
            assert torch.equal(adapter.lora[path].a, a) and torch.equal(adapter.lora[path].b_t, b)
    bank.release(adapters[5])
    assert bank.slot(adapters[5]) is None and not torch.any(bank._layers["first"].a[slot])
    # released: factors of its own, equal to what came in
    assert adapters[5].lora["first"].a.data_ptr() != bank._layers["first"].a[slot].data_ptr()
    assert torch.equal(adapters[5].lora["first"].a, originals[5]["first"][0])
    newcomer = _adapter(99)
    bank.register(newcomer)
    assert bank.slot(newcomer) == slot  # the freed slot is taken again
    full, capacity = bank.nbytes, bank.capacity
    for adapter in adapters[:-4]:
        bank.release(adapter)
    assert bank.capacity < capacity and bank.nbytes < 0.6 * full  # 3/4 empty: the bank shrank, compacting
    left = [*adapters[-4:], newcomer]
    per_row = left
    x = torch.randn(len(per_row), 2, IN)
    expected = _expected(root, x, per_row)
    with torch.no_grad(), bank.route(_segments(per_row)):
        got = root(x)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-5)
    for adapter in left:
        bank.release(adapter)
    assert bank.hooked == 0 and bank.nbytes == 0  # nothing left: no tensors, no hooks


def test_a_larger_rank_widens_one_layer_and_keeps_the_others() -> None:
    root = _Two()
    bank = LoraBank(root)
    small = _adapter(0, rank=4)
    big = _adapter(1, rank=20, paths=("second",))
    bank.register(small)
    bank.register(big)
    assert bank._layers["first"].a.shape[1] == 4 and bank._layers["second"].a.shape[1] == rank_bucket(20) == 32
    assert small.lora["second"].rank == 4 and big.lora["second"].rank == 20
    per_row = [small] * 2 + [big] * 3
    x = torch.randn(5, 2, IN)
    expected = _expected(root, x, per_row)
    with torch.no_grad(), bank.route(_segments(per_row)):
        got = root(x)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("count", [1, 3, 2 * MAX_RUNS])
def test_bf16_adapters_update_fp32_rows_as_the_fp32_product_does(count: int) -> None:
    # a quantized layer hands the adapter fp32 activations while its factors may be stored in bf16
    root = _Two()
    bank = LoraBank(root)
    adapters = [_adapter(i, dtype=torch.bfloat16) for i in range(count)]
    for adapter in adapters:
        bank.register(adapter)
    per_row = [a for i, a in enumerate(adapters) for _ in range(1 + i % 2)]
    x = torch.randn(len(per_row), 5, IN)
    expected = _expected(root, x, per_row)
    with torch.no_grad(), bank.route(_segments(per_row)):
        got = root(x)
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == torch.float32
        assert torch.allclose(g, e, atol=0.2, rtol=0.05)

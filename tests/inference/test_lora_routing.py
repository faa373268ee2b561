"""The segmented LoRA product: one run of adapters updates its rows in place, whatever dtypes meet."""

from __future__ import annotations

import pytest
import torch

from adapterhub.inference.lora_routing import _Run
from adapterhub.inference.resident import LoraFactors


@pytest.mark.parametrize("count", [1, 3])
def test_bf16_adapters_update_fp32_rows_as_the_fp32_product_does(count: int) -> None:
    # a quantized layer hands the adapter fp32 activations while its factors may be stored in bf16
    generator = torch.Generator().manual_seed(0)
    factors = [LoraFactors(torch.randn(4, 8, generator=generator), torch.randn(4, 6, generator=generator))
               for _ in range(count)]
    x = torch.randn(count * 2, 5, 8, generator=generator)  # 2 samples per adapter, 5 tokens each
    base = torch.randn(count * 2, 5, 6, generator=generator)
    expected = base.clone()
    for i, f in enumerate(factors):
        expected[2 * i : 2 * i + 2] += x[2 * i : 2 * i + 2] @ f.a.T @ f.b_t
    low = [LoraFactors(f.a.bfloat16(), f.b_t.bfloat16()) for f in factors]
    out = base.clone()
    _Run(0, 2, low).apply(x, out, scale=1)
    assert out.dtype == torch.float32
    assert torch.allclose(out, expected, atol=0.1, rtol=0.02)

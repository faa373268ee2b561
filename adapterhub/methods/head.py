"""Head only: the body is a frozen feature extractor and only the task head trains.

PEFT has no head-only method and refuses a config that adapts no module, so the adapter is a LoRA config whose
single target (one attention projection) keeps its zero-initialised B matrix frozen: it adds exactly nothing,
and plain PEFT loads the directory like any LoRA adapter. The head itself is PEFT's ``modules_to_save``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapterhub.methods.lora import LoraSettings, lora_file_problems
from adapterhub.methods.method import Method, Tensor


@dataclass(frozen=True)
class HeadSettings:
    """Head only has no settings of its own."""

    def peft_config(self, task_type: str, model: Any) -> Any:
        from peft import LoraConfig  # peft: loaded on first use

        first = LoraSettings().targets(model)[0]
        name = next(n for n, _ in model.named_modules() if n.split(".")[-1] == first.split(".")[-1])
        return LoraConfig(
            task_type=task_type,
            r=1,
            lora_alpha=1,
            lora_dropout=0.0,
            # the module's full name, listed: PEFT matches it exactly, and leaves a list alone where it rewrites a
            # pattern into bare layer names (mixture-of-experts bases, whose expert layers transformers 5 fused),
            # which would adapt that layer in every block
            target_modules=[name],
            fan_in_fan_out=model.config.model_type == "gpt2",  # GPT-2's Conv1D stores weights transposed
        )

    def card(self, model: Any) -> dict[str, Any]:
        return {"trained": "task head only"}


class HeadMethod(Method):
    """Head only's answers: the LoRA pair PEFT needs stays frozen, so only the head trains."""

    def attach(self, model: Any, settings: Any, task_type: str) -> Any:
        model = super().attach(model, settings, task_type)
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.requires_grad_(False)
        return model

    def file_problems(
        self,
        method_config: Mapping[str, Any],
        config: Mapping[str, Any],
        body: Sequence[Tensor],
        base: Mapping[str, Any] | None,
    ) -> list[str]:
        return lora_file_problems(method_config, config, body)


METHOD = HeadMethod(
    name="head",
    summary="the body frozen as a feature extractor; only the task head trains",
    settings=HeadSettings,
    default_lr=1e-2,
    peft_type="LORA",
    title="head-only",
    serving="bank",
    combine_as="lora",
)

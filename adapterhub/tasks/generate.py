"""``generate``: a causal LM trained on instruction/response pairs (loss on the response only) or plain text.

The prompt template is stored in the card so that inference formats prompts exactly as training did.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapterhub.base import load_base
from adapterhub.data import Example, GenerationExample
from adapterhub.errors import ConfigError, InvalidInput
from adapterhub.tasks.padding import pad, pad_inputs
from adapterhub.tasks.task import Chance, Encoded, Family, InferenceInput, Scored

if TYPE_CHECKING:
    import torch

    from adapterhub.cards import AdapterRecord
    from adapterhub.tasks.results import Result
    from adapterhub.tasks.task import Scoring

TEMPLATE = "### Instruction:\n{prompt}\n\n### Response:\n"


def format_prompt(prompt: str) -> str:
    """The text the model sees before its response ('' for plain-text examples)."""
    return TEMPLATE.format(prompt=prompt) if prompt else ""


@dataclass(frozen=True)
class CausalLM:
    name: str = "generate"
    kind: str = "generation"
    task_type: str = "CAUSAL_LM"
    metric: str = "perplexity"
    greater_is_better: bool = False
    default_data: Path | None = None
    needs_base: bool = True
    family: Family = "causal"
    has_head: bool = False
    head_kind: str | None = None
    pipeline_tag: str = "text-generation"
    generic: bool = True

    def label_names(self, labels: Sequence[str]) -> tuple[str, ...]:
        return ()

    def build_model(
        self, base: str | None, labels: Sequence[str], dropout: float, quantize: str | None = None
    ) -> torch.nn.Module:
        return load_base(base, self.task_type, quantize=quantize)

    def encode(self, example: Example, tokenizer: Any, labels: Sequence[str], max_length: int) -> Encoded | None:
        assert isinstance(example, GenerationExample)
        prompt = tokenizer(format_prompt(example.prompt))["input_ids"] if example.prompt else []
        if tokenizer.bos_token_id is not None and prompt[:1] != [tokenizer.bos_token_id]:
            prompt = [tokenizer.bos_token_id, *prompt]
        response = tokenizer(example.response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids = (prompt + response)[:max_length]
        targets = ([-100] * len(prompt) + response)[:max_length]
        if all(t == -100 for t in targets):
            return None  # the prompt alone fills max_length: nothing to learn from
        return {"input_ids": ids, "labels": targets, "length": len(ids)}

    def collate(self, batch: Sequence[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
        return {**pad_inputs(batch, pad_id), "labels": pad([b["labels"] for b in batch], -100)}

    def chance(self, evals: Sequence[Example], names: Mapping[str, str], vocab_size: int) -> Chance:
        """Perplexity of a uniform guess over the vocabulary: the vocabulary's size (lower is better)."""
        return Chance(float(vocab_size), f"a uniform guess over the {vocab_size} tokens of the vocabulary")

    def evaluate(
        self, model: torch.nn.Module, batches: Iterable[dict[str, torch.Tensor]], labels: Sequence[str]
    ) -> dict[str, float]:
        total, tokens = 0.0, 0
        for batch in batches:
            out = model(**batch)
            n = int((batch["labels"][:, 1:] != -100).sum())  # shifted targets the loss averaged over
            total += float(out.loss) * n
            tokens += n
        loss = total / max(tokens, 1)
        return {"perplexity": math.exp(min(loss, 50.0)), "loss": loss}

    def encode_input(
        self, text: str | tuple[str, ...], tokenizer: Any, record: AdapterRecord, limit: int, where: str
    ) -> InferenceInput:
        """The prompt in the card's template (None: :data:`TEMPLATE`), after a BOS token; a long prompt keeps its
        last ``limit`` tokens."""
        if isinstance(text, tuple):
            raise ConfigError(f"{record.ref} is a {record.card.task_type} adapter: only ner adapters take word lists")
        template = record.card.inference.prompt_template
        template = TEMPLATE if template is None else template
        ids = tokenizer(template.format(prompt=text) if template else text)["input_ids"]
        bos = tokenizer.bos_token_id
        if bos is not None and ids[:1] != [bos]:
            ids = [bos, *ids]
        if not ids:  # no template and no BOS token: nothing to continue from
            raise InvalidInput(f"{where} is empty: {record.ref} needs at least one prompt token", where)
        return InferenceInput(ids[-limit:], text=text)

    def read_outputs(
        self,
        record: AdapterRecord,
        inputs: Sequence[InferenceInput],
        states: torch.Tensor,
        mask: torch.Tensor,
        head: tuple[torch.Tensor, torch.Tensor] | None,
        base_pooling: str,
    ) -> list[Result]:
        """Not asked of a causal task: its results are generations, which the decoding loop makes."""
        raise TypeError(f"{record.ref} generates text; its outputs come from decoding, not from encoder states")

    def score(self, run: Scoring) -> Scored:
        """Loss and perplexity on the responses (prompts in the training template); no ensembles."""
        if run.combine:
            raise ConfigError(f"{run.records[0].ref} is a generate adapter; ensembles average class probabilities")
        return {"metrics": run.perplexity()}, []

    def save_merged(self, model: torch.nn.Module, record: AdapterRecord, out: Path) -> None:
        """A plain ``AutoModelForCausalLM`` directory."""
        model.save_pretrained(out)


GENERATE = CausalLM()

"""R-Drop: the loss adds the symmetric KL between two dropout passes, over tagged tokens only for taggers."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch.nn import functional

from adapterhub import ConfigError, train
from adapterhub.training.consistency import rdrop_loss


class TwoPasses(torch.nn.Module):
    """Returns fixed logits for the stacked batch, as a model under two dropout masks would."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = logits

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor) -> SimpleNamespace:
        assert input_ids.shape[0] == self.logits.shape[0]  # the batch was stacked on itself
        flat = self.logits.reshape(-1, self.logits.shape[-1])
        return SimpleNamespace(logits=self.logits, loss=functional.cross_entropy(flat, labels.reshape(-1)))


def _kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:  # KL(p || q), p and q as probabilities, batch mean
    return (p * (p / q).log()).sum(-1).mean()


def test_rdrop_adds_the_symmetric_kl_of_the_two_passes() -> None:
    torch.manual_seed(0)
    logits = torch.randn(6, 3)  # passes 1 and 2 of a batch of 3
    batch = {"input_ids": torch.zeros(3, 4, dtype=torch.long), "labels": torch.tensor([0, 2, 1])}
    p, q = logits[:3].softmax(-1), logits[3:].softmax(-1)
    ce = functional.cross_entropy(logits, batch["labels"].repeat(2))
    for alpha in (0.0, 0.5, 4.0):
        expected = ce + alpha / 4 * (_kl(p, q) + _kl(q, p))
        torch.testing.assert_close(rdrop_loss(TwoPasses(logits), batch, alpha), expected)
    same = torch.cat([logits[:3], logits[:3]])  # no dropout: both passes agree, nothing is added
    torch.testing.assert_close(
        rdrop_loss(TwoPasses(same), batch, 4.0), functional.cross_entropy(same, batch["labels"].repeat(2))
    )


def test_rdrop_on_tags_compares_only_tagged_tokens() -> None:
    torch.manual_seed(1)
    logits = torch.randn(4, 3, 5)  # 2 sentences x 2 passes, 3 tokens, 5 tags
    labels = torch.tensor([[1, -100, 2], [-100, -100, 4]])
    batch = {"input_ids": torch.zeros(2, 3, dtype=torch.long), "labels": labels}
    tagged = labels != -100
    p, q = logits[:2][tagged].softmax(-1), logits[2:][tagged].softmax(-1)
    ce = functional.cross_entropy(logits.reshape(-1, 5), labels.repeat(2, 1).reshape(-1))
    expected = ce + 1.0 / 4 * (_kl(p, q) + _kl(q, p))
    torch.testing.assert_close(rdrop_loss(TwoPasses(logits), batch, 1.0), expected)


def test_training_with_rdrop_publishes_and_records_it(tiny_bert: Path, sentiment_csv: Path) -> None:
    result = train(task="sentiment", base=str(tiny_bert), data=str(sentiment_csv), epochs=1, batch_size=8, rdrop=0.5)
    assert result.record.card.hyperparameters["rdrop"] == 0.5
    assert result.fit.steps > 0


def test_rdrop_is_refused_where_there_are_no_labels_to_compare(tiny_gpt2: Path, instructions_jsonl: Path) -> None:
    with pytest.raises(ConfigError, match="--rdrop compares two predicted label distributions; generate"):
        train(task="generate", base=str(tiny_gpt2), data=str(instructions_jsonl), rdrop=0.5)
    with pytest.raises(ConfigError, match="--rdrop must not be negative"):
        train(task="sentiment", rdrop=-1.0)

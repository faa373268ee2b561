"""What an exported adapter's code needs besides its weights, read from its card as the Hub reads it."""

from __future__ import annotations

from dataclasses import dataclass

from adapterhub.base import locate_base
from adapterhub.cards.card import Card
from adapterhub.tasks import HEAD_KINDS, task_of_type
from adapterhub.tasks.generate import TEMPLATE


@dataclass(frozen=True)
class ExportSettings:
    """What inference needs besides the weights: token limit, pooling (classifiers) and prompt template."""

    max_length: int
    pooling: str | None
    prompt_template: str | None


def export_settings(card: Card) -> ExportSettings:
    """The card's inference settings, read as the Hub reads them (its one place in the export)."""
    settings = card.inference
    pooling = settings.pooling
    # a sequence head's card from before pooling was recorded: as the base pools
    if HEAD_KINDS.get(card.task_type) == "sequence" and pooling is None:
        from transformers import AutoConfig  # imports torch: only for such an old card, not when `hub` starts

        from adapterhub.models import pooling_for  # loads torch: on first use

        pooling = pooling_for(card.base.id, AutoConfig.from_pretrained(locate_base(card.base.id)))
    template = None
    task = task_of_type(card.task_type)
    if task is not None and task.family == "causal":
        template = TEMPLATE if settings.prompt_template is None else settings.prompt_template
    return ExportSettings(max_length=settings.max_length, pooling=pooling, prompt_template=template)

"""Scoring registry adapters on labelled data: ``hub eval`` and ``hub compare``.

Predictions go through :class:`~adapterhub.inference.Hub`, the same path serving uses, so a score is what
users get. Results are appended to the card's evaluation history with the data's fingerprint.
"""

from adapterhub.evaluation.evaluate import compare, evaluate
from adapterhub.evaluation.report import Evaluation

__all__ = ["Evaluation", "compare", "evaluate"]

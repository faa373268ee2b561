"""What the registry stores, as every layer reads it: the card (``card.json``: base, data, metrics, inference
settings) and the records that name a stored version. The registry writes them; tasks, inference, training and
the exports read them. Plain frozen dataclasses that import nothing but :mod:`adapterhub.errors`.
"""

from adapterhub.cards.card import CARD_FILE, BaseInfo, Card, DataInfo, FileInfo, InferenceSettings
from adapterhub.cards.records import AdapterRecord, LoadedAdapter, Problem, RemovalPlan

__all__ = [
    "CARD_FILE",
    "AdapterRecord",
    "BaseInfo",
    "Card",
    "DataInfo",
    "FileInfo",
    "InferenceSettings",
    "LoadedAdapter",
    "Problem",
    "RemovalPlan",
]

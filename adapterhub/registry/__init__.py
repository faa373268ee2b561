"""The local adapter registry: see :class:`Registry`."""

from adapterhub.cards.card import BaseInfo, Card, DataInfo, FileInfo, InferenceSettings
from adapterhub.cards.records import AdapterRecord, LoadedAdapter, Problem, RemovalPlan
from adapterhub.registry.registry import Registry, default_root

__all__ = [
    "AdapterRecord",
    "BaseInfo",
    "Card",
    "DataInfo",
    "FileInfo",
    "InferenceSettings",
    "LoadedAdapter",
    "Problem",
    "Registry",
    "RemovalPlan",
    "default_root",
]

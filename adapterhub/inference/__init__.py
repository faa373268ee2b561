"""Inference: the :class:`Hub` and the typed results it returns."""

from adapterhub.inference.decoding import GenerationOptions
from adapterhub.inference.hub import Hub
from adapterhub.tasks.results import Classification, Entities, Entity, Generation, Result

__all__ = ["Classification", "Entities", "Entity", "Generation", "GenerationOptions", "Hub", "Result"]

"""The typed results of ``Hub.predict``; they are the tasks' own (:mod:`adapterhub.tasks.results`)."""

from adapterhub.tasks.results import Classification, Entities, Entity, Generation, Result

__all__ = ["Classification", "Entities", "Entity", "Generation", "Result"]

"""adapterhub: many task adapters on one frozen pretrained base.

>>> from adapterhub import Registry
>>> Registry("registry").list()  # doctest: +SKIP
"""

__version__ = "0.1.0"

from adapterhub.errors import (
    AdapterHubError,
    AdapterNotFound,
    ConfigError,
    IncompatibleAdapter,
    InvalidName,
    RegistryConflict,
    RegistryCorrupt,
)
from adapterhub.registry import AdapterRecord, BaseInfo, Card, DataInfo, Registry


def __getattr__(name: str):  # heavy parts (torch, transformers) load on first use, keeping `hub list` instant
    if name == "train":
        from adapterhub.training.train import train

        return train
    if name in ("Hub", "Classification", "Entities", "Entity", "Generation"):
        import adapterhub.inference

        return getattr(adapterhub.inference, name)
    if name == "TrainConfig":
        from adapterhub.training.config import TrainConfig

        return TrainConfig
    raise AttributeError(f"module 'adapterhub' has no attribute {name!r}")


__all__ = [
    "AdapterHubError",
    "AdapterNotFound",
    "AdapterRecord",
    "BaseInfo",
    "Card",
    "Classification",
    "ConfigError",
    "DataInfo",
    "Entities",
    "Entity",
    "Generation",
    "Hub",
    "IncompatibleAdapter",
    "InvalidName",
    "Registry",
    "RegistryConflict",
    "RegistryCorrupt",
    "TrainConfig",
    "__version__",
    "train",
]

"""adapterhub: many task adapters on one frozen pretrained base.

>>> from adapterhub import Registry
>>> Registry("registry").list()  # doctest: +SKIP
"""

from adapterhub.errors import (
    AdapterHubError,
    AdapterNotFound,
    BaseNotFound,
    ConfigError,
    IncompatibleAdapter,
    InvalidName,
    MetricBelowMinimum,
    RegistryConflict,
    RegistryCorrupt,
    RegistryNotFound,
)
from adapterhub.registry import AdapterRecord, BaseInfo, Card, DataInfo, Registry
from adapterhub.version import __version__


def __getattr__(name: str):  # heavy parts (torch, transformers) load on first use, keeping `hub list` instant
    if name == "train":
        from adapterhub.training.train import train  # on first use: start-up stays light

        return train
    if name in ("Hub", "Classification", "Entities", "Entity", "Generation"):
        import adapterhub.inference  # loads torch: on first use

        return getattr(adapterhub.inference, name)
    if name == "TrainConfig":
        from adapterhub.training.config import TrainConfig  # on first use: start-up stays light

        return TrainConfig
    if name in ("evaluate", "compare"):
        import adapterhub.evaluation  # on first use: start-up stays light

        return getattr(adapterhub.evaluation, name)
    if name in ("tune", "TuneSettings"):
        import adapterhub.tuning  # on first use: start-up stays light

        return getattr(adapterhub.tuning, name)
    if name == "merge":
        from adapterhub.merging import merge  # on first use: start-up stays light

        return merge
    if name in ("attach", "load_base_for"):
        import adapterhub.export.attach  # on first use: start-up stays light

        return getattr(adapterhub.export.attach, name)
    if name == "export_merged":
        from adapterhub.export.merged import export_merged  # on first use: start-up stays light

        return export_merged
    if name == "export_adapter":
        from adapterhub.export.peft import export_adapter  # on first use: start-up stays light

        return export_adapter
    raise AttributeError(f"module 'adapterhub' has no attribute {name!r}")


__all__ = [
    "AdapterHubError",
    "AdapterNotFound",
    "AdapterRecord",
    "BaseInfo",
    "BaseNotFound",
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
    "MetricBelowMinimum",
    "Registry",
    "RegistryConflict",
    "RegistryCorrupt",
    "RegistryNotFound",
    "TrainConfig",
    "TuneSettings",
    "__version__",
    "attach",
    "compare",
    "evaluate",
    "export_adapter",
    "export_merged",
    "load_base_for",
    "merge",
    "train",
    "tune",
]

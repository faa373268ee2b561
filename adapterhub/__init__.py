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

__all__ = [
    "AdapterHubError",
    "AdapterNotFound",
    "AdapterRecord",
    "BaseInfo",
    "Card",
    "ConfigError",
    "DataInfo",
    "IncompatibleAdapter",
    "InvalidName",
    "Registry",
    "RegistryConflict",
    "RegistryCorrupt",
    "__version__",
]

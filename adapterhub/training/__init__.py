"""Training adapters: :func:`train` and its :class:`TrainConfig`."""

from adapterhub.training.config import TrainConfig

__all__ = ["TrainConfig", "train"]


def __getattr__(name: str):  # train() imports torch; keep `import adapterhub.training` light
    if name == "train":
        from adapterhub.training.train import train  # on first use: start-up stays light

        return train
    raise AttributeError(name)

"""``Method``: everything the rest of adapterhub knows about one adapter method, in one object per method file.

A method module (``methods/lora.py``, ``methods/prefix.py``, ...) defines its settings dataclass and one
``METHOD = Method(...)`` (or an instance of a subclass that answers some questions otherwise);
:mod:`adapterhub.methods` registers it. Training, tuning, the CLI, the registry's validation, inference and the
exports ask the method object; none of them branches on a method's name.

A settings dataclass is frozen, every field has a default, and every field's ``metadata`` holds its ``help``
(one phrase for ``hub train -h`` and the docs) and, where the flag is not ``--<method>-<field>``, its ``flag``.
Its ``peft_config(task_type, model)`` builds PEFT's config and ``card(model)`` says what the card records.

How hub inference serves a method's adapters (:attr:`Method.serving`):

- ``"bank"``: LoRA factors, held in the adapter bank and applied per row (``inference/lora_bank.py``);
- ``"cache"``: key/value prefixes, put in a per-row cache (``inference/prefix_cache.py``);
- ``"edits"``: :class:`LayerEdit` objects that :meth:`Method.layer_edits` builds, one per adapted layer, which
  the engine applies to the rows of the adapter's requests alone (``inference/row_edits.py``), so that they
  share a batch with any other adapter's rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SERVING_KINDS = ("bank", "cache", "edits")


@dataclass(frozen=True)
class Tensor:
    """A tensor as the safetensors header describes it (no torch needed)."""

    key: str  # with PEFT's ``base_model.model.`` prefix removed
    shape: tuple[int, ...]


class LayerEdit:
    """What one adapter does to one layer of the base, given the layer's input and output rows of its own
    requests only. The default changes nothing; a method overrides what it changes and says so in
    ``on_input`` / ``on_output`` (the engine calls only those)."""

    on_input = False
    on_output = False

    def before(self, x: Any) -> Any:
        """The layer's input rows as the layer should see them."""
        return x

    def after(self, out: Any) -> Any:
        """The layer's output rows as the next layer should see them."""
        return out

    def tensors(self) -> list[Any]:
        """The tensors the edit holds (for the adapter's size and device)."""
        return []

    def to(self, device: Any, dtype: Any = None) -> LayerEdit:
        """The same edit with its tensors on ``device`` (and in ``dtype``, when given)."""
        return self


@dataclass(frozen=True)
class Method:
    """One adapter method.

    Attributes:
        name: What ``--method`` takes and the card's ``method`` records, e.g. ``"lora"``.
        summary: One phrase for ``hub train -h`` and the docs.
        settings: The method's settings dataclass (frozen, defaults for every field, ``help`` in each field's
            metadata); ``settings()`` is the default.
        default_lr: The peak learning rate when ``--lr`` is not given.
        peft_type: PEFT's ``peft_type`` of the adapters it saves (``adapter_config.json``), e.g. ``"LORA"``.
        title: What messages call such an adapter: "a {title} adapter", e.g. ``"prefix-tuning"``.
        lr_range: The learning rates ``hub tune`` searches (log-uniform, low and high).
        serving: How hub inference serves it: one of :data:`SERVING_KINDS`.
        combine_as: The method whose adapters PEFT's weighted merge of several of these makes (``hub merge``),
            or None where such adapters cannot be combined.
        unmergeable: Why its adapter cannot be folded into the base's weights ("a prefix-tuning adapter: ...",
            completing "REF is ..."), or None where it can (``hub export --merged``).
        vllm: Whether vLLM serves its adapters (``hub export --vllm``).
        generate_by_hand: Whether the exported model card's example decodes greedily by hand, because PEFT's
            ``generate()`` would drop the adapter under transformers 5.
    """

    name: str
    summary: str
    settings: type
    default_lr: float
    peft_type: str
    title: str = ""
    lr_range: tuple[float, float] = (1e-3, 5e-2)
    serving: str = "bank"
    combine_as: str | None = None
    unmergeable: str | None = None
    vllm: bool = False
    generate_by_hand: bool = False

    def flag(self, field_name: str) -> str:
        """The command-line flag of one of the settings' fields, e.g. ``--lora-r``."""
        spec = next(f for f in dataclasses.fields(self.settings) if f.name == field_name)
        return spec.metadata.get("flag") or f"--{self.name}-{field_name.replace('_', '-')}"

    def help(self, field_name: str) -> str:
        """The help text of one of the settings' fields."""
        spec = next(f for f in dataclasses.fields(self.settings) if f.name == field_name)
        return spec.metadata["help"]

    def default_settings(self) -> Any:
        return self.settings()

    # ------------------------------------------------------------------------------------------------ training

    def settings_of(self, config: Any) -> Any:
        """The settings a run of ``config`` (a ``TrainConfig``) uses: its field named after the method when it
        has one of the settings' type, else the defaults."""
        value = getattr(config, self.name, None)
        return value if isinstance(value, self.settings) else self.settings()

    def check_base(self, location: str, instead: str = "") -> None:
        """Refuse a base folder the method cannot work on, from its ``config.json`` alone (before any weight
        loads); ``instead`` says what works instead. The default refuses nothing.

        Raises:
            ConfigError: The method cannot work on that base.
        """

    def virtual_tokens(self, settings: Any) -> int:
        """Positions the adapter puts before every sequence (a prefix's virtual tokens); 0 by default."""
        return 0

    def attach(self, model: Any, settings: Any, task_type: str) -> Any:
        """``model`` wrapped by PEFT with a fresh, trainable adapter of this method."""
        from peft import get_peft_model  # only once a run is under way: importing methods stays light

        return get_peft_model(model, settings.peft_config(task_type, model))

    def optimizer(self, model: Any, config: Any) -> Any | None:
        """An optimizer of the method's own for ``model`` under ``config`` (e.g. LoRA+'s), or None for plain
        AdamW over the trainable parameters."""
        return None

    def search(self, trial: Any) -> dict[str, Any]:
        """One point of the method's own search space for ``hub tune``: ``TrainConfig.merged`` keywords drawn
        from an Optuna ``trial`` (the learning rate and warmup are drawn by the caller)."""
        return {}

    # ------------------------------------------------------------------------------------------ registry, serving

    def file_problems(
        self,
        method_config: Mapping[str, Any],
        config: Mapping[str, Any],
        body: Sequence[Tensor],
        base: Mapping[str, Any] | None,
    ) -> list[str]:
        """Where an adapter of this method disagrees with its card's ``method_config``, its
        ``adapter_config.json`` (``config``), its tensors other than the task head (``body``) or the base's
        ``config.json`` (``base``, when known). The default finds nothing."""
        return []

    def layer_edits(self, ref: str, config: Mapping[str, Any], tensors: Mapping[str, Any], root: Any) -> Any:
        """For ``serving == "edits"``: the adapter ``ref`` (its ``adapter_config.json`` and its tensors other
        than the task head, keys relative to ``root``) as ``({layer path: LayerEdit}, [unexpected keys])`` for the
        base ``root``; tensors stay where they are (the caller moves them).

        Raises:
            IncompatibleAdapter: The adapter does not fit ``root``.
        """
        raise NotImplementedError(f"{self.name} adapters are served as {self.serving}, not by layer edits")


def sample(items: Sequence[str]) -> str:
    """Up to three of ``items``, for a message."""
    return "[" + ", ".join(items[:3]) + (", …" if len(items) > 3 else "") + "]"

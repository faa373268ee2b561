"""The base's positions against the longest sequence training feeds it."""

from __future__ import annotations

from adapterhub.errors import ConfigError


def check_positions(positions: int | None, longest: int, max_length: int, prefix_tokens: int) -> None:
    """Refuse training when its ``longest`` encoded sequence, after a prefix's ``prefix_tokens`` virtual tokens,
    needs more than the base's ``positions`` (None: the base declares no limit): a learned position table (GPT-2,
    BERT) ends there with an ``IndexError`` mid-training, and a rotary base was never trained past it.

    Raises:
        ConfigError: ``longest + prefix_tokens`` is more than ``positions``.
    """
    if positions is None or longest + prefix_tokens <= positions:
        return
    after = f" after the prefix's {prefix_tokens} virtual tokens" if prefix_tokens else ""
    room = positions - prefix_tokens
    fix = f"pass --max-length {room} or less" if room >= 8 else "use fewer --prefix-tokens"
    raise ConfigError(
        f"the longest example is {longest} tokens at --max-length {max_length}{after}, which needs "
        f"{longest + prefix_tokens} positions, but the base has {positions}; {fix}"
    )

"""Changes that leave every version's files as they are: pointing aliases (plain or weighted) at versions, and
appending an evaluation to a card.

Each change is made under the writer lock and journaled (:func:`~adapterhub.registry.recovery.writing`); files
are replaced atomically, so a crash leaves the old state or the new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from adapterhub.cards.card import CARD_FILE, Card
from adapterhub.cards.records import AdapterRecord
from adapterhub.errors import AdapterNotFound, ConfigError, IncompatibleAdapter
from adapterhub.names import Ref, validate_name
from adapterhub.registry.aliases import TOLERANCE, Split, Target
from adapterhub.registry.files import atomic_write, disk_error
from adapterhub.registry.indexing import sync_index
from adapterhub.registry.reading import as_ref, get, get_one, settled
from adapterhub.registry.recovery import writing
from adapterhub.registry.store import Store, ranges


def tag(store: Store, ref: str | Ref, alias: str) -> AdapterRecord:
    """Point ``name:alias`` at the one version ``ref`` names; returns that version's record."""
    validate_name(alias, "alias")
    record = get_one(store, ref)
    with writing(store, [record.name]):
        aliases = store.aliases(record.name)
        aliases[alias] = record.version
        store.write_aliases(record.name, aliases)
        sync_index(store, record.name)
    return get(store, Ref(record.name, version=record.version))


def tag_weighted(
    store: Store, weights: Mapping[str | Ref, float] | Sequence[tuple[str | Ref, float]], alias: str
) -> Target:
    """Make ``name:alias`` split traffic between versions of one name by weight; returns the split (or the
    version, for a single version of weight 1)."""
    validate_name(alias, "alias")
    refs = _weighted_refs(weights)
    name = refs[0][0].name
    if len(refs) == 1:
        ref, weight = refs[0]
        if abs(weight - 1) > TOLERANCE:
            raise ConfigError(f"the weights sum to {weight:g}, not 1; a single version takes weight 1 (or none)")
        return tag(store, ref, alias).version
    split = Split(tuple(sorted((ref.version or 0, w) for ref, w in refs)))
    settled(store)
    with writing(store, [name]):
        versions = store.versions(name)
        if not versions:
            raise store.unknown_name(name)
        for version in split.versions:
            if version not in versions:
                raise AdapterNotFound(
                    f"{name} has no version {version} (versions: {ranges(versions)}); nothing was changed "
                    f"(see `hub list {name}`)"
                )
        check_compatible([store.card(name, v) for v in split.versions])
        aliases = store.aliases(name)
        aliases[alias] = split
        store.write_aliases(name, aliases)
        sync_index(store, name)
    return split


def _weighted_refs(weights: Mapping[str | Ref, float] | Sequence[tuple[str | Ref, float]]) -> list[tuple[Ref, float]]:
    """The (NAME@VERSION, weight) pairs of a split, each checked alone, all of one name."""
    pairs = list(weights.items()) if isinstance(weights, Mapping) else list(weights)
    refs: list[tuple[Ref, float]] = []
    for text, weight in pairs:
        ref = as_ref(text)
        if ref.version is None:
            raise ConfigError(f"{str(ref)!r} in a split: a split names exact versions, NAME@VERSION=WEIGHT")
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise ConfigError(f"the weight of {ref} is {weight!r}; a weight is a number above 0 and at most 1")
        refs.append((ref, float(weight)))
    if not refs:
        raise ConfigError("a split needs versions and weights, e.g. NAME@3=0.9 NAME@4=0.1")
    names = sorted({ref.name for ref, _ in refs})
    if len(names) > 1:
        raise ConfigError(
            f"a split is between versions of one name, not of {' and '.join(names)}; an alias belongs to one name"
        )
    return refs


def check_compatible(cards: list[Card]) -> None:
    """Raise :class:`IncompatibleAdapter` unless every card answers the same requests the same way: one task,
    label set, base (id and weights) and quantization, as the versions of one alias must."""
    first = cards[0]
    for card in cards[1:]:
        for what, mine, theirs in (
            ("task", card.task, first.task),
            ("labels", ",".join(card.labels), ",".join(first.labels)),
            ("base", card.base.id, first.base.id),
            ("base fingerprint", card.base.fingerprint, first.base.fingerprint),
            ("quantization", card.inference.quantize or "none", first.inference.quantize or "none"),
        ):
            if mine != theirs:
                raise IncompatibleAdapter(
                    f"{card.name}@{card.version} and {first.name}@{first.version} cannot share an alias: different "
                    f"{what} ({mine or '-'} vs {theirs or '-'}); the versions of a split must answer the same "
                    "requests. Nothing was changed"
                )


def record_evaluation(store: Store, ref: str | Ref, evaluation: dict[str, Any]) -> AdapterRecord:
    """Append ``evaluation`` to the card of the one version ``ref`` names, its files untouched."""
    record = get_one(store, ref)
    with writing(store, [record.name]):
        card = store.card(record.name, record.version)  # re-read under the lock: no lost appends
        card = replace(card, evaluations=(*card.evaluations, evaluation))
        try:
            atomic_write(record.path / CARD_FILE, card.to_json())
        except OSError as exc:
            raise disk_error(exc, f"recording an evaluation of {record.ref}") from exc
        sync_index(store, record.name)
    return get(store, Ref(record.name, version=record.version))

"""Keeping the index (:mod:`adapterhub.registry.index`, a cache) in line with the version folders.

Every change updates the index under the writer lock, after the folders changed; a crash between the two is
repaired from the journal (:mod:`adapterhub.registry.recovery`). A missing or damaged index is rebuilt from the
folders, which always say the truth.
"""

from __future__ import annotations

from adapterhub.cards.card import Card
from adapterhub.registry import index
from adapterhub.registry.store import Store


def sync_index(store: Store, name: str) -> None:
    """Make the index's rows of ``name`` what its folders hold (lock held)."""
    if not store.index_path().exists():
        rebuild_index(store)
        return
    cards = [store.card(name, v) for v in store.versions(name)]
    aliases = store.aliases(name) if (store.root / name).is_dir() else {}
    try:
        with index.connect(store.index) as db:
            index.replace_name(db, name, cards, aliases)
    except index.IndexDamaged:
        rebuild_index(store)


def index_new(store: Store, card: Card) -> None:
    """Add the version of ``card``, just published (lock held)."""
    if not store.index_path().exists():
        rebuild_index(store)
        return
    try:
        with index.connect(store.index) as db:
            index.add(db, card)
    except index.IndexDamaged:
        rebuild_index(store)


def rebuild_index(store: Store) -> int:
    """Write a new index from the folders (lock held); returns the number of versions indexed."""
    contents = [(n, [store.card(n, v) for v in store.versions(n)], store.aliases(n)) for n in store.names()]
    index.rebuild(store.index_path(), contents)
    return sum(len(cards) for _, cards, _ in contents)

"""Stored outputs of a node's many deps, read in bulk ahead of the rule that reads them one by one.

A rule reads its deps' outputs through `ComputeContext.output_bytes`, one at a time; for a hit, each is
one point SELECT of `state.db` (≈ 70 µs with its pages cached, several times that without). A node with
thousands of deps (promptgen's answers and summary read every plan's fragment or status: 2 × 2865 at
100k documents) paid that per dep. When such a node is computed, the engine announces its deps here
(`expect`); the first read of one of them fetches it and the next WINDOW announced ones in one SELECT
(`Store.load_outputs`), and they wait here until the rule asks. The bytes are the same stored bytes
(the engine checks their fingerprint as for any load), and the window bounds what is held ahead.
"""
from __future__ import annotations

from typing import Callable

BULK_DEPS = 64  # deps from which a node's stored outputs are read in bulk
WINDOW = 256  # outputs per bulk read: bounds the memory held ahead of the rule (≈ 5 MB of fragments)


class OutputsAhead:
    """The announced deps of the node being computed and the outputs read ahead for it."""

    __slots__ = ("_load_many", "_order", "_index", "_got")

    def __init__(self, load_many: Callable[[list[str]], dict[str, bytes]]) -> None:
        self._load_many = load_many  # node ids -> the stored outputs found (Store.load_outputs)
        self.clear()

    def expect(self, node_ids: list[str]) -> None:
        """The deps the next rule may read, in the order it will probably read them."""
        self._order = node_ids
        self._index = {n: i for i, n in enumerate(node_ids)}  # announced, not read yet
        self._got: dict[str, bytes] = {}

    def clear(self) -> None:
        """The rule is done: forget what it did not read."""
        self.expect([])

    def take(self, node_id: str) -> bytes | None:
        """The stored output of an announced dep (read with the next ones if not read yet), once; None
        for a dep not announced or not found in bulk (the caller reads it itself)."""
        got = self._got.pop(node_id, None)
        if got is None:
            i = self._index.pop(node_id, None)
            if i is not None:
                index = self._index
                window = [node_id, *(n for n in self._order[i + 1:i + WINDOW] if n in index)]
                for n in window:
                    index.pop(n, None)
                self._got.update(self._load_many(window))
                got = self._got.pop(node_id, None)
        return got

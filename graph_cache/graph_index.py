"""The graph index: the whole graph of the last build in one blob, so a change-driven build need not
rebuild it.

A change-driven build (dirty.py) needs, for every node of the last build's graph, its spec, the nodes
that read each file and the dependents of each node. Rebuilding that from the root specs and the
generators' stored children costs O(graph) object work on every build; instead the engine writes, at
every commit and in the same SQLite transaction as the traces, one marshal blob (key `KEY` of the
`blobs` table):

    MAGIC + xxh3(body) + marshal((FORMAT, roots_digest, versions_digest, nodes, readers, dependents,
                                  by_type))

with `nodes = {id: (type, files, deps, params)}` in graph order, `readers = {path: (ids...)}`,
`dependents = {id: (ids...)}` and `by_type = {type: count}`. Output fingerprints are not in it (they
change on every build; they are read from the trace rows of the nodes a build touches). A commit
without a new index drops it unless the engine proved the graph unchanged (`Store.commit`), so the index
never disagrees with the traces; a missing, damaged or stale index means a full build.
"""
from __future__ import annotations

import marshal
from typing import Any, Iterator, Mapping

from .fingerprint import hash_bytes
from .model import NodeSpec

KEY = "graph_cache.index"  # reserved key in the store's `blobs` table
MAGIC = b"GCIX"
FORMAT = 1
_SUM = 32  # length of the hex checksum after MAGIC


def encode(roots_key: str, versions_key: str, specs: Mapping[str, NodeSpec]) -> bytes:
    """The index blob of a graph (`specs`: every node of the build, in graph order)."""
    nodes: dict[str, tuple[Any, ...]] = {}
    readers: dict[str, list[str]] = {}
    dependents: dict[str, list[str]] = {}
    by_type: dict[str, int] = {}
    for nid, s in specs.items():
        nodes[nid] = (s.type, s.files, s.deps, s.params)
        for p in s.files:
            readers.setdefault(p, []).append(nid)
        for d in s.deps:
            dependents.setdefault(d, []).append(nid)
        by_type[s.type] = by_type.get(s.type, 0) + 1
    body = marshal.dumps((FORMAT, roots_key, versions_key, nodes,
                          {p: tuple(ids) for p, ids in readers.items()},
                          {d: tuple(ids) for d, ids in dependents.items()}, by_type))
    return MAGIC + hash_bytes(body).encode() + body


class GraphIndex:
    """A decoded index; `spec(id)` builds (and keeps) the NodeSpec of one node."""

    __slots__ = ("roots_key", "versions_key", "nodes", "readers", "dependents", "by_type", "_specs")

    def __init__(self, roots_key: str, versions_key: str, nodes: dict[str, tuple[Any, ...]],
                 readers: dict[str, tuple[str, ...]], dependents: dict[str, tuple[str, ...]],
                 by_type: dict[str, int]) -> None:
        self.roots_key, self.versions_key = roots_key, versions_key
        self.nodes, self.readers, self.dependents, self.by_type = nodes, readers, dependents, by_type
        self._specs: dict[str, NodeSpec] = {}

    @classmethod
    def decode(cls, blob: bytes | None) -> GraphIndex | None:
        """None if absent, damaged (checksum) or of another format."""
        if not blob or blob[:len(MAGIC)] != MAGIC:
            return None
        body = bytes(blob[len(MAGIC) + _SUM:])
        if hash_bytes(body).encode() != bytes(blob[len(MAGIC):len(MAGIC) + _SUM]):
            return None
        try:
            fmt, roots_key, versions_key, nodes, readers, dependents, by_type = marshal.loads(body)
        except (ValueError, TypeError, EOFError):
            return None
        if fmt != FORMAT or not all(isinstance(x, dict) for x in (nodes, readers, dependents, by_type)):
            return None
        return cls(roots_key, versions_key, nodes, readers, dependents, by_type)

    def spec(self, node_id: str) -> NodeSpec | None:
        got = self._specs.get(node_id)
        if got is None:
            row = self.nodes.get(node_id)
            if row is None:
                return None
            got = self._specs[node_id] = NodeSpec(node_id, *row)
        return got

    def __iter__(self) -> Iterator[str]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

"""The graph index: the whole graph of the last build, stored so that a change-driven build reads only
the few nodes it visits.

A change-driven build (dirty.py) needs the spec of the nodes it visits, the nodes that read each changed
file and the dependents of each node whose output changed. Rebuilding that from the root specs and the
generators' stored children costs O(graph) object work on every build; instead the engine writes, at
every commit and in the same SQLite transaction as the traces, one blob (key `KEY` of `blobs`):

    MAGIC + xxh3(body) + marshal((FORMAT, roots_digest, versions_digest, by_type, ids, paths,
                                  node_buckets, reader_buckets))

`ids` lists every node in graph order, `paths` every file the graph reads; a node's record
`(type, files, deps, params, dependents)` sits in node bucket `crc32(id) % len(node_buckets)`, the
readers of a path in reader bucket `crc32(path) % ...`: each bucket is its own marshal bytes, decoded
on first use, so loading the index creates two tuples of strings and not 16k records. Output
fingerprints are not in it (they change on every build: they come from the trace rows of the nodes a
build touches). A commit without a new index drops it unless the engine proved the graph unchanged
(`Store.commit`), so the index never disagrees with the traces; a missing, damaged or stale index means
a full build.
"""
from __future__ import annotations

import marshal
import zlib
from typing import Any, Mapping

from .fingerprint import hash_bytes
from .model import NodeSpec

KEY = "graph_cache.index"  # reserved key in the store's `blobs` table
MAGIC = b"GCIX"
FORMAT = 1
_SUM = 32  # length of the hex checksum after MAGIC


BUCKET = 64  # records per bucket, on average


def _bucket(key: str, n: int) -> int:
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % n


def _buckets(records: dict[str, Any]) -> tuple[bytes, ...]:
    n = max(1, len(records) // BUCKET)
    parts: list[dict[str, Any]] = [{} for _ in range(n)]
    for key, rec in records.items():
        parts[_bucket(key, n)][key] = rec
    return tuple(marshal.dumps(p) for p in parts)


def encode(roots_key: str, versions_key: str, specs: Mapping[str, NodeSpec]) -> bytes:
    """The index blob of a graph (`specs`: every node of the build, in graph order)."""
    readers: dict[str, list[str]] = {}
    dependents: dict[str, list[str]] = {}
    by_type: dict[str, int] = {}
    for nid, s in specs.items():
        for p in s.files:
            readers.setdefault(p, []).append(nid)
        for d in s.deps:
            dependents.setdefault(d, []).append(nid)
        by_type[s.type] = by_type.get(s.type, 0) + 1
    nodes = {nid: (s.type, s.files, s.deps, s.params, tuple(dependents.get(nid, ()))) for nid, s in specs.items()}
    body = marshal.dumps((FORMAT, roots_key, versions_key, by_type, tuple(nodes), tuple(readers),
                          _buckets(nodes), _buckets({p: tuple(ids) for p, ids in readers.items()})))
    return MAGIC + hash_bytes(body).encode() + body


class GraphIndex:
    """A decoded index: `ids`, `paths`, `by_type` at once; records decoded per bucket on first use."""

    __slots__ = ("roots_key", "versions_key", "by_type", "ids", "paths", "_nodes", "_readers", "_specs")

    def __init__(self, roots_key: str, versions_key: str, by_type: dict[str, int], ids: tuple[str, ...],
                 paths: tuple[str, ...], nodes: tuple[bytes, ...], readers: tuple[bytes, ...]) -> None:
        self.roots_key, self.versions_key, self.by_type = roots_key, versions_key, by_type
        self.ids, self.paths = ids, paths
        self._nodes = _Buckets(nodes)
        self._readers = _Buckets(readers)
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
            fmt, roots_key, versions_key, by_type, ids, paths, nodes, readers = marshal.loads(body)
        except (ValueError, TypeError, EOFError):
            return None
        if fmt != FORMAT or not (nodes and readers):
            return None
        return cls(roots_key, versions_key, by_type, ids, paths, nodes, readers)

    def spec(self, node_id: str) -> NodeSpec | None:
        got = self._specs.get(node_id)
        if got is None:
            row = self._nodes.get(node_id)
            if row is None:
                return None
            got = self._specs[node_id] = NodeSpec(node_id, *row[:4])
        return got

    def dependents(self, node_id: str) -> tuple[str, ...]:
        row = self._nodes.get(node_id)
        return () if row is None else row[4]

    def readers(self, path: str) -> tuple[str, ...]:
        return self._readers.get(path) or ()

    def __len__(self) -> int:
        return len(self.ids)


class _Buckets:
    """key -> record, from marshal buckets decoded on first use."""

    __slots__ = ("_raw", "_decoded")

    def __init__(self, raw: tuple[bytes, ...]) -> None:
        self._raw = raw
        self._decoded: dict[int, dict[str, Any]] = {}

    def get(self, key: str) -> Any:
        b = _bucket(key, len(self._raw))
        part = self._decoded.get(b)
        if part is None:
            part = self._decoded[b] = marshal.loads(self._raw[b])
        return part.get(key)

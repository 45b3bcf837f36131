"""The graph index: the whole graph of the last build, stored so that a change-driven build reads only
the few nodes it visits.

A change-driven build (dirty.py) needs the spec of the nodes it visits, the nodes that read each changed
file and the dependents of each node whose output changed. Rebuilding that from the root specs and the
generators' stored children costs O(graph) object work on every build; instead the engine writes, at
every commit and in the same SQLite transaction as the traces, one blob (key `KEY` of `blobs`):

    MAGIC + xxh3(body) + marshal((FORMAT, roots_digest, versions_digest, by_type, types, ids, paths,
                                  node_buckets, reader_buckets, shape, root_positions))

`ids` lists every node in graph order and `paths` every file the graph reads. The record of node `i`,
`(type index, file positions, dep positions, params, dependent positions, depth)`, is item `i % BUCKET` of
node bucket `i // BUCKET`; the reader positions of path `j` likewise in the reader buckets. Each
bucket is its own marshal bytes, decoded on first use: loading the index creates two tuples of strings
and a few hundred bytes objects, not 16k records, and a build decodes the buckets of the nodes it
visits. Output fingerprints are not in it (they change on every build: they come from the trace rows
of the nodes a build touches). A commit without a new index drops it unless the engine proved the graph
unchanged (`Store.commit`), so the index never disagrees with the traces; a missing, damaged or stale
index means a full build. `shape` (`shape_of`) digests the graph independently of its order: the build
result carries it (`BuildResult.graph_digest`), so consumers can tell "same graph" without any spec.
`root_positions` are the nodes that were roots (the others were generated): a build whose roots changed
compares its roots with them (root_changes.py). `depth` is the longest dependency chain below the node,
the order in which a change-driven build visits nodes: stored, it spares walking everything below an
aggregate node (an answers node over every plan) each time one of its inputs changes.
"""
from __future__ import annotations

import marshal
from typing import Any, Iterable, Mapping

from .fingerprint import hash_bytes
from .model import NodeSpec, node_spec

KEY = "graph_cache.index"  # reserved key in the store's `blobs` table
MAGIC = b"GCIX"
FORMAT = 5
BUCKET = 64  # records per bucket
_SUM = 32  # length of the hex checksum after MAGIC
HEAD = len(MAGIC) + _SUM  # the blob's header: equal headers mean equal bodies (the checksum of the body)


def _buckets(records: list[Any]) -> tuple[bytes, ...]:
    return tuple(marshal.dumps(records[i:i + BUCKET]) for i in range(0, len(records), BUCKET)) or (b"",)


def encode(roots_key: str, versions_key: str, specs: Mapping[str, NodeSpec], shape: str | None = None,
           roots: Iterable[str] = ()) -> bytes | None:
    """The index blob of a graph (`specs`: every node of the build, in graph order; `shape`: its
    `shape_of`, computed if not given; `roots`: the ids of the root specs); None if a node depends on a
    node outside it, or a root is not in it (such a build fails anyway)."""
    pos = {nid: i for i, nid in enumerate(specs)}
    ppos: dict[str, int] = {}
    tpos: dict[str, int] = {}
    readers: list[list[int]] = []
    dependents: list[list[int]] = [[] for _ in pos]
    records = []
    for i, s in enumerate(specs.values()):
        files: tuple[int, ...] = ()
        if s.files:
            fl = []
            for p in s.files:
                j = ppos.get(p)
                if j is None:
                    j = ppos[p] = len(readers)
                    readers.append([i])
                else:
                    readers[j].append(i)
                fl.append(j)
            files = tuple(fl)
        deps: tuple[int, ...] = ()
        if s.deps:
            try:
                deps = tuple([pos[d] for d in s.deps])
            except KeyError:
                return None
            for d in deps:
                dependents[d].append(i)
        t = tpos.get(s.type)
        if t is None:
            t = tpos[s.type] = len(tpos)
        records.append((t, files, deps, s.params))
    depths = _depths([rec[2] for rec in records], dependents)
    if depths is None:
        return None
    counts = [0] * len(tpos)
    out = []
    for rec, dep_of, depth in zip(records, dependents, depths):
        counts[rec[0]] += 1
        out.append((rec[0], rec[1], rec[2], rec[3], tuple(dep_of), depth))
    by_type = dict(zip(tpos, counts))
    try:
        root_positions = tuple(sorted(pos[r] for r in roots))
    except KeyError:
        return None
    body = marshal.dumps((FORMAT, roots_key, versions_key, by_type, tuple(tpos), tuple(pos), tuple(ppos),
                          _buckets(out), _buckets([tuple(r) for r in readers]), shape or shape_of(specs),
                          root_positions))
    return MAGIC + hash_bytes(body).encode() + body


def _depths(deps: list[tuple[int, ...]], dependents: list[list[int]]) -> list[int] | None:
    """The longest dependency chain below each node (`DirtyScheduler.depth`), by position, in one
    topological pass (Kahn); None if the deps have a cycle."""
    waiting = [len(d) for d in deps]
    depth = [0] * len(deps)
    order = [i for i, d in enumerate(deps) if not d]
    for i in order:  # grows while it is walked
        above = depth[i] + 1
        for j in dependents[i]:
            if depth[j] < above:
                depth[j] = above
            waiting[j] -= 1
            if not waiting[j]:
                order.append(j)
    return depth if len(order) == len(deps) else None


def shape_of(specs: Mapping[str, NodeSpec]) -> str:
    """A digest of the graph that does not depend on its order (full and change-driven builds order
    nodes differently): every spec, sorted by id."""
    return hash_bytes(marshal.dumps(sorted((s.id, s.type, s.files, s.deps, s.params) for s in specs.values()), 2))


class GraphIndex:
    """A decoded index: `ids`, `paths`, `by_type` at once; records decoded per bucket on first use."""

    __slots__ = ("roots_key", "versions_key", "by_type", "types", "ids", "paths", "_pos", "_ppos",
                 "_nodes", "_readers", "_specs", "shape", "root_positions")

    def __init__(self, roots_key: str, versions_key: str, by_type: dict[str, int], types: tuple[str, ...],
                 ids: tuple[str, ...], paths: tuple[str, ...], nodes: tuple[bytes, ...],
                 readers: tuple[bytes, ...]) -> None:
        self.roots_key, self.versions_key, self.by_type, self.types = roots_key, versions_key, by_type, types
        self.ids, self.paths = ids, paths
        self._pos = {nid: i for i, nid in enumerate(ids)}
        self._ppos: dict[str, int] | None = None
        self._nodes, self._readers = _Buckets(nodes), _Buckets(readers)
        self._specs: dict[str, NodeSpec] = {}
        self.shape = ""  # shape_of the graph, set by decode
        self.root_positions: tuple[int, ...] = ()  # positions in `ids` of the root nodes, set by decode

    @classmethod
    def decode(cls, blob: bytes | None) -> GraphIndex | None:
        """None if absent, damaged (checksum) or of another format."""
        if not blob or blob[:len(MAGIC)] != MAGIC:
            return None
        body = bytes(blob[len(MAGIC) + _SUM:])
        if hash_bytes(body).encode() != bytes(blob[len(MAGIC):len(MAGIC) + _SUM]):
            return None
        try:
            fmt, roots_key, versions_key, by_type, types, ids, paths, nodes, readers, shape, roots = marshal.loads(body)
        except (ValueError, TypeError, EOFError):
            return None
        if fmt != FORMAT:
            return None
        index = cls(roots_key, versions_key, by_type, types, ids, paths, nodes, readers)
        index.shape, index.root_positions = shape, roots
        return index

    def root_ids(self) -> list[str]:
        """The ids of the nodes that were roots (the others were generated), in graph order."""
        ids = self.ids
        return [ids[i] for i in self.root_positions]

    def spec(self, node_id: str) -> NodeSpec | None:
        got = self._specs.get(node_id)
        if got is None:
            i = self._pos.get(node_id)
            if i is None:
                return None
            got = self._specs[node_id] = self._build(node_id, self._nodes.get(i))
        return got

    def _build(self, node_id: str, rec: tuple[Any, ...]) -> NodeSpec:
        t, files, deps, params = rec[:4]
        paths, ids = self.paths, self.ids
        return node_spec(node_id, self.types[t], tuple([paths[j] for j in files]),
                         tuple([ids[j] for j in deps]), params)

    def all_specs(self) -> dict[str, NodeSpec]:
        """Every spec, in graph order (bulk: each bucket decoded once, one tight loop)."""
        if len(self._specs) < len(self.ids):
            ids, paths, types, known = self.ids, self.paths, self.types, self._specs
            out: dict[str, NodeSpec] = {}
            new, cls = tuple.__new__, NodeSpec
            i = 0
            for b in range(len(self._nodes)):
                for t, files, deps, params, _, _ in self._nodes.bucket(b):
                    nid = ids[i]
                    i += 1
                    spec = known.get(nid)
                    if spec is None:  # node_spec(), inlined
                        spec = new(cls, (nid, types[t], tuple([paths[j] for j in files]) if files else (),
                                         tuple([ids[j] for j in deps]) if deps else (), params))
                    out[nid] = spec
            self._specs = out
        return self._specs

    def dep_ids(self, node_id: str) -> tuple[str, ...]:
        """The deps of a node (() if unknown), without building its NodeSpec."""
        spec = self._specs.get(node_id)
        if spec is not None:
            return spec.deps
        i = self._pos.get(node_id)
        if i is None:
            return ()
        ids = self.ids
        return tuple([ids[j] for j in self._nodes.get(i)[2]])

    def ids_of_types(self, types: set[str]) -> list[str]:
        """The ids of the nodes of these types, in graph order (records decoded, no NodeSpec built)."""
        wanted = {i for i, t in enumerate(self.types) if t in types}
        if not wanted:
            return []
        ids, nodes = self.ids, self._nodes
        out = []
        for b in range(len(nodes)):
            base = b * BUCKET
            out.extend(ids[base + k] for k, rec in enumerate(nodes.bucket(b)) if rec[0] in wanted)
        return out

    def type_of(self, node_id: str) -> str:
        """The node's type, without building its NodeSpec (KeyError if unknown)."""
        return self.types[self._nodes.get(self._pos[node_id])[0]]

    def depth(self, node_id: str) -> int | None:
        """The node's stored depth (None if unknown): `DirtyScheduler.depth` in the indexed graph."""
        i = self._pos.get(node_id)
        return None if i is None else self._nodes.get(i)[5]

    def dependents(self, node_id: str) -> tuple[str, ...]:
        i = self._pos.get(node_id)
        if i is None:
            return ()
        ids = self.ids
        return tuple([ids[j] for j in self._nodes.get(i)[4]])

    def readers(self, path: str) -> tuple[str, ...]:
        if self._ppos is None:
            self._ppos = {p: j for j, p in enumerate(self.paths)}
        j = self._ppos.get(path)
        if j is None:
            return ()
        ids = self.ids
        return tuple([ids[i] for i in self._readers.get(j)])

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._pos


_ahead: dict[bytes, GraphIndex] = {}  # header -> the index decoded ahead of the build that will use it


def decode_ahead(blob: bytes | None) -> bool:
    """Decode an index before the build that will read it (a daemon's child does while the client still
    walks its tree), kept under the blob's header for `take_ahead`. True if it decoded."""
    index = GraphIndex.decode(blob)
    _ahead.clear()
    if index is None or blob is None:
        return False
    _ahead[bytes(blob[:HEAD])] = index
    return True


def take_ahead(head: bytes | None) -> GraphIndex | None:
    """The index `decode_ahead` decoded from a blob with this header (once), else None. The header holds
    the body's checksum: an index stored since with other contents has another header."""
    index = _ahead.pop(head, None) if head else None
    _ahead.clear()  # one chance: a stale one is not kept
    return index


class _Buckets:
    """Record `i` of marshal buckets of BUCKET records, each bucket decoded on first use."""

    __slots__ = ("_raw", "_decoded")

    def __init__(self, raw: tuple[bytes, ...]) -> None:
        self._raw = raw
        self._decoded: dict[int, list[Any]] = {}

    def bucket(self, b: int) -> list[Any]:
        part = self._decoded.get(b)
        if part is None:
            part = self._decoded[b] = marshal.loads(self._raw[b])
        return part

    def get(self, i: int) -> Any:
        b, k = divmod(i, BUCKET)
        return self.bucket(b)[k]

    def __len__(self) -> int:
        return len(self._raw) if self._raw != (b"",) else 0

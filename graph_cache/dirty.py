"""Change-driven builds: visit only the nodes reachable from changed files (the dirty closure).

A full build verifies every node top-down. When the graph is provably the one of the last build — the
same root specs and the same version keys (both recorded as digests at every commit), no reset, and a
state file nobody else wrote since our last commit (else a damaged row could go unnoticed) — the
verdict of every node that reads no changed file and no recomputed output is known in advance: hit. So
the engine compares file stats with the stored records, hashes the files whose stat moved, and schedules
only the nodes that read a file whose digest changed, then the dependents of every node whose output
fingerprint changed (early cutoff stops the wave), in dependency-depth order. Everything else is counted
as a hit without being touched (one `NodesHit` event). Any doubt (no digest yet, a generator's trace
missing, a node without a stored row) falls back to the full build, which is always correct.
"""
from __future__ import annotations

import heapq
import marshal
from typing import Any, Callable, Iterable, Mapping, Sequence

from .changed_files import changed_files, files_to_check
from .errors import CycleError
from .fingerprint import hash_bytes
from . import graph_index
from .graph_index import GraphIndex
from .graph_specs import GraphSpecs
from .spec_rows import SpecRows, rows_digest
from .model import NodeSpec, Rule
from .trace_table import OUTPUT_FP

ROOTS_KEY, VERSIONS_KEY = "roots_digest", "versions_digest"  # store meta keys written at each commit


def roots_digest(roots: Sequence[NodeSpec]) -> str:
    """Digest of the root specs (memoised by SpecRows, which need not build NodeSpecs for it)."""
    if isinstance(roots, SpecRows):
        return roots.digest()
    return rows_digest([(s.id, s.type, s.files, s.deps, s.params) for s in roots])


def versions_digest(global_version: str, rules: Mapping[str, Rule]) -> str:
    return hash_bytes(marshal.dumps((global_version, sorted((t, r.version) for t, r in rules.items())), 2))


class Unknown(KeyError):
    """The stored output fingerprint of a node not visited yet cannot be read (damaged row)."""

    def __init__(self, node_id: str) -> None:
        super().__init__(node_id)
        self.node_id = node_id


class StoredFps(dict):
    """node id -> output fingerprint in this build: visited nodes set theirs, the others keep the one
    stored in their trace row, read on first use (only the deps of visited nodes are ever asked)."""

    def __init__(self, stored: Callable[[str], str | None],
                 prefetch: Callable[[Iterable[str]], None] | None = None) -> None:
        super().__init__()
        self._stored = stored
        self._prefetch = prefetch

    def prefetch(self, node_ids: Iterable[str]) -> None:
        """Read the stored rows of many nodes at once, before asking for their fingerprints one by one."""
        if self._prefetch is not None:
            self._prefetch([n for n in node_ids if not dict.__contains__(self, n)])

    def __missing__(self, node_id: str) -> str:
        fp = self._stored(node_id)
        if fp is None:
            raise Unknown(node_id)
        self[node_id] = fp
        return fp

    def get(self, node_id: str, default: Any = None) -> Any:  # type: ignore[override]
        try:
            return self[node_id]
        except KeyError:
            return default


class DirtyScheduler:
    """Scheduler of a change-driven build: same interface as Scheduler, over the dirty closure only.

    The graph is the stored index (graph_index.py) plus the children generated anew in this build
    (`added`) minus those no longer generated (`removed`); `graph_changed` says the index must be
    rewritten at the commit."""

    def __init__(self, index: GraphIndex, changed: Callable[[str], bool]) -> None:
        self.index = index
        self._changed = changed  # node id -> did its output fingerprint change in this build?
        self._added: dict[str, NodeSpec] = {}  # generated now, new or different from the index
        self._dependents: dict[str, list[str]] = {}  # dependents of the added specs
        self._depth: dict[str, int] = {}
        self._heap: list[tuple[int, str]] = []
        self._queued: set[str] = set()
        self.processed: list[str] = []
        self.removed: set[str] = set()  # children no longer generated, roots no longer given
        self.graph_changed = False
        self.edits = 0  # changes of the graph so far (GraphSpecs keeps a snapshot per value)
        self._root_ids: list[str] | None = None  # None: the index's

    @property
    def root_ids(self) -> list[str]:
        """The ids of the graph's roots (the index's unless `replace_roots` changed them)."""
        return self.index.root_ids() if self._root_ids is None else self._root_ids

    def replace_roots(self, changed: Sequence[NodeSpec], removed: Iterable[str], root_ids: list[str]) -> None:
        """New root specs: `changed` (new, or different from the index) are queued, `removed` (roots no
        longer given and the children they generated) leave the graph. Every spec is in place before
        the first depth is computed, so the visiting order is right."""
        self.edits += 1
        self._root_ids = root_ids
        self.removed.update(removed)
        for spec in changed:
            self._added[spec.id] = spec
            for d in spec.deps:
                self._dependents.setdefault(d, []).append(spec.id)
        if changed or self.removed:
            self.graph_changed = True
        for spec in changed:
            self.queue(spec.id)

    def depth(self, node_id: str) -> int:
        """Longest dependency chain below a node (memoised, iterative): a valid processing order. While
        the build changed no spec, the index's stored depth is that value (no walk below the node)."""
        depth = self._depth
        if not self._added and node_id not in depth:
            stored = self.index.depth(node_id)
            if stored is not None:
                depth[node_id] = stored
                return stored
        stack = [node_id]
        limit = 2 * (len(self.index) + len(self._added)) + 2
        while stack:
            nid = stack[-1]
            if nid in depth:
                stack.pop()
                continue
            deps = self._deps(nid)
            todo = [d for d in deps if d not in depth]
            if todo:
                if len(stack) > limit:  # only a cycle among new children gets here
                    raise CycleError(f"dependency cycle through {nid}", (), {})
                stack.extend(todo)
                continue
            depth[nid] = 1 + max((depth[d] for d in deps), default=-1)
            stack.pop()
        return depth[node_id]

    def _deps(self, node_id: str) -> tuple[str, ...]:
        """A node's deps, without building its NodeSpec when it comes from the index (the depth of an
        aggregate node walks everything below it: 11k specs at 10k documents)."""
        added = self._added.get(node_id)
        if added is not None:
            return added.deps
        return self.index.dep_ids(node_id)

    def queue(self, node_id: str) -> None:
        if node_id not in self._queued and node_id not in self.removed:
            self._queued.add(node_id)
            heapq.heappush(self._heap, (self.depth(node_id), node_id))

    def queued(self) -> list[tuple[int, str]]:
        """(depth, id) of the nodes waiting to be visited."""
        return list(self._heap)

    def revisit(self, dep: str, node_id: str) -> None:
        """`node_id` needs the fingerprint of `dep`, whose stored row is unreadable: visit `dep` (it is
        recomputed, `cache-corrupt`), then `node_id` again."""
        if self.spec(dep) is None or dep in self.removed:
            raise CycleError(f"{node_id} depends on unknown node(s) {dep}", (), {node_id: (dep,)})
        self.queue(dep)
        heapq.heappush(self._heap, (self.depth(node_id), node_id))

    # -- the Scheduler interface used by the engine -------------------------------------------------
    def add(self, spec: NodeSpec, parent: str | None = None) -> bool:
        """A child generated by a recomputed node: new or changed children are queued."""
        self.edits += 1
        old = self.spec(spec.id)
        self.removed.discard(spec.id)
        if old == spec:
            return False
        self._added[spec.id] = spec
        self.graph_changed = True
        for d in spec.deps:
            self._dependents.setdefault(d, []).append(spec.id)
        self._depth.pop(spec.id, None)
        self.queue(spec.id)
        return True

    def drop_children(self, old: Sequence[NodeSpec], new: Sequence[NodeSpec]) -> None:
        """Children of a recomputed generator that it no longer generates leave the graph."""
        self.edits += 1
        keep = {c.id for c in new}
        for c in old:
            if c.id not in keep:
                self.removed.add(c.id)
                self.graph_changed = True

    def next_ready(self) -> NodeSpec | None:
        while self._heap:
            node_id = heapq.heappop(self._heap)[1]
            if node_id not in self.removed:
                return self.spec(node_id)
        return None

    def done(self, node_id: str) -> None:
        self.processed.append(node_id)
        if self._changed(node_id):
            for dep in (*self.index.dependents(node_id), *self._dependents.get(node_id, ())):
                self.queue(dep)

    def spec(self, node_id: str) -> NodeSpec | None:
        got = self._added.get(node_id)
        return got if got is not None else self.index.spec(node_id)

    def added(self) -> Mapping[str, NodeSpec]:
        """The specs this build gave that the index lacks or has otherwise (new or changed roots, new
        children), by id."""
        return self._added

    def ids(self) -> Sequence[str]:
        """Every node of the graph, in graph order (generated children last)."""
        ids = self.index.ids
        if not self.graph_changed:
            return ids
        old = set(ids)
        return [i for i in (*ids, *(a for a in self._added if a not in old)) if i not in self.removed]

    def specs(self) -> Mapping[str, NodeSpec]:
        return GraphSpecs(self)

    def check_finished(self) -> None:
        """Like Scheduler.check_finished: a node may not depend on a child that is gone."""
        if not self.removed:
            return
        missing = {}
        # a node of the index depends on a removed one only if the index says so (its dependents); the
        # others are this build's specs: no spec built for the rest of the graph
        removed, index = self.removed, self.index
        suspects = {d for r in removed for d in index.dependents(r)}.union(self._added)
        for nid in suspects - removed:
            spec = self.spec(nid)
            gone = tuple(sorted(d for d in spec.deps if d in removed)) if spec is not None else ()
            if gone:
                missing[nid] = gone
        if missing:
            parts = [f"{n} depends on unknown node(s) {', '.join(ds)}" for n, ds in sorted(missing.items())]
            raise CycleError("; ".join(parts), (), missing)


def stored_fp(build: Any, node_id: str) -> str | None:
    """The output fingerprint in a node's stored trace row (None if absent or unreadable)."""
    old = build.old_traces
    row = old.raw(node_id)
    fp = row[OUTPUT_FP] if row is not None else getattr(old.get(node_id), "output_fp", None)
    return fp if type(fp) is str else None


def plan(build: Any, roots: Sequence[NodeSpec], roots_key: str) -> DirtyScheduler | None:
    """A DirtyScheduler seeded with the nodes that read changed files, or None: use a full build.

    `build` is the engine's _Build (store, rules, stats, fingerprinting); its `fps` becomes a
    StoredFps. `roots_key` is `roots_digest(roots)`: equal to the stored one, the roots are the last
    build's, and so is the stored graph index, so the roots themselves are not looked at; otherwise
    the roots are compared with the index's (root_changes.py).
    """
    store = build.store
    if build.reset_warning or store.changed_externally or store.meta(ROOTS_KEY) is None:
        return None
    versions = versions_digest(build.e.global_version, build.e.rules)
    if store.meta(VERSIONS_KEY) != versions:
        return None
    index = graph_index.take_ahead(store.graph_index_head())  # decoded ahead (a daemon's child)
    if index is None:
        index = GraphIndex.decode(store.graph_index())
    if index is None or index.roots_key != store.meta(ROOTS_KEY) or index.versions_key != versions:
        return None
    build.fps = StoredFps(lambda nid: stored_fp(build, nid), build.old_traces.prefetch)
    sched = DirtyScheduler(index, lambda nid: build.fps.get(nid) != stored_fp(build, nid))
    if index.roots_key != roots_key:  # documents added, removed or renamed
        from .root_changes import root_changes

        changes = root_changes(build, index, roots)
        if changes is None:
            return None
        sched.replace_roots(*changes)
    for path in changed_files(build, files_to_check(build, index)):
        for nid in index.readers(path):
            sched.queue(nid)
    return sched

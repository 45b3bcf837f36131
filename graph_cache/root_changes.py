"""Change-driven builds whose roots changed: a document added, removed or renamed adds or removes root
specs, and changes the deps of the nodes that aggregate them.

The graph index (graph_index.py) records which of its nodes were roots. `root_changes` compares the
build's root specs with them: a root that is new, or whose spec differs (files, deps, params, type),
is visited like a node reading a changed file; a root that is no longer given leaves the graph with
every node it generated (transitively, from the children in the stored traces); every other node keeps
its stored trace and is a hit unless the wave of changes reaches it. The result is a full build's:
verify decides every visited node exactly as a full build would (a changed spec has other inputs), and
a node still depending on a removed one fails with the same error.

Anything this cannot prove -- a root that used to be a generated child, a duplicate root id, a removed
root without a readable trace, a removed child that a remaining generator also generated -- returns
None, and the build is full. So does a change touching more than `MAX_SHARE` of the graph, where a
full build (with its parallel prefetch) is the better plan.
"""
from __future__ import annotations

from typing import Any, Sequence

from .graph_index import GraphIndex
from .model import NodeSpec
from .spec_rows import SpecRows
from .trace_table import child_ids

MAX_SHARE = 0.25  # changed + removed roots, as a share of the graph, above which the build is full


def root_changes(build: Any, index: GraphIndex, roots: Sequence[NodeSpec]
                 ) -> tuple[list[NodeSpec], set[str], list[str]] | None:
    """(new or changed root specs, ids leaving the graph, the new root ids), or None: a full build."""
    last = _last_rows(build.last_roots, index)
    old_roots = set(index.root_ids()) if last is None else last.keys()
    if not old_roots and len(index):
        return None  # an index that does not know its roots
    limit = max(64, int(len(index) * MAX_SHARE))
    changed: list[NodeSpec] = []
    ids: list[str] = []
    for spec in roots:
        nid = spec.id
        ids.append(nid)
        if nid not in old_roots:
            if nid in index:
                return None  # a generated child is a root now
            changed.append(spec)  # a new root
        # a NodeSpec equals its row: both are (id, type, files, deps, params) tuples
        elif (index.spec(nid) if last is None else last[nid]) != spec:
            changed.append(spec)
        if len(changed) > limit:
            return None
    given = set(ids)
    if len(given) != len(ids):
        return None  # duplicate roots: the full build reports them
    removed: set[str] = set()
    stack = [nid for nid in old_roots if nid not in given]
    while stack:
        nid = stack.pop()
        if nid in removed:
            continue
        removed.add(nid)
        if len(removed) + len(changed) > limit:
            return None
        trace = build.old_traces.get(nid)
        if trace is None:
            return None  # its children are unknown
        stack.extend(c.id for c in trace.children if c.id not in given)
    if removed - old_roots and _still_generated(build, index, removed):
        return None
    return changed, removed, ids


def _last_rows(last_roots: SpecRows | None, index: GraphIndex) -> dict[str, tuple] | None:
    """{id: row} of the caller's copy of the last build's roots, if it is the indexed graph's (same
    digest): comparing the new roots with plain rows builds no NodeSpec from the index (0.5 s of a new
    plan's build at 100k documents). None: compare with the index."""
    if last_roots is None or last_roots.digest() != index.roots_key:
        return None
    return {row[0]: row for row in last_roots.rows_once()}  # not kept: 40 MB at 100k documents


def _still_generated(build: Any, index: GraphIndex, removed: set[str]) -> bool:
    """True if a generator that stays in the graph also generated one of the children leaving it (a
    full build would keep that child), or if that cannot be told (a generator without a stored trace).
    Reads the `children` column of the stored traces, not the traces (nor the index's specs)."""
    kinds = {t for t, rule in build.e.rules.items() if rule.children is not None}
    kept = [nid for nid in index.ids_of_types(kinds) if nid not in removed]
    table = build.old_traces
    blobs = table.stored_children()  # the rows with children (not the ones decoded or replaced since)
    table.prefetch([nid for nid in kept if nid not in blobs])
    for nid in kept:
        blob = blobs.get(nid)
        kids = child_ids(blob) if blob is not None else None
        if kids is None:
            trace = table.get(nid)
            if trace is None:
                return True
            kids = [c.id for c in trace.children]
        if not removed.isdisjoint(kids):
            return True
    return False

"""Finishing a change-driven build (dirty.py): the unvisited nodes' hits, the graph's file records and
what the commit writes, without touching every node of the graph when its shape did not change."""
from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

from .dirty import DirtyScheduler
from .events import NodesHit
from .file_table import FileTable
from .fingerprint import FileRecord
from .model import Decision


def count_unvisited(build: Any, planned: DirtyScheduler) -> None:
    """Every node of the graph a change-driven build did not visit is a hit (one NodesHit event)."""
    decisions, reached = build.decisions, build.reached
    visited = list(decisions)
    rest = dict.fromkeys(planned.ids(), (Decision.HIT, None))
    for nid in visited:
        rest.pop(nid, None)
    decisions.update(rest)
    for nid in planned.removed:  # children no longer generated: pruned like in a full build
        reached.pop(nid, None)
    if planned.graph_changed:
        by_type = _reshaped_counts(planned, set(visited))
    else:  # the index's counts minus the visited nodes (all of them in the graph)
        by_type = dict(planned.index.by_type)
        for nid in visited:
            t = planned.spec(nid).type  # type: ignore[union-attr]
            by_type[t] -= 1
        by_type = {t: n for t, n in by_type.items() if n}
    if by_type:
        build.bus.emit(NodesHit(by_type))


def _reshaped_counts(planned: DirtyScheduler, visited: set[str]) -> dict[str, int]:
    """Unvisited nodes per type of a graph that gained or lost nodes: the index's counts, corrected by
    the nodes visited, removed, added or replaced (no spec built for the others: 161k at 100k docs)."""
    index, removed = planned.index, planned.removed
    by_type = dict(index.by_type)
    for nid in (*visited, *removed):
        if nid in index:
            by_type[index.type_of(nid)] -= 1
    for nid, spec in planned.added().items():
        if nid in visited or nid in removed:
            continue
        if nid in index:  # replaced, not visited: counted under its new type
            by_type[index.type_of(nid)] -= 1
        by_type[spec.type] = by_type.get(spec.type, 0) + 1
    return {t: n for t, n in by_type.items() if n}


class GraphFiles(Mapping[str, FileRecord]):
    """path -> record of every existing file of the graph: fingerprinted in this build, or unchanged
    since the stored record (built on access: no FileRecord per file of a 100k-file graph).

    `members`: the graph's paths as a set when they are not all stored ones (new or deleted roots);
    None when the graph did not change (the stored rows are the graph's files)."""

    def __init__(self, paths: Sequence[str], records: Mapping[str, FileRecord | None],
                 old_files: FileTable, members: set[str] | None = None) -> None:
        self._paths, self._records, self._old = paths, records, old_files
        self.members = members

    def get(self, path: str, default: Any = None) -> Any:
        records = self._records
        if path in records:
            r = records[path]
        elif self.members is None or path in self.members:
            r = self._old.get(path)
        else:
            r = None
        return default if r is None else r

    def row(self, path: str) -> tuple | None:
        """(mtime_ns, size, ino, digest) of a file, without building its record (None if absent)."""
        records = self._records
        if path in records:
            r = records[path]
            return None if r is None else (r.stat.mtime_ns, r.stat.size, r.stat.ino, r.digest)
        if self.members is not None and path not in self.members:
            return None
        return self._old.raw(path)  # the stored FileTable's row

    def __getitem__(self, path: str) -> FileRecord:
        r = self.get(path)
        if r is None:
            raise KeyError(path)
        return r

    def __contains__(self, path: object) -> bool:
        return self.get(path) is not None  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[str]:
        records, old = self._records, self._old
        return (p for p in self._paths if (records[p] is not None if p in records else p in old))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def graph_files(planned: DirtyScheduler, records: Mapping[str, Any], old_files: FileTable) -> GraphFiles:
    """Records of the files of the graph: fingerprinted now, or unchanged since their stored record."""
    if not planned.graph_changed:
        return GraphFiles(planned.index.paths, records, old_files)
    paths = list(dict.fromkeys(p for spec in planned.specs().values() for p in spec.files))
    return GraphFiles(paths, records, old_files, set(paths))


def file_changes(files: Mapping[str, FileRecord], records: Mapping[str, Any],
                 old_files: Mapping[str, FileRecord]) -> tuple[dict[str, FileRecord], set[str]]:
    """(records to write, paths to delete) for the commit. The graph's files differ from the stored
    ones only where this build fingerprinted them, and, when its roots changed, by the stored files
    it no longer has."""
    if isinstance(files, GraphFiles):
        write = {p: r for p, r in records.items() if r is not None and old_files.get(p) != r}
        gone = {p for p, r in records.items() if r is None and p in old_files}
        if files.members is not None:
            gone.update(p for p in old_files.keys() if p not in files.members)
        return write, gone
    return {p: r for p, r in files.items() if old_files.get(p) != r}, set(old_files.keys() - files.keys())

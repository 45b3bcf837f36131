"""Which of the graph's files changed since the last build (change-driven builds, dirty.py): the ones to
look at (all, or those a trusted `FileChanges` names), then the ones whose content digest moved."""
from __future__ import annotations

from typing import Any, Sequence

from .file_table import POINT_READS
from .fingerprint import digest_of
from .graph_index import GraphIndex

SNAPSHOT_KEY = "files_snapshot"  # store meta: a new random id at each commit (FileChanges.snapshot)


def files_to_check(build: Any, index: GraphIndex) -> Sequence[str]:
    """The graph's files whose content may have changed: all of them, or, when the caller's
    `FileChanges` was made against the store's current snapshot, the ones it names plus the ones
    outside the caller's stats (it cannot vouch for those). Sets `build.changes_used`."""
    changes = build.changes
    if changes is None or changes.snapshot != build.store.meta(SNAPSHOT_KEY):
        return index.paths
    build.changes_used = True
    stats, named = build.stats, changes.paths
    unseen = [p for p in index.paths if p not in stats and p not in named]
    return sorted(p for p in named if index.readers(p)) + unseen


def changed_files(build: Any, paths: Sequence[str]) -> list[str]:
    """The files whose content digest changed since the last build. Compares stats with the stored
    rows; hashes only the files whose stat moved (appeared, vanished or unreadable: moved). Reads the
    rows one by one for a few paths, all at once for many."""
    old, stats, fs = build.old_files, build.stats, build.fs
    row_of = old.raw if len(paths) < POINT_READS else old.rows().get
    out = []
    for path in paths:
        row = row_of(path)
        if path in stats:
            stat = stats[path]
        else:
            try:
                stat = fs.stat(path)
            except OSError:
                stat = ()  # unreadable now: let fingerprinting decide
        if stat is None:
            if row is None:
                continue  # absent then and now
        elif row is not None and stat == row[:3]:
            continue
        if build.file_fp(path) != (digest_of(None) if row is None else row[3]):
            out.append(path)
    return out

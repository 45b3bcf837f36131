"""What the no-op fast path learned before it fell through, handed to the full build of the same process.

The fast path compares its stat-walk with the manifest of the last build (`graph_cache.manifest`). When
something changed it returns None and the full build runs -- which used to compare every file with
the stored records a second time, and to rebuild the manifest's file records from scratch (about
2 s of a 6.7 s edit build at 100k documents). The comparison's result is kept here instead: the files
that changed (added, removed, modified), the ones only touched (new stat, same digest), the manifest's
digests, the build snapshot the manifest was written for, and the manifest's answer fields. The engine
trusts the changed set only if that snapshot is still the store's (`graph_cache.model.FileChanges`);
the runner then derives the new manifest's records from the old ones plus the files looked at again,
and takes the old answer fields when the answers did not change (`manifest_write.unchanged_answers`).

Standard library only: the fast path imports this module.
"""
from __future__ import annotations

import os


class Handoff:
    """The fast path's comparison of `walk` (its stat-walk, by identity) with the manifest."""

    __slots__ = ("walk", "snapshot", "changed", "touched", "digests", "answers", "artifacts")

    def __init__(self, walk: dict, snapshot: str | None, changed: set, touched: dict, digests: dict,
                 answers: dict | None = None, artifacts: dict | None = None) -> None:
        self.walk = walk  # {path: (mtime_ns, size, ino) or None}: the walk the build will use
        self.snapshot = snapshot  # the manifest's `files_snapshot` (None: it vouches for nothing)
        self.changed = frozenset(changed)  # added, removed or modified since the manifest
        self.touched = touched  # path -> FileRecord: new stat, digest equal to the manifest's
        self.digests = digests  # the manifest's {path: digest} (its stats equal the walk's elsewhere)
        self.answers = answers or {}  # the manifest's ANSWER_FIELDS: `answers_key` and what it vouches for
        self.artifacts = artifacts  # the manifest's artifact stats, found unchanged by the fast path (or None)


ANSWER_FIELDS = ("answers_key", "diag_summary", "check_exit")  # of the manifest's payload


def answer_fields(payload: dict) -> dict:
    """The payload's answer fields (`answers.bin`'s key, and the answers' small values it stands for)."""
    return {name: payload.get(name) for name in ANSWER_FIELDS}


_pending: dict[str, Handoff] = {}


def remember(root: str, handoff: Handoff) -> None:
    _pending[os.path.abspath(root)] = handoff


def take(root: str, walk: dict) -> Handoff | None:
    """The handoff for `root`, once, if it was made for this very walk (else None)."""
    got = _pending.pop(os.path.abspath(root), None)
    return got if got is not None and got.walk is walk else None


def export() -> bytes:
    """This process's walks and handoffs in `marshal` format, for a daemon's child to take over
    (`install`): a command forwarded after the fast path fell through does not walk the tree again."""
    import marshal

    from promptgen import scan

    walks = scan.remembered_walks()
    handoffs = {root: (h.snapshot, list(h.changed), {p: (tuple(r.stat), r.digest) for p, r in h.touched.items()},
                       h.digests, h.answers, h.artifacts)
                for root, h in _pending.items() if root in walks and walks[root][0] is h.walk}
    return marshal.dumps({"walks": walks, "handoffs": handoffs})


def install(blob: bytes) -> None:
    """Take over what `export` packed in the client process (the walk by identity, as `take` wants)."""
    import marshal

    from graph_cache.fingerprint import FileRecord
    from graph_cache.fs import StatSig
    from promptgen import scan

    data = marshal.loads(blob)
    for root, (files, containers, notes) in data["walks"].items():
        scan.restore(root, (files, tuple(containers), notes))
        got = data["handoffs"].get(root)
        if got is not None:
            snapshot, changed, touched, digests, answers, artifacts = got
            touched = {p: FileRecord(StatSig(*st), digest) for p, (st, digest) in touched.items()}
            remember(root, Handoff(files, snapshot, set(changed), touched, digests, answers, artifacts))

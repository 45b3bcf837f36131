"""Selecting and starting the parallel prefetch of a build (see parallel.py for the worker side).

Before the build loop, the stale roots of `parallel` rules are computed in worker processes; the loop
then takes their outputs instead of calling compute, with the same decisions, events and traces as a
sequential build. File records taken here are kept apart (`build.early`) and moved into the build's
records when the loop reaches them, so the order in which records fill does not change.
"""
from __future__ import annotations

import time
from typing import Sequence

from . import parallel
from .fingerprint import FileRecord, digest_of
from .model import NodeSpec
from .verify import verify


def early_record(build, path: str) -> FileRecord | None:
    """A file's record for the prefetch, without changing the order in which `records` fills."""
    if path in build.records:
        return build.records[path]
    if path not in build.early:
        build.early[path] = build.fingerprint(path)
    return build.early[path]


def prefetch(build, roots: Sequence[NodeSpec]) -> None:
    """Compute, in worker processes, the roots of `parallel` rules (no deps) that verify as stale.

    Only when at least PARALLEL_THRESHOLD of them are stale and their files could be read (an absent
    or unreadable file leaves the node to the loop, whose ctx.read_file raises like before). Workers
    get the bytes that were fingerprinted (stat-shortcut files are read here, as ctx.read_file would).
    """
    if build.dry_run or build.e.workers < 2 or build.content is None:
        return
    t0 = time.perf_counter()
    stale: list[NodeSpec] = []
    seen: set[str] = set()
    for spec in roots:
        rule = build.e.rules.get(spec.type)
        if rule is None or not rule.parallel or spec.deps or spec.id in seen:
            continue
        seen.add(spec.id)
        inputs = build.inputs_of(spec, lambda p: digest_of(early_record(build, p)))
        if verify(spec, build.old_traces.get(spec.id), build.version_of(spec, rule), inputs) is None:
            continue
        if all(r is not None and not r.digest.startswith("unreadable:")
               for r in (early_record(build, p) for p in spec.files)):
            stale.append(spec)
    if len(stale) < parallel.PARALLEL_THRESHOLD:
        build.phase["verify"] += time.perf_counter() - t0
        return
    jobs: list[parallel.Job] = []
    for spec in stale:
        files: dict[str, bytes] = {}
        for p in spec.files:
            data = build.content.get(p)
            if data is None:  # stat shortcut: not read while fingerprinting
                try:
                    data = build.fs.read_bytes(p)
                except OSError:
                    break
            files[p] = data
        else:
            jobs.append(parallel.Job(spec, files))
    t1 = time.perf_counter()
    build.phase["verify"] += t1 - t0
    from .engine import canonical_json  # engine imports this module

    build.prefetched = parallel.run_jobs(jobs, build.e.rules, canonical_json, build.e.workers) or {}
    build.phase["compute"] += time.perf_counter() - t1

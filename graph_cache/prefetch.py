"""Parallel prefetch, parent side: which nodes go to the worker pool, when, and taking their results.

*Islands* (islands.py) are the groups of root nodes of `Rule.parallel` rules connected by deps (in
promptgen: one plan's documents, model and status); a worker also computes the file-less children of an
island's generators (prompts). The pool starts lazily, when the build loop first has to compute a node
of an island that was never built (or by another version), and at least PARALLEL_THRESHOLD parallel
roots are in that case: cold builds, new plans, rule or setting changes. Edits of files already built
(a few files, or a branch switch) stay in one process; they never fork, nor build islands.

From then on the prefetcher keeps up to WINDOW_PER_WORKER tasks per worker in flight, ahead of the loop
(which enters islands in the same order). An island goes to the pool if every file-only root of it is
stale: roots never built are probed by the worker (it fingerprints their files and sends the records
back), others are fingerprinted and verified here and shipped with the bytes that were fingerprinted.
The loop takes a node's result (waiting for its task if needed) only if the dep fingerprints the worker
used are this build's; otherwise, and for everything the workers did not compute, it computes the node
itself. File records taken ahead are kept apart (`build.early`) and moved into the build's records when
the loop reaches them, so the order in which records fill does not change. Memory stays bounded: at most
LOOKAHEAD_NODES roots are examined ahead of the loop.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

from . import parallel
from .fingerprint import FileRecord, digest_of
from .model import NodeSpec
from .islands import islands
from .trace_table import VERSION
from .verify import verify
from .worker import Job, Result

# Fewest likely-stale island roots worth a pool: forking, worker start-up and shipping inputs and outputs
# cost a few tens of ms (20-100 ms measured on a loaded 2-core machine); a document node computes in
# ~0.5-2 ms, so below ~64 nodes the pool saves less than it costs.
PARALLEL_THRESHOLD = 64
TASK_NODES = 16  # islands are grouped into tasks of at least this many roots (amortises the IPC)
WINDOW_PER_WORKER = 3  # tasks in flight per worker
LOOKAHEAD_NODES = 1024  # island roots verified (files read) ahead of the loop, at most: bounds memory
MAX_SHARED = 256  # deps-free outputs handed to every worker at most


class Prefetcher:
    """Hands stale islands to a worker pool ahead of the build loop; `take` gives the loop their results."""

    def __init__(self, build, roots: Sequence[NodeSpec]) -> None:
        self.b, self.roots = build, roots
        self.enabled = not build.dry_run and build.e.workers >= 2 and build.content is not None
        self.islands: list[list[NodeSpec]] = []  # built when the pool starts
        self.island_of: dict[str, int] = {}
        self.first_root = [0]  # island -> number of island roots before it
        self.pool: parallel.Pool | None = None
        self.started = False
        self.scan = 0  # next island to verify
        self.inflight: list[tuple[Any, list[str], list[str]]] = []  # (future, node ids, probed paths)
        self.owner: dict[str, Any] = {}  # node id / probed path -> future of its task
        self.results: dict[str, Result] = {}

    # -- the loop's side ----------------------------------------------------------------------------------
    def take(self, spec: NodeSpec) -> bytes | BaseException | None:
        """The worker's output (or exception) for `spec` if it was computed from this build's inputs."""
        if not self.enabled:
            return None
        if not self.started and self.b.e.rules[spec.type].parallel:
            self.start(spec)
        here = self.island_of.get(spec.id)
        if self.pool is not None and here is not None:
            self.fill(here)  # submits this island first if the pool has just started
            self.wait(spec.id)
            self.fill(here)
        got = self.results.pop(spec.id, None)
        if got is None or (got.spec is not None and got.spec != spec):
            return None
        fps = self.b.fps
        if any(fps.get(d) != fp for d, fp in got.dep_fps):
            return None
        return got.payload if got.ok else parallel.revive(got.payload)

    def wait(self, key: str) -> None:
        """If a worker computes node `key` (or fingerprints file `key`), collect its task: results are
        kept for `take`, file records go to `build.early` for the loop."""
        fut = self.owner.get(key)
        while fut is not None and self.inflight:
            head, ids, paths = self.inflight.pop(0)
            for k in ids + paths:
                self.owner.pop(k, None)
            try:
                results, records = head.result()
            except Exception:  # a worker died (BrokenProcessPool): the loop computes these nodes
                self.pool.broken = True
                results, records = [], []
            for result in results:
                self.results[result.node_id] = result
            b = self.b
            for path, record in records:
                if path not in b.records and path not in b.early:
                    b.early[path] = record
            if head is fut:
                return

    def wait_file(self, path: str) -> None:
        """`wait` for a file the loop is about to fingerprint; the time counts as compute (pool time),
        not as the verify phase the loop is in."""
        if path in self.owner:
            t0 = time.perf_counter()
            self.wait(path)
            waited = time.perf_counter() - t0
            self.b.phase["compute"] += waited
            self.b.phase["verify"] -= waited

    def discard(self, node_id: str) -> None:
        """The loop decided `node_id` without its result (a hit): forget it."""
        if self.results:
            self.results.pop(node_id, None)

    def close(self, cancel: bool = False) -> None:
        if self.pool is not None:
            self.pool.close(cancel)
            self.pool = None
        self.inflight.clear()
        self.owner.clear()
        self.results.clear()

    # -- the pool's side ----------------------------------------------------------------------------------
    def start(self, spec: NodeSpec) -> None:
        """At the first parallel node the loop computes: if enough parallel roots look stale, build the
        islands and fork the pool (with the outputs it shares)."""
        self.started = True
        b = self.b
        rules = b.e.rules
        if not self.new_or_outdated(spec) or self.likely_stale() < PARALLEL_THRESHOLD:
            return  # edits of files already built stay in one process
        self.islands = islands(rules, self.roots)
        self.island_of = {s.id: i for i, group in enumerate(self.islands) for s in group}
        for group in self.islands:
            self.first_root.append(self.first_root[-1] + len(group))
        if spec.id not in self.island_of:
            return
        shared = {}
        for nid in b.decisions:  # decided deps-free nodes of other rules, e.g. templates
            done = b.sched.spec(nid)
            if done is not None and not done.deps and not b.e.rule_for(done).parallel:
                shared[nid] = b.output_bytes(nid)
                if len(shared) >= MAX_SHARED:
                    break
        from .engine import canonical_json  # engine imports this module

        self.pool = parallel.Pool.start(rules, canonical_json, b.e.workers, shared, b.fs)
        self.scan = self.island_of[spec.id]

    def likely_stale(self) -> int:
        """Parallel roots not decided yet that were never built (or by another version), counted up to
        PARALLEL_THRESHOLD: cheap (no stat, no file read, no trace decoded in a full build)."""
        b, rules, n = self.b, self.b.e.rules, 0
        for spec in self.roots:
            rule = rules.get(spec.type)
            if rule is not None and rule.parallel and spec.id not in b.decisions and self.new_or_outdated(spec):
                n += 1
                if n >= PARALLEL_THRESHOLD:
                    break
        return n

    def new_or_outdated(self, spec: NodeSpec) -> bool:
        """Stale for sure, without fingerprints: no stored trace, or one of another version."""
        b = self.b
        version = b.version_of(spec, b.e.rule_for(spec))
        row = b.old_traces.raw(spec.id)  # the undecoded row (a full build has them all at hand)
        if row is not None:
            return row[VERSION] != version
        trace = b.old_traces.get(spec.id)  # decoded already (change-driven builds) or absent
        return trace is None or trace.version != version

    def fill(self, here: int) -> None:
        """Verify islands ahead of the loop and submit the stale ones, up to the window."""
        window = WINDOW_PER_WORKER * self.b.e.workers
        if len(self.inflight) >= window or self.pool.broken:
            return
        self.scan = max(self.scan, here)
        task: list[Job] = []
        while (self.scan < len(self.islands) and len(self.inflight) < window
               and self.first_root[self.scan] - self.first_root[here] < LOOKAHEAD_NODES):
            task.extend(self.jobs(self.islands[self.scan]))
            self.scan += 1
            if len(task) >= TASK_NODES:
                self.submit(task)
                task = []
        self.submit(task)

    def submit(self, task: list[Job]) -> None:
        if not task:
            return
        fut = self.pool.submit(task)
        if fut is None:
            return
        ids = [job.spec.id for job in task]
        paths = [path for job in task for path, _, _ in job.probe]
        self.inflight.append((fut, ids, paths))
        for key in ids + paths:
            self.owner[key] = fut

    def jobs(self, group: list[NodeSpec]) -> list[Job]:
        """The island's jobs if every file-only root of it is stale, else []. Roots never built (or built
        by another version) are surely stale: workers fingerprint their files unless they are already
        fingerprinted here. Otherwise the parent fingerprints and verifies them, and ships the bytes. A
        root with a missing or unreadable file is left out (the loop computes it and its dependents,
        raising like before), as is a root with deps whose files were not read while fingerprinting."""
        b = self.b
        if any(spec.id in b.decisions for spec in group):
            return []  # the loop already went past it
        sure = all(self.new_or_outdated(spec) for spec in group if not spec.deps)
        jobs, sources = [], 0
        for spec in group:
            job = None
            if sure:
                if any(p in self.owner for p in spec.files):
                    continue  # another task fingerprints it
                job = self.probe_job(spec)
            if job is None:
                records = [self.record(p) for p in spec.files]
                if any(r is None or r.digest.startswith("unreadable:") for r in records):
                    continue
                if not spec.deps and not sure:
                    inputs = b.inputs_of(spec, lambda p: digest_of(self.record(p)))
                    version = b.version_of(spec, b.e.rule_for(spec))
                    if verify(spec, b.old_traces.get(spec.id), version, inputs) is None:
                        return []  # a hit: its dependents need its stored output, the loop has it
                files = self.read(spec, shortcut=not spec.deps)
                if files is None:
                    continue
                job = Job(spec, files)
            sources += not spec.deps
            jobs.append(job)
        return jobs if sources else []

    def record(self, path: str) -> FileRecord | None:
        """A file's record fingerprinted ahead of the loop, kept apart (`build.early`) so that the order
        in which the build's `records` fill does not change."""
        b = self.b
        if path in b.records:
            return b.records[path]
        if path not in b.early:
            b.early[path] = b.fingerprint(path)
        return b.early[path]

    def probe_job(self, spec: NodeSpec) -> Job | None:
        """A job whose files the worker fingerprints; None if one of them is already known here."""
        b, probe = self.b, []
        for p in spec.files:
            if p in b.records or p in b.early or p in b.stats and b.stats[p] is None:
                return None
            probe.append((p, b.old_files.get(p), b.stats.get(p)))
        return Job(spec, {}, tuple(probe))

    def read(self, spec: NodeSpec, shortcut: bool) -> dict[str, bytes] | None:
        """The bytes of the spec's files as fingerprinted; files the stat shortcut did not read are read
        now if `shortcut` (the loop would read them to compute), else None."""
        files: dict[str, bytes] = {}
        for p in spec.files:
            data = self.b.content.get(p)
            if data is None:
                if not shortcut:
                    return None
                try:
                    data = self.b.fs.read_bytes(p)
                except OSError:
                    return None
            files[p] = data
        return files

"""The build loop: scheduler order x verifying traces x early cutoff, with dynamic children.

For each ready node: fingerprint its files (stat shortcut), take its deps' output fingerprints from this
build, `verify` against the stored trace. Up to date -> HIT (children from the trace, output not loaded).
Otherwise compute; output -> canonical JSON -> xxh3_128; same fingerprint as before -> CUTOFF (dependents
see an unchanged input and hit), else MISS. Nodes and file records not reached are pruned; everything is
committed in one transaction. Every decision is emitted as a NodeDecided event; counts derive from them.

When the graph is the last build's, a change-driven build (dirty.py) visits only the dirty closure of the
changed files. Islands of stale `parallel` nodes may be computed in worker processes ahead of the loop
(prefetch.py, parallel.py). The outcome is a `BuildResult` (result.py).
"""
from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Mapping, Sequence

from .changed_files import SNAPSHOT_KEY
from .errors import ComputeError, GraphCacheError, StateDirError, UndeclaredInputError
from .events import (BuildFinished, BuildPlanned, BuildStarted, CountingSink, EventBus, NodeDecided, PhaseTimed,
                     StateWarning)
from .fingerprint import FileRecord, digest_of, fingerprint_file, hash_bytes
from .fs import FileSystem, StatSig
from .model import (Decision, FileChanges, NodeSpec, Reason, ReasonCode, Rule, Trace, file_input,
                    param_input, node_input)
from . import dirty, graph_index, parallel
from .dirty_finish import count_unvisited, file_changes, graph_files
from .outputs_ahead import BULK_DEPS, OutputsAhead
from .prefetch import Prefetcher
from .result import BuildResult
from .scheduler import Scheduler
from .spec_rows import SpecRows
from .store import Store
from .store_db import encode_inputs
from .trace_table import INPUTS, OUTPUT_FP, VERSION, TraceView
from .verify import verify

PHASES = ("verify", "compute", "persist")


def canonical_json(value: Any) -> bytes:
    """The bytes that are stored and fingerprinted: sorted keys, compact, UTF-8, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


class Engine:
    def __init__(self, fs: FileSystem, store: Store, rules: Mapping[str, Rule], global_version: str,
                 bus: EventBus | None = None, *, workers: int | None = None) -> None:
        """`workers`: processes for the parallel prefetch of `Rule.parallel` nodes (None: the usable CPUs,
        capped at parallel.MAX_WORKERS; 1 disables it)."""
        self.fs, self.store, self.rules, self.global_version = fs, store, rules, global_version
        self.bus = bus if bus is not None else EventBus()
        if workers is None:
            workers = parallel.default_workers()
        if workers < 1:
            raise ValueError(f"workers must be >= 1, not {workers}")
        self.workers = workers

    def version_key(self, rule: Rule) -> str:
        """hash(global version, node type, rule version): a change recomputes every node of the type."""
        return hash_bytes(f"{self.global_version}\0{rule.type}\0{rule.version}".encode())

    def rule_for(self, spec: NodeSpec) -> Rule:
        rule = self.rules.get(spec.type)
        if rule is None:
            raise GraphCacheError(f"no rule for node type {spec.type!r} (node {spec.id})")
        return rule

    def build(self, roots: Sequence[NodeSpec], *, stats: Mapping[str, StatSig | None] | None = None,
              dry_run: bool = False, change_driven: bool = True, changes: FileChanges | None = None,
              last_roots: SpecRows | None = None) -> BuildResult:
        """Bring every node reachable from `roots` (deps must be roots or generated children) up to date.

        `stats` may map paths to stats the caller already has (None = known missing). dry_run decides
        without computing or writing. With `change_driven` (default) and the same roots and versions as
        the last build, only the dirty closure of the changed files is visited (dirty.py); the result is
        the same as a full build's. `changes` (see FileChanges) spares that build the comparison of
        every file with its stored record. `last_roots`: the last build's roots as the caller kept them
        (e.g. in a cache file, with their digest): when their digest is the stored graph's, a build whose
        roots changed compares its roots with these rows instead of the graph index's specs. Raises
        ComputeError, CycleError, SpecConflictError, StateDirError.
        """
        counter = CountingSink()
        unsubscribe = self.bus.subscribe(counter)
        try:
            return _Build(self, stats or {}, dry_run, counter, changes, last_roots).run(roots, change_driven)
        finally:
            unsubscribe()


class _Context:
    """ComputeContext handed to a rule: declared files and deps only."""

    def __init__(self, build: _Build, spec: NodeSpec) -> None:
        self._build, self._spec = build, spec

    def read_file(self, path: str) -> bytes:
        if path not in self._spec.files:
            raise UndeclaredInputError(f"{self._spec.id} read undeclared file {path}")
        return self._build.read_file(path)

    def output_of(self, node_id: str) -> Any:
        if node_id not in self._spec.deps:
            raise UndeclaredInputError(f"{self._spec.id} read output of undeclared dep {node_id}")
        return self._build.output(node_id)

    def output_bytes(self, node_id: str) -> bytes:
        """A dep's output as its serialised JSON bytes (lets a rule use a native JSON parser)."""
        if node_id not in self._spec.deps:
            raise UndeclaredInputError(f"{self._spec.id} read output of undeclared dep {node_id}")
        return self._build.output_bytes(node_id)


class _Build:
    def __init__(self, engine: Engine, stats: Mapping[str, StatSig | None], dry_run: bool,
                 counter: CountingSink, changes: FileChanges | None = None,
                 last_roots: SpecRows | None = None) -> None:
        self.e, self.fs, self.store, self.bus = engine, engine.fs, engine.store, engine.bus
        self.stats, self.dry_run, self.counter = stats, dry_run, counter
        self.old_traces = self.store.traces()  # TraceTable: rows decoded only when needed
        self.old_files = self.store.files()
        self.reset_warning = self.store.reset_warning if self.store.reset_pending else None
        self.run_id = self.store.next_run_id()
        self.sched = Scheduler()
        self.fps: dict[str, str] = {}  # node id -> output fingerprint in this build
        self.reached: dict[str, None] = {}  # every node reached, in decision order
        self.written: dict[str, Trace] = {}  # traces to persist (recomputed or re-encoded nodes)
        self.traces = TraceView(self.reached, self.written, self.old_traces)
        # outputs in memory: computed ones until their last known dependent is decided (they are staged
        # in the store at once, so a later read reloads them), loaded ones likewise
        self.data: dict[str, bytes] = {}
        self.ahead = OutputsAhead(self.store.load_outputs)  # a many-deps node's dep outputs, read in bulk
        self.users: dict[str, int] = {}  # node id / file path -> pending nodes that read it
        self.new_outputs: dict[str, bytes] = {}  # dry run / post-build recomputes only
        self.decoded: dict[str, Any] = {}
        self.damaged: list[str] = []  # nodes whose stored trace/output was unreadable or garbled
        self.finished = False
        self.mode = "full"  # or "changes" (dirty.py)
        self.changes = changes  # the caller's hint (changed_files.files_to_check)
        self.last_roots = last_roots  # the caller's copy of the last build's roots (root_changes.py)
        self.changes_used = False
        self.snapshot: str | None = None  # id of the file records this build commits
        self.root_ids: Sequence[str] = ()  # the roots of the graph (graph_index.encode)
        self.graph_digest: str | None = None  # graph_index.shape_of the committed graph (None: dry run)
        self.records: dict[str, FileRecord | None] = {}  # file inputs seen -> record (None = missing)
        # records taken by the prefetch, moved to `records` when the loop reaches them (same order)
        self.early: dict[str, FileRecord | None] = {}
        self.content: dict[str, bytes] | None = None if dry_run else {}
        # outputs computed by worker processes (prefetch.py); `run` gives it the roots of the build
        self.prefetcher = Prefetcher(self, ())
        self.decisions: dict[str, tuple[str, Reason | None]] = {}
        self.would: set[str] = set()  # dry run: nodes that would be recomputed
        self.phase = dict.fromkeys(PHASES, 0.0)
        self.versions: dict[str, str] = {}  # node type -> version key

    # -- inputs -----------------------------------------------------------------------------------------
    def file_fp(self, path: str) -> str:
        if path not in self.records:
            if path not in self.early:
                self.prefetcher.wait_file(path)  # a worker may be fingerprinting it
            self.records[path] = self.early.pop(path) if path in self.early else self.fingerprint(path)
        return digest_of(self.records[path])

    def fingerprint(self, path: str) -> FileRecord | None:
        if path in self.stats and self.stats[path] is None:
            return None
        return fingerprint_file(self.fs, path, self.old_files.get(path), self.stats.get(path),
                                content=self.content)[0]

    def version_of(self, spec: NodeSpec, rule: Rule) -> str:
        version = self.versions.get(spec.type)
        if version is None:
            version = self.versions[spec.type] = self.e.version_key(rule)
        return version

    def inputs_of(self, spec: NodeSpec, fp: Callable[[str], str]) -> dict[str, str]:
        inputs = {file_input(p): fp(p) for p in spec.files}
        for d in spec.deps:
            inputs[node_input(d)] = self.fps[d]
        for name, value in spec.params:
            inputs[param_input(name)] = hash_bytes(value.encode())
        return inputs

    # -- memory: inputs are dropped once every node that reads them is decided ---------------------------
    def add(self, spec: NodeSpec, parent: str | None = None) -> None:
        if self.sched.add(spec, parent):
            users = self.users
            for p in spec.files:
                users[p] = users.get(p, 0) + 1
            for d in spec.deps:
                users[d] = users.get(d, 0) + 1

    def release(self, spec: NodeSpec) -> None:
        users = self.users
        for key in spec.files + spec.deps:
            left = users.get(key, 0) - 1
            if left > 0:
                users[key] = left
            else:
                users.pop(key, None)
                self.data.pop(key, None)
                self.decoded.pop(key, None)
                if self.content is not None:
                    self.content.pop(key, None)

    def read_file(self, path: str) -> bytes:
        if self.content is not None and path in self.content:
            return self.content[path]
        return self.fs.read_bytes(path)

    def output(self, node_id: str) -> Any:
        if node_id not in self.decoded:
            self.decoded[node_id] = json.loads(self.output_bytes(node_id))
        return self.decoded[node_id]

    def output_bytes(self, node_id: str) -> bytes:
        """The serialised output of a node of this build (computed now, or loaded for a hit). Loaded bytes
        are checked against the trace's output fingerprint: damage SQLite cannot see is recomputed."""
        data = self.data.get(node_id)
        if data is None:
            data = self.ahead.take(node_id)
            if data is None:
                data = self.store.load_output(node_id)
            fp = self.fps.get(node_id)
            if data is None or (fp is not None and hash_bytes(data) != fp):
                data = self.rematerialise(node_id, damaged=data is not None)
            if self.users.get(node_id):
                self.data[node_id] = data
        return data

    def rematerialise(self, node_id: str, damaged: bool) -> bytes:
        """A hit whose stored output is missing or garbled: recompute it, keep its decision."""
        spec = self.sched.spec(node_id)
        if spec is None or node_id not in self.reached:
            raise GraphCacheError(f"no output available for {node_id}")
        trace = self.traces[node_id]
        if damaged:
            self.damaged.append(node_id)
        data, _ = self.compute(spec, self.e.rule_for(spec))
        fp = hash_bytes(data)
        written: dict[str, Trace] = {}
        if fp != trace.output_fp:  # non-deterministic rule or input raced: dependents re-verify next time
            self.bus.emit(StateWarning(f"recomputed output of {node_id} differs from its stored fingerprint"))
            self.written[node_id] = written[node_id] = _replace_fp(trace, fp)
            self.fps[node_id] = fp
        if self.finished:  # read after the build: persist the repair at once
            self.store.commit(traces=written, outputs={node_id: data}, keep_graph=True)
        else:
            self.store.stage_output(node_id, data)
        return data

    # -- one node ---------------------------------------------------------------------------------------
    def compute(self, spec: NodeSpec, rule: Rule) -> tuple[bytes, tuple[NodeSpec, ...]]:
        """Run the rule; returns (canonical output bytes, children). Rule failures -> ComputeError."""
        children: tuple[NodeSpec, ...] = ()
        pre = self.prefetcher.take(spec)
        try:
            if isinstance(pre, BaseException):  # the rule failed in a worker
                raise pre
            if pre is not None:  # computed (and serialised) by a worker
                data = pre
            else:
                if len(spec.deps) >= BULK_DEPS:
                    self.ahead.expect([d for d in spec.deps if d not in self.data])
                try:
                    out = rule.compute(spec, _Context(self, spec))
                finally:
                    self.ahead.clear()
                # A rule may return its output already serialised (deterministic JSON bytes), e.g. from a
                # fast native serialiser; anything else is serialised canonically here.
                data = bytes(out) if isinstance(out, (bytes, bytearray)) else canonical_json(out)
            if rule.children is not None:  # children see the decoded JSON, like dependents do
                self.decoded[spec.id] = value = json.loads(data)
                children = tuple(rule.children(spec, value))
                for c in children:
                    if not isinstance(c, NodeSpec):
                        raise TypeError(f"children() returned {type(c).__name__}, not NodeSpec")
        except (ComputeError, StateDirError):  # a state write failing while a rule reads: not the rule's fault
            raise
        except Exception as exc:
            raise ComputeError(spec.id, exc) from exc
        return data, children

    def process(self, spec: NodeSpec) -> None:
        t0 = time.perf_counter()
        rule = self.e.rule_for(spec)
        version = self.version_of(spec, rule)
        inputs = self.inputs_of(spec, self.file_fp)
        key = tuple(sorted(inputs.items()))
        row = self.old_traces.raw(spec.id)
        if (row is not None and rule.children is None and not self.dry_run and row[VERSION] == version
                and type(row[OUTPUT_FP]) is str and row[INPUTS] == encode_inputs(key)):
            # Proven up to date from the stored row alone: no trace decoding (the common case).
            self.phase["verify"] += time.perf_counter() - t0
            self.fps[spec.id] = row[OUTPUT_FP]
            self.finish(spec, Decision.HIT, None, (), t0)
            return
        trace = self.old_traces.get(spec.id)
        reason = verify(spec, trace, version, inputs)
        if reason is not None and reason.code == ReasonCode.NEW:
            if spec.id in self.old_traces.damaged:
                self.damaged.append(spec.id)
                reason = Reason(ReasonCode.CACHE_CORRUPT, "stored trace unreadable")
            elif self.reset_warning:
                reason = Reason(ReasonCode.STATE_RESET, self.reset_warning)
        t1 = time.perf_counter()
        self.phase["verify"] += t1 - t0
        if self.dry_run:
            decision, reason, children = self.dry_decide(spec, trace, reason)
        elif reason is None:
            decision, children = Decision.HIT, trace.children
            self.fps[spec.id] = trace.output_fp
            if row is not None and row[INPUTS] != encode_inputs(key):  # older encoding: re-encode once
                self.written[spec.id] = trace
        else:
            data, children = self.compute(spec, rule)
            if trace is not None and trace.children:
                self.sched.drop_children(trace.children, children)
            fp = hash_bytes(data)
            decision = Decision.CUTOFF if trace is not None and trace.output_fp == fp else Decision.MISS
            self.fps[spec.id] = fp
            self.store.stage_output(spec.id, data)
            self.written[spec.id] = Trace(spec.id, spec.type, version, key, fp, children, decision, reason,
                                          time.time(), self.run_id)
            self.phase["compute"] += time.perf_counter() - t1
            for child in children:
                self.add(child, spec.id)
            if self.users.get(spec.id):  # a pending node reads it: keep it at hand
                self.data[spec.id] = data
            self.finish(spec, decision, reason, (), t0)
            return
        self.finish(spec, decision, reason, children, t0)

    def finish(self, spec: NodeSpec, decision: str, reason: Reason | None, children: tuple[NodeSpec, ...],
               t0: float) -> None:
        for child in children:
            self.add(child, spec.id)
        self.sched.done(spec.id)
        self.prefetcher.discard(spec.id)
        self.release(spec)
        if not self.dry_run or spec.id in self.old_traces:  # a dry run reaches stored traces only
            self.reached[spec.id] = None
        reason = reason if decision != Decision.HIT else None
        self.decisions[spec.id] = (decision, reason)
        self.bus.emit(NodeDecided(spec.id, spec.type, decision, reason, time.perf_counter() - t0))

    def dry_decide(self, spec: NodeSpec, trace: Trace | None,
                   reason: Reason | None) -> tuple[str, Reason | None, tuple[NodeSpec, ...]]:
        """Dry run: own reason first, else DEPENDENCY_CHANGED naming a would-be-recomputed dep."""
        if reason is None:
            upstream = sorted(d for d in spec.deps if d in self.would)
            if upstream:
                reason = Reason(ReasonCode.DEPENDENCY_CHANGED, upstream[0], self.fps[upstream[0]], None)
        children = trace.children if trace is not None else ()
        self.fps[spec.id] = trace.output_fp if trace is not None else "unknown:" + spec.id
        if reason is None:
            return Decision.HIT, None, children
        self.would.add(spec.id)
        return Decision.MISS, reason, children

    # -- the build --------------------------------------------------------------------------------------
    def run(self, roots: Sequence[NodeSpec], change_driven: bool = True) -> BuildResult:
        start = time.perf_counter()
        self.bus.emit(BuildStarted(self.run_id, len(roots), self.dry_run))
        if self.reset_warning:
            self.bus.emit(StateWarning(self.reset_warning))
        try:
            roots_key = None if self.dry_run else dirty.roots_digest(roots)  # computed once per build
            planned = dirty.plan(self, roots, roots_key) if change_driven and roots_key else None
            if planned is None:
                self.old_traces.load_all()  # a full build reads every row: one bulk SELECT
                self.old_files.rows()  # and every file row
                for spec in roots:
                    self.add(spec)
                self.root_ids = [spec.id for spec in roots]
                self.bus.emit(BuildPlanned("full", len(roots)))
                self.prefetcher = Prefetcher(self, roots)
            else:
                self.sched, self.mode, self.root_ids = planned, "changes", planned.root_ids
                self.reached.update(dict.fromkeys(planned.ids()))  # every node is part of this build
                queued = sorted(planned.queued())
                self.bus.emit(BuildPlanned("changes", len(queued)))
                self.prefetcher = Prefetcher(self, [planned.spec(nid) for _, nid in queued])
            while (spec := self.sched.next_ready()) is not None:
                try:
                    self.process(spec)
                except dirty.Unknown as e:  # a dep's stored row is unreadable: visit it first
                    if planned is None:
                        raise
                    planned.revisit(e.node_id, spec.id)
            self.sched.check_finished()
            self.prefetcher.close()
            if planned is None:
                files: Mapping[str, FileRecord] = {p: r for p, r in self.records.items() if r is not None}
            else:
                count_unvisited(self, planned)
                files = graph_files(planned, self.records, self.old_files)
            if not self.dry_run:
                self.commit(planned, files, roots_key)
        except BaseException:
            self.prefetcher.close(cancel=True)
            if not self.dry_run:
                self.store.abort()  # staged outputs go with the failed build: all or nothing
            raise
        self.finished = True
        self.data.clear()
        for phase in PHASES:
            self.bus.emit(PhaseTimed(phase, self.phase[phase]))
        seconds = time.perf_counter() - start
        counts = self.counter.counts
        self.bus.emit(BuildFinished(counts, seconds, self.run_id, self.dry_run))
        self.content = None
        result = BuildResult(self.run_id, counts, self.decisions, self.traces, files, self.reset_warning,
                             self.dry_run, seconds, self.output, self.sched.specs(), self.damage_warning)
        result.mode = self.mode
        result.fingerprints = self.fps
        result.bytes_loader = self.output_bytes
        result.graph_digest = self.graph_digest
        result.files_snapshot, result.changes_used = self.snapshot, self.changes_used
        result.fingerprinted = self.records
        return result

    def commit(self, planned: dirty.DirtyScheduler | None, files: Mapping[str, FileRecord],
               roots_key: str) -> None:
        """Write the build in one transaction, with the graph index (kept if the graph did not change)."""
        t = time.perf_counter()
        write_files, removed_files = file_changes(files, self.records, self.old_files)
        versions = dirty.versions_digest(self.e.global_version, self.e.rules)
        if planned is None:
            removed = self.old_traces.keys() - self.traces.keys()
        else:
            removed = set(planned.removed)
            for nid in removed:  # visited before its generator dropped it: not part of the graph
                self.written.pop(nid, None)
        keep = planned is not None and not planned.graph_changed
        if keep:
            graph, self.graph_digest = None, planned.index.shape
        else:
            specs = self.sched.specs()
            self.graph_digest = graph_index.shape_of(specs)
            graph = graph_index.encode(roots_key, versions, specs, self.graph_digest, self.root_ids)
        snapshot = f"{self.run_id}.{os.urandom(8).hex()}"
        self.store.commit(files=write_files, traces=self.written, outputs=self.new_outputs,
                          removed_nodes=removed, removed_files=removed_files, run_id=self.run_id,
                          meta={dirty.ROOTS_KEY: roots_key, dirty.VERSIONS_KEY: versions,
                                SNAPSHOT_KEY: snapshot},
                          graph=graph, keep_graph=keep)
        self.snapshot = snapshot
        self.phase["persist"] += time.perf_counter() - t

    def damage_warning(self) -> str | None:
        if not self.damaged:
            return None
        first = sorted(self.damaged)[0]
        more = f" and {len(self.damaged) - 1} more" if len(self.damaged) > 1 else ""
        return (f"damaged records in build state {self.store.location}: recomputed {first}{more} "
                f"(reason {ReasonCode.CACHE_CORRUPT})")


def _replace_fp(trace: Trace, fp: str) -> Trace:
    return Trace(trace.node_id, trace.type, trace.version, trace.inputs, fp, trace.children, trace.decision,
                 trace.reason, trace.built_at, trace.run_id)

"""Parallel prefetch, worker side: what runs in a forked worker process (see parallel.py for the pool).

A task is a list of `Job`s: whole islands (prefetch.py). The worker computes each job after the jobs of
the task it depends on, probes files when asked (fingerprints them like the parent would and sends the
records back), then the file-less children of generators whose rule is parallel and whose deps it has
(the island's outputs and the pool's shared outputs). For each node it returns a `Result`: the output
bytes or the packed exception, and the fingerprints of the dep outputs it read, which the parent
compares with its own before using the output.
"""
from __future__ import annotations

import json
import os
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from .errors import UndeclaredInputError
from .fingerprint import FileRecord, fingerprint_file, hash_bytes
from .fs import FileSystem, StatSig
from .model import NodeSpec, Rule

_PARENT_POLL_S = 0.5  # how often a worker checks that its parent is alive


class Job(NamedTuple):
    """One node to compute in a worker: its spec and the fingerprinted bytes of its declared files, or,
    for files the parent did not fingerprint (`probe`: path, previous record, stat or None), the worker
    fingerprints them itself (stat shortcut, racy-clean rule: fingerprint.py) and sends the records back."""

    spec: NodeSpec
    files: dict[str, bytes]
    probe: tuple[tuple[str, FileRecord | None, StatSig | None], ...] = ()


class Result(NamedTuple):
    """A worker's answer for one node. `payload`: output bytes if ok, else a packed exception;
    `dep_fps`: (dep id, output fingerprint) of every dep it read; `spec`: set for a generated child that
    does not read its generator (else equal generator outputs already imply equal child specs)."""

    node_id: str
    ok: bool
    payload: Any
    dep_fps: tuple[tuple[str, str], ...]
    spec: NodeSpec | None = None


_rules: dict[str, Rule] = {}
_serialise: Callable[[Any], bytes] | None = None
_shared: dict[str, bytes] = {}
_fs: FileSystem | None = None


def _init_worker(rules: dict[str, Rule], serialise: Callable[[Any], bytes], shared: dict[str, bytes],
                 fs: FileSystem, parent_pid: int) -> None:
    global _rules, _serialise, _shared, _fs
    import gc
    import signal
    import threading

    _rules, _serialise, _shared, _fs = rules, serialise, shared, fs
    gc.enable()  # a worker runs rules, which may leave cycles: it collects them whatever the parent chose
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="graph_cache-parent-watch",
                     daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    """Exit when the parent is gone (SIGKILL): an idle worker would otherwise block forever on the call
    queue while holding copies of the parent's file descriptors (state lock, database)."""
    import time

    while True:
        time.sleep(_PARENT_POLL_S)
        if os.getppid() != parent_pid:
            os._exit(1)


class _WorkerContext:
    """ComputeContext in a worker: the declared files' fingerprinted bytes, the deps' outputs."""

    def __init__(self, spec: NodeSpec, files: dict[str, bytes], outputs: Mapping[str, bytes]) -> None:
        self._spec, self._files, self._outputs = spec, files, outputs

    def read_file(self, path: str) -> bytes:
        if path not in self._spec.files:
            raise UndeclaredInputError(f"{self._spec.id} read undeclared file {path}")
        return self._files[path]

    def output_of(self, node_id: str) -> Any:
        return json.loads(self.output_bytes(node_id))

    def output_bytes(self, node_id: str) -> bytes:
        if node_id not in self._spec.deps:
            raise UndeclaredInputError(f"{self._spec.id} read output of undeclared dep {node_id}")
        return self._outputs[node_id]


class _Task:
    """One task in a worker: outputs computed so far (and shared ones), their fingerprints, results."""

    def __init__(self) -> None:
        self.outputs: dict[str, bytes] = dict(_shared)
        self.fps: dict[str, str] = {}
        self.results: list[Result] = []
        self.records: list[tuple[str, FileRecord | None]] = []

    def probe(self, job: Job) -> dict[str, bytes] | None:
        """Fingerprint the job's probed files like the parent would; their bytes for compute, or None if
        one is missing or unreadable (the loop then computes the node and raises or records like before)."""
        assert _fs is not None
        files = dict(job.files)
        ok = True
        for path, previous, stat in job.probe:
            record, _ = fingerprint_file(_fs, path, previous, stat, content=files)
            self.records.append((path, record))
            if record is None or record.digest.startswith("unreadable:"):
                ok = False
            elif path not in files:  # stat shortcut: compute reads it, as ctx.read_file would
                try:
                    files[path] = _fs.read_bytes(path)
                except OSError:
                    ok = False
        return files if ok else None

    def run(self, spec: NodeSpec, files: dict[str, bytes], generator: str | None = None) -> None:
        rule = _rules.get(spec.type)
        if rule is None or not rule.parallel or any(d not in self.outputs for d in spec.deps):
            return  # left to the build loop
        dep_fps = tuple((d, self.fp(d)) for d in spec.deps)
        try:
            value = rule.compute(spec, _WorkerContext(spec, files, self.outputs))
            assert _serialise is not None
            data = bytes(value) if isinstance(value, (bytes, bytearray)) else _serialise(value)
        except Exception as exc:
            self.results.append(Result(spec.id, False, _pack(exc), dep_fps, self.check(spec, generator)))
            return
        self.outputs[spec.id] = data
        self.results.append(Result(spec.id, True, data, dep_fps, self.check(spec, generator)))
        if rule.children is not None:
            try:
                kids = [k for k in rule.children(spec, json.loads(data)) if isinstance(k, NodeSpec)]
            except Exception:  # the loop calls children() again and reports the error
                return
            for kid in kids:
                if not kid.files:
                    self.run(kid, {}, spec.id)

    @staticmethod
    def check(spec: NodeSpec, generator: str | None) -> NodeSpec | None:
        return spec if generator is not None and generator not in spec.deps else None

    def fp(self, node_id: str) -> str:
        fp = self.fps.get(node_id)
        if fp is None:
            fp = self.fps[node_id] = hash_bytes(self.outputs[node_id])
        return fp


def _run_task(task: Sequence[Job]) -> tuple[list[Result], list[tuple[str, FileRecord | None]]]:
    """Compute a task's jobs, each after the jobs of the task it depends on (whatever their order)."""
    state = _Task()
    waiting = {job.spec.id for job in task}
    todo = list(task)
    while todo:
        later = []
        for job in todo:
            if any(d in waiting for d in job.spec.deps):
                later.append(job)
                continue
            waiting.discard(job.spec.id)
            files = state.probe(job) if job.probe else job.files
            if files is not None:
                state.run(job.spec, files)
        if len(later) == len(todo):  # a cycle: left to the loop, which reports it
            break
        todo = later
    return state.results, state.records


def _pack(exc: Exception) -> tuple[bytes | None, str, str, str]:
    import pickle
    import traceback

    try:
        blob: bytes | None = pickle.dumps(exc)
    except Exception:
        blob = None
    try:
        text = str(exc)
    except Exception:
        text = "<unprintable>"
    return blob, type(exc).__name__, text, "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))

"""Parallel prefetch: compute many independent root nodes in forked worker processes (cold builds).

Only nodes whose rule sets `Rule.parallel` and that have no deps are eligible; the rule promises its
compute only reads its declared files, is deterministic and returns bytes or a JSON-able value. The
engine (engine.py `_Build.prefetch`) fingerprints and verifies them as usual, then hands the ones that
need recomputation to `run_jobs` together with the exact bytes it fingerprinted. Workers never touch the
filesystem object or the store: they get `(spec, {path: bytes})`, run the rule, serialise its output and
send back bytes (or the exception). The sequential build loop then consumes these outputs instead of
calling compute, so decisions, cutoffs, events, traces and persistence are exactly those of a sequential
build.

Workers are forked (`multiprocessing` "fork" context): rules may be closures, which fork inherits without
pickling. Without fork, or while other Python threads run in the parent (forking them is unsafe),
`run_jobs` returns None and the caller computes sequentially. Workers ignore SIGINT (the parent handles
Ctrl-C and cancels pending batches) and exit on their own if the parent dies (they inherit its open
files, e.g. the flock of the state lock, which must not outlive a SIGKILLed build).

Stdlib only; multiprocessing and concurrent.futures are imported when a pool is actually started.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from .errors import UndeclaredInputError
from .model import NodeSpec, Rule

# Fewest stale parallel nodes worth a pool. Starting and stopping a pool (fork, worker start-up, queue
# threads, joining the workers) and shipping inputs/outputs costs a few tens of ms (20-100 ms measured on
# a loaded 2-core machine); a document node computes in ~1-2 ms, so below ~64 nodes the pool saves
# less than it costs. Incremental builds (a handful of edited files) therefore never fork.
PARALLEL_THRESHOLD = 64
# Nodes per task: amortises the per-task IPC round trip (pickling the batch, queue wake-ups) while leaving
# enough tasks (>= TASKS_PER_WORKER per worker) to balance uneven node costs across workers.
BATCH_SIZE = 32
TASKS_PER_WORKER = 4
MAX_WORKERS = 4  # default cap of Engine(workers=None)
_PARENT_POLL_S = 0.5  # how often a worker checks that its parent is alive


def default_workers() -> int:
    """CPUs this process may use (affinity-aware where available), capped at MAX_WORKERS."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(n, MAX_WORKERS))


class Job(NamedTuple):
    """One node to compute in a worker: its spec and the fingerprinted bytes of each declared file."""

    spec: NodeSpec
    files: dict[str, bytes]


class WorkerError(Exception):
    """Stands for a worker exception that could not be pickled back: `TypeName: message`."""


class RemoteTraceback(Exception):
    """Attached as `__cause__` of a worker exception so the worker's traceback is not lost."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return "\n" + self.tb


def batch_size(n_jobs: int, workers: int) -> int:
    return max(1, min(BATCH_SIZE, -(-n_jobs // (workers * TASKS_PER_WORKER))))


def fork_context() -> Any:
    """The "fork" multiprocessing context, or None where fork is unavailable."""
    import multiprocessing

    try:
        return multiprocessing.get_context("fork")
    except ValueError:
        return None


def run_jobs(jobs: Sequence[Job], rules: Mapping[str, Rule], serialise: Callable[[Any], bytes],
             workers: int) -> dict[str, bytes | BaseException] | None:
    """Compute `jobs` in a pool of forked workers: node id -> output bytes, or the exception the rule
    (or the serialisation of its output) raised. None if no pool can be used. Nodes of a batch whose
    worker died are left out (the caller computes them itself)."""
    mp = fork_context()
    if mp is None or workers < 2 or not jobs:
        return None
    import threading

    if threading.active_count() > 1:  # forking a multi-threaded process may deadlock the children
        return None
    from concurrent.futures import ProcessPoolExecutor

    size = batch_size(len(jobs), workers)
    batches = [list(jobs[i:i + size]) for i in range(0, len(jobs), size)]
    executor = ProcessPoolExecutor(min(workers, len(batches)), mp_context=mp, initializer=_init_worker,
                                   initargs=(dict(rules), serialise, os.getpid()))
    results: dict[str, bytes | BaseException] = {}
    try:
        futures = [executor.submit(_run_batch, batch) for batch in batches]
        for fut in futures:
            try:
                items = fut.result()
            except Exception:  # BrokenProcessPool, or a worker-level failure: compute these sequentially
                continue
            for node_id, ok, payload in items:
                results[node_id] = payload if ok else _revive(payload)
    except BaseException:  # KeyboardInterrupt: drop pending batches and stop the workers now
        for proc in list((getattr(executor, "_processes", None) or {}).values()):
            proc.terminate()  # our own children; rules are pure, nothing is left half-written
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)
    return results


# -- worker side -------------------------------------------------------------------------------------------
_rules: dict[str, Rule] = {}
_serialise: Callable[[Any], bytes] | None = None


def _init_worker(rules: dict[str, Rule], serialise: Callable[[Any], bytes], parent_pid: int) -> None:
    global _rules, _serialise
    import signal
    import threading

    _rules, _serialise = rules, serialise
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
    """ComputeContext in a worker: the declared files' fingerprinted bytes, no deps."""

    def __init__(self, spec: NodeSpec, files: dict[str, bytes]) -> None:
        self._spec, self._files = spec, files

    def read_file(self, path: str) -> bytes:
        if path not in self._spec.files:
            raise UndeclaredInputError(f"{self._spec.id} read undeclared file {path}")
        return self._files[path]

    def output_of(self, node_id: str) -> Any:
        raise UndeclaredInputError(f"{self._spec.id} read output of undeclared dep {node_id}")

    def output_bytes(self, node_id: str) -> bytes:
        raise UndeclaredInputError(f"{self._spec.id} read output of undeclared dep {node_id}")


def _run_batch(batch: list[Job]) -> list[tuple[str, bool, Any]]:
    assert _serialise is not None
    out: list[tuple[str, bool, Any]] = []
    for spec, files in batch:
        try:
            value = _rules[spec.type].compute(spec, _WorkerContext(spec, files))
            data = bytes(value) if isinstance(value, (bytes, bytearray)) else _serialise(value)
            out.append((spec.id, True, data))
        except Exception as exc:
            out.append((spec.id, False, _pack(exc)))
    return out


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


def _revive(payload: tuple[bytes | None, str, str, str]) -> BaseException:
    import pickle

    blob, name, text, tb = payload
    exc: BaseException | None = None
    if blob is not None:
        try:
            exc = pickle.loads(blob)
        except Exception:
            exc = None
    if not isinstance(exc, BaseException):
        exc = WorkerError(f"{name}: {text}")
    exc.__cause__ = RemoteTraceback(tb)
    return exc

"""Parallel prefetch, the pool: forked worker processes computing islands of `Rule.parallel` nodes.

A rule with `parallel=True` promises that compute only reads its declared files (`ctx.read_file`) and
its declared deps (`ctx.output_of` / `ctx.output_bytes`), is deterministic, and returns bytes or a
JSON-able value. prefetch.py groups such root nodes into *islands* (connected by deps) and submits stale
ones to a `Pool`; worker.py computes them. The build loop takes a result only if the dep fingerprints
the worker used equal this build's (prefetch.py): decisions, cutoffs, events, traces and persistence are
exactly those of a sequential build.

Workers are forked (`multiprocessing` "fork" context): rules may be closures, which fork inherits without
pickling. Without fork, or while other Python threads run in the parent (forking them is unsafe), no pool
starts and the loop computes everything. Workers ignore SIGINT (the parent handles Ctrl-C and terminates
them) and exit on their own if the parent dies (they inherit its open files, e.g. the flock of the state
lock, which must not outlive a SIGKILLed build).

Stdlib + xxhash; multiprocessing and concurrent.futures are imported when a pool is actually started.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Mapping

from .fs import FileSystem
from .model import Rule
from .worker import Job, _init_worker, _run_task

MAX_WORKERS = 4  # default cap of Engine(workers=None)


def default_workers() -> int:
    """CPUs this process may use (affinity-aware where available), capped at MAX_WORKERS."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(n, MAX_WORKERS))


class WorkerError(Exception):
    """Stands for a worker exception that could not be pickled back: `TypeName: message`."""


class RemoteTraceback(Exception):
    """Attached as `__cause__` of a worker exception so the worker's traceback is not lost."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return "\n" + self.tb


def fork_context() -> Any:
    """The "fork" multiprocessing context, or None where fork is unavailable."""
    import multiprocessing

    try:
        return multiprocessing.get_context("fork")
    except ValueError:
        return None


class Pool:
    """Forked workers computing tasks (lists of Jobs, islands in order) -> futures of [Result]."""

    def __init__(self, executor: Any) -> None:
        self._executor = executor
        self.broken = False
        self.started = False  # the first submit forks the workers

    @classmethod
    def start(cls, rules: Mapping[str, Rule], serialise: Callable[[Any], bytes], workers: int,
              shared: Mapping[str, bytes], fs: FileSystem) -> Pool | None:
        """A pool of `workers` forked processes, or None if none can be used. `shared`: outputs every
        worker may read as deps; `fs`: for probes (fork hands both over without pickling)."""
        mp = fork_context()
        if mp is None or workers < 2:
            return None
        import threading

        if threading.active_count() > 1:  # forking a multi-threaded process may deadlock the children
            return None
        from concurrent.futures import ProcessPoolExecutor

        return cls(ProcessPoolExecutor(workers, mp_context=mp, initializer=_init_worker,
                                       initargs=(dict(rules), serialise, dict(shared), fs, os.getpid())))

    def submit(self, task: list[Job]) -> Any:
        """A future of the task's (results, probed file records), or None once the pool is broken (a worker died, or the
        workers could not be forked: the loop then computes everything itself)."""
        if self.broken:
            return None
        import gc

        # The first submit forks the workers. Objects alive now are frozen out of the collector first, so
        # a worker's collections never touch (and copy) the pages it shares with the parent.
        first = not self.started
        if first:
            was_frozen = gc.get_freeze_count()
            gc.freeze()
        try:
            return self._executor.submit(_run_task, task)
        except Exception:  # BrokenProcessPool, OSError from fork (EAGAIN, ENOMEM)
            self.broken = True
            return None
        finally:
            if first:
                self.started = True
                if not was_frozen:  # else the caller unfreezes everything when it is done
                    gc.unfreeze()

    def close(self, cancel: bool = False) -> None:
        """Stop the workers: after the pending tasks, or at once (`cancel`, e.g. on Ctrl-C)."""
        if not cancel:
            self._executor.shutdown(wait=True)
            return
        procs = list((getattr(self._executor, "_processes", None) or {}).values())
        for proc in procs:
            proc.terminate()  # our own children; rules are pure, nothing is left half-written
        try:
            self._executor.shutdown(wait=True, cancel_futures=True)
        except RuntimeError:  # interrupted while the pool was starting: its thread never ran
            pass
        for proc in procs:  # reaped even when the pool's thread never started
            proc.join(5)


def revive(payload: tuple[bytes | None, str, str, str]) -> BaseException:
    """The exception a worker packed, with its traceback as `__cause__`."""
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

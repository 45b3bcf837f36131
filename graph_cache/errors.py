"""Engine exceptions: one base class, one subclass per failure the app must tell apart."""
from __future__ import annotations


class GraphCacheError(Exception):
    """Base class of every error raised on purpose by graph_cache."""


class LockTimeout(GraphCacheError):
    """The state lock stayed held by another process for longer than the timeout."""

    def __init__(self, message: str, lock_path: str = "", holder_pid: int | None = None) -> None:
        super().__init__(message)
        self.lock_path = lock_path
        self.holder_pid = holder_pid


class StateDirError(GraphCacheError):
    """The state directory cannot be created or written (read-only, disk full, I/O error)."""


class CycleError(GraphCacheError):
    """The graph cannot be ordered: a dependency cycle, or deps on nodes that never appeared."""

    def __init__(self, message: str, cycle: tuple[str, ...] = (), missing: dict[str, tuple[str, ...]] | None = None) -> None:
        super().__init__(message)
        self.cycle = cycle  # node ids forming one cycle, in order (first id repeated implicitly)
        self.missing = missing or {}  # node id -> unknown dep ids it waits for


class SpecConflictError(GraphCacheError):
    """Two different NodeSpecs were given for the same node id in one build."""


class UndeclaredInputError(GraphCacheError):
    """A rule read a file or a node output it did not declare in its NodeSpec."""


class ComputeError(GraphCacheError):
    """A rule's compute (or children, or output serialisation) raised; wraps the original exception."""

    def __init__(self, node_id: str, original: BaseException) -> None:
        super().__init__(f"computing {node_id} failed: {type(original).__name__}: {original}")
        self.node_id = node_id
        self.original = original

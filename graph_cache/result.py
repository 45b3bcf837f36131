"""The outcome of one build (`Engine.build`): counts, decisions, traces, file records, lazy outputs."""
from __future__ import annotations

from typing import Any, Callable, Mapping

from .errors import GraphCacheError
from .fingerprint import FileRecord
from .model import BuildCounts, NodeSpec, Reason, Trace


class BuildResult:
    """Outcome of one build. `output(id)` decodes lazily (from the store for hits); needs the store open."""

    def __init__(self, run_id: int, counts: BuildCounts, decisions: dict[str, tuple[str, Reason | None]],
                 traces: Mapping[str, Trace], files: dict[str, FileRecord], reset_warning: str | None,
                 dry_run: bool, seconds: float, loader: Callable[[str], Any],
                 specs: Mapping[str, NodeSpec] | None = None,
                 damage: Callable[[], str | None] = lambda: None) -> None:
        self.run_id = run_id
        self.counts = counts
        self.decisions = decisions  # node id -> (decision, reason), in decision order
        self.traces = traces  # final traces of every node reached, decoded on access (dry run: stored)
        self.files = files  # final records of every existing file input (feed Manifest.from_records)
        self.specs = specs if specs is not None else {}  # node id -> NodeSpec of every node reached
        self.reset_warning = reset_warning
        self.dry_run = dry_run
        self.seconds = seconds
        self.mode = "full"  # "changes": a change-driven build visited only the dirty closure (dirty.py)
        self.fingerprints: Mapping[str, str] = {}  # node id -> output fingerprint (no trace decoding)
        self.graph_digest: str | None = None  # graph_index.shape_of the committed graph (None: dry run)
        self.files_snapshot: str | None = None  # id of the file records committed (FileChanges.snapshot)
        self.changes_used = False  # the caller's FileChanges was trusted (changed_files.files_to_check)
        self.fingerprinted: Mapping[str, FileRecord | None] = {}  # files fingerprinted by this build
        self._loader = loader
        self.bytes_loader: Callable[[str], bytes] | None = None  # serialised outputs (set by the engine)
        self._damage = damage

    def damage_warning(self) -> str | None:
        """One line naming the state file if damaged stored traces/outputs were found (and recomputed) so
        far, including while outputs are read after the build; None otherwise."""
        return self._damage()

    def output(self, node_id: str) -> Any:
        """Decoded output of a node of this build (KeyError if the node was not part of it)."""
        if self.dry_run:
            raise GraphCacheError("a dry run computes no outputs")
        if node_id not in self.traces:
            raise KeyError(node_id)
        return self._loader(node_id)

    def output_bytes(self, node_id: str) -> bytes:
        """Serialised output of a node of this build, as stored (KeyError if the node was not part of it)."""
        if self.dry_run or self.bytes_loader is None:
            raise GraphCacheError("a dry run computes no outputs")
        if node_id not in self.traces:
            raise KeyError(node_id)
        return self.bytes_loader(node_id)

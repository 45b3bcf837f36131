"""Stored traces, decoded lazily: the raw SQLite rows stay as they are until a trace is asked for.

Decoding a trace (marshal blobs -> tuples of str, NodeSpec children, Reason) costs far more than reading
the row, and an incremental build only needs the full trace of the few nodes that recompute: a hit is
proven by comparing the canonical bytes of the node's current inputs with the stored inputs blob
(`inputs_blob`, store_db.encode_inputs). A row that cannot be decoded counts as absent and is listed in
`damaged`, so the engine recomputes that node (reason `cache-corrupt`) instead of failing.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from .model import Trace
from .store_db import decode_trace

# Row layout (SELECT order of store.py): node_id, type, version, inputs, output_fp, children, decision,
# reason, built_at, run_id.
VERSION, INPUTS, OUTPUT_FP, CHILDREN = 2, 3, 4, 5


class TraceTable(Mapping[str, Trace]):
    """node id -> Trace, decoded on first access; `raw(id)` gives the undecoded row (or None)."""

    __slots__ = ("_rows", "_decoded", "damaged")

    def __init__(self, rows: dict[str, tuple[Any, ...]] | None = None,
                 decoded: dict[str, Trace] | None = None) -> None:
        self._rows: dict[str, tuple[Any, ...]] = rows if rows is not None else {}
        self._decoded: dict[str, Trace] = decoded if decoded is not None else {}
        self.damaged: set[str] = set()  # ids whose row could not be decoded

    def raw(self, node_id: str) -> tuple[Any, ...] | None:
        """The stored row of a node (None if absent or replaced by `put`)."""
        return self._rows.get(node_id)

    def __getitem__(self, node_id: str) -> Trace:
        got = self._decoded.get(node_id)
        if got is not None:
            return got
        row = self._rows[node_id]
        try:
            trace = decode_trace(row)
            if trace.node_id != node_id:
                raise ValueError("row id mismatch")
        except Exception:  # garbled blob: the node is simply recomputed
            self.damaged.add(node_id)
            raise KeyError(node_id) from None
        self._decoded[node_id] = trace
        return trace

    def get(self, node_id: str, default: Any = None) -> Any:
        try:
            return self[node_id]
        except KeyError:
            return default

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._decoded or node_id in self._rows

    def __iter__(self) -> Iterator[str]:
        rows = self._rows  # a snapshot list: decoding while iterating is allowed
        return iter([*rows, *(k for k in self._decoded if k not in rows)])

    def __len__(self) -> int:
        rows = self._rows
        return len(rows) + sum(1 for k in self._decoded if k not in rows)

    def put(self, trace: Trace) -> None:
        self._rows.pop(trace.node_id, None)
        self._decoded[trace.node_id] = trace

    def pop(self, node_id: str) -> None:
        self._rows.pop(node_id, None)
        self._decoded.pop(node_id, None)

    def copy(self) -> TraceTable:
        """A view that decodes independently (decoding never changes the stored rows)."""
        out = TraceTable(dict(self._rows), dict(self._decoded))
        out.damaged = set(self.damaged)
        return out


class TraceView(Mapping[str, Trace]):
    """The traces of one build: the ones written now, plus hits read lazily from the stored table."""

    __slots__ = ("_ids", "_new", "_old")

    def __init__(self, ids: dict[str, None], new: Mapping[str, Trace], old: Mapping[str, Trace]) -> None:
        self._ids, self._new, self._old = ids, new, old

    def __getitem__(self, node_id: str) -> Trace:
        if node_id not in self._ids:
            raise KeyError(node_id)
        got = self._new.get(node_id)
        return got if got is not None else self._old[node_id]

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._ids

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

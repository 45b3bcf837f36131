"""Stored traces, decoded lazily: the raw SQLite rows stay as they are until a trace is asked for.

Decoding a trace (marshal blobs -> tuples of str, NodeSpec children, Reason) costs far more than reading
the row, and an incremental build only needs the full trace of the few nodes that recompute: a hit is
proven by comparing the canonical bytes of the node's current inputs with the stored inputs blob
(`inputs_blob`, store_db.encode_inputs). A row that cannot be decoded counts as absent and is listed in
`damaged`, so the engine recomputes that node (reason `cache-corrupt`) instead of failing.
"""
from __future__ import annotations

import marshal
from typing import Any, Callable, Iterator, Mapping

from .model import Trace
from .store_db import NO_CHILDREN, decode_trace

# Row layout (SELECT order of store.py): node_id, type, version, inputs, output_fp, children, decision,
# reason, built_at, run_id.
VERSION, INPUTS, OUTPUT_FP, CHILDREN = 2, 3, 4, 5


Fetch = Callable[[str], "tuple[Any, ...] | None"]  # node id -> its stored row (point SELECT)
FetchMany = Callable[[list], "dict[str, tuple[Any, ...]]"]  # node ids -> their stored rows (few SELECTs)
FetchAll = Callable[[], "dict[str, tuple[Any, ...]]"]  # every stored row (one bulk SELECT)
FetchChildren = Callable[[], "dict[str, bytes]"]  # node id -> children blob of the rows that have children


class TraceTable(Mapping[str, Trace]):
    """node id -> Trace, decoded on first access; `raw(id)` gives the undecoded row (or None).

    Rows are either all given up front, or fetched on demand (`fetch`: one point SELECT per node, for a
    change-driven build that visits a few nodes; `load_all()`: one bulk SELECT, for a full build).
    Iterating or sizing the table loads all rows first.
    """

    __slots__ = ("_rows", "_decoded", "damaged", "_fetch", "_fetch_all", "_absent", "_fetch_many",
                 "_fetch_children")

    def __init__(self, rows: dict[str, tuple[Any, ...]] | None = None,
                 decoded: dict[str, Trace] | None = None, *, fetch: Fetch | None = None,
                 fetch_all: FetchAll | None = None, fetch_many: FetchMany | None = None,
                 fetch_children: FetchChildren | None = None) -> None:
        self._rows: dict[str, tuple[Any, ...]] = rows if rows is not None else {}
        self._decoded: dict[str, Trace] = decoded if decoded is not None else {}
        self.damaged: set[str] = set()  # ids whose row could not be decoded
        self._fetch, self._fetch_all = fetch, fetch_all  # both None: every row is in `_rows`
        self._absent: set[str] = set()  # ids fetched and found missing (or removed)
        self._fetch_many = fetch_many  # bulk form of `fetch` (optional)
        self._fetch_children = fetch_children  # the `children` column of the generators' rows (optional)

    def prefetch(self, node_ids) -> None:
        """Read the rows of many nodes at once (instead of one point SELECT each when `raw` asks)."""
        if self._fetch is None or self._fetch_many is None:
            return
        todo = [n for n in node_ids if n not in self._rows and n not in self._decoded and n not in self._absent]
        if todo:
            got = self._fetch_many(todo)
            for n in todo:
                row = got.get(n)
                if row is None:
                    self._absent.add(n)
                else:
                    self._rows[n] = row

    def stored_children(self) -> dict[str, bytes]:
        """{node id: children blob} of the stored rows that have children, rows replaced by `put` or
        removed left out: one SELECT of that column when rows are read on demand, else from the rows."""
        if self._fetch_children is not None:
            got = self._fetch_children()
        else:
            self.load_all()
            got = {n: row[CHILDREN] for n, row in self._rows.items() if row[CHILDREN] != NO_CHILDREN}
        for node_id in (*self._absent, *self._decoded):
            got.pop(node_id, None)
        return got

    def decoded(self) -> Mapping[str, Trace]:
        """The traces decoded so far or replaced by `put` (not re-read from their rows)."""
        return self._decoded

    def load_all(self) -> None:
        """Fetch every stored row now (no-op when they are all here)."""
        if self._fetch_all is not None:
            rows = self._fetch_all()
            for node_id in self._absent:
                rows.pop(node_id, None)
            for node_id in self._decoded:  # replaced by `put`: the row is not the stored one
                rows.pop(node_id, None)
            self._rows, self._fetch, self._fetch_all = rows, None, None

    def raw(self, node_id: str) -> tuple[Any, ...] | None:
        """The stored row of a node (None if absent or replaced by `put`)."""
        row = self._rows.get(node_id)
        if row is None and self._fetch is not None and node_id not in self._decoded \
                and node_id not in self._absent:
            row = self._fetch(node_id)
            if row is None:
                self._absent.add(node_id)
            else:
                self._rows[node_id] = row
        return row

    def __getitem__(self, node_id: str) -> Trace:
        got = self._decoded.get(node_id)
        if got is not None:
            return got
        row = self.raw(node_id)
        if row is None:
            raise KeyError(node_id)
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
        return node_id in self._decoded or self.raw(node_id) is not None  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[str]:
        self.load_all()
        rows = self._rows  # a snapshot list: decoding while iterating is allowed
        return iter([*rows, *(k for k in self._decoded if k not in rows)])

    def __len__(self) -> int:
        self.load_all()
        rows = self._rows
        return len(rows) + sum(1 for k in self._decoded if k not in rows)

    def put(self, trace: Trace) -> None:
        self._rows.pop(trace.node_id, None)
        self._absent.discard(trace.node_id)
        self._decoded[trace.node_id] = trace

    def pop(self, node_id: str) -> None:
        self._rows.pop(node_id, None)
        self._decoded.pop(node_id, None)
        if self._fetch is not None:
            self._absent.add(node_id)

    def copy(self) -> TraceTable:
        """A view that decodes independently (decoding never changes the stored rows)."""
        out = TraceTable(dict(self._rows), dict(self._decoded), fetch=self._fetch, fetch_all=self._fetch_all,
                         fetch_many=self._fetch_many, fetch_children=self._fetch_children)
        out.damaged = set(self.damaged)
        out._absent = set(self._absent)
        return out


BULK_ITEMS = 512  # stored traces an `items()` reads in bulk rather than one by one


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

    def children(self) -> dict[str, list[str]]:
        """{node id: ids of the children it generated} of every node that generated some, without
        decoding the stored traces: only the generators' `children` blobs are read
        (`TraceTable.stored_children`: 40 ms for 160k traces, where reading every row took 430 ms).
        This build's traces come first, then the ones the table decoded (or replaced by `put`), then
        the blobs; a node in none of them generated nothing."""
        table = self._old
        if not isinstance(table, TraceTable):
            return {nid: kids for nid in self._ids if (kids := [c.id for c in self[nid].children])}
        blobs = table.stored_children()
        out: dict[str, list[str]] = {}
        new, ids = self._new, self._ids
        for nid, t in new.items():
            if nid in ids and t.children:
                out[nid] = [c.id for c in t.children]
        for nid, t in table.decoded().items():
            if nid in ids and nid not in new and t.children:
                out[nid] = [c.id for c in t.children]
        for nid, blob in blobs.items():
            if nid in ids and nid not in new:
                kids = _child_ids(blob, table, nid)
                if kids:
                    out[nid] = kids
        return {nid: out[nid] for nid in ids if nid in out}  # in the build's order, as before

    def items(self) -> Any:
        """Every trace: the stored ones are read in one bulk SELECT first (`promptgen graph` reads them
        all after a change-driven build: 16k point SELECTs cost more than one)."""
        if isinstance(self._old, TraceTable) and len(self._ids) - len(self._new) > BULK_ITEMS:
            self._old.load_all()
        return super().items()


def child_ids(blob: bytes) -> list[str] | None:
    """The ids in a stored `children` blob (`TraceTable.stored_children`), None if it is garbled."""
    try:
        return [str(c[0]) for c in marshal.loads(blob)]
    except Exception:
        return None


def _child_ids(blob: bytes, table: Mapping[str, Trace], node_id: str) -> list[str]:
    """The ids in a stored `children` blob; a garbled one is decoded as usual (a damaged row raises
    KeyError)."""
    kids = child_ids(blob)
    return kids if kids is not None else [c.id for c in table[node_id].children]

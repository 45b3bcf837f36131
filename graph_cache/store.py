"""Persistent state: one SQLite file `<state_dir>/state.db` (rollback journal, never WAL).

Tables: meta(key, value); files(path, mtime_ns, size, ino, digest); traces(node_id, type, version,
inputs, output_fp, children, decision, reason, built_at, run_id); outputs(node_id, data);
blobs(key, data); runs(run_id, record). `PRAGMA user_version` and meta.schema carry SCHEMA_VERSION.
Trace blobs are marshal (see store_db.py); outputs are canonical JSON bytes; run records are JSON text.
A corrupt or foreign-schema file yields one warning and a fresh state (replaced atomically); write
failures raise StateDirError and leave the previous state intact. A writable open also removes the temp
files of atomic writers that were killed mid-write (`state.db.<pid>.new`, `.<name>.<pid>.tmp` of a dead
PID), so crashes leave nothing behind that accumulates.
"""
from __future__ import annotations

import errno
import json
import os
import sqlite3
from typing import Any, Iterable, Mapping

from . import graph_index
from .errors import GraphCacheError, StateDirError
from .file_table import FileTable
from .fingerprint import FileRecord
from .regular_files import open_regular, read_regular
from .model import Trace
from .store_db import (CHECKED_SUFFIX, DB_NAME, MAGIC, SCHEMA_VERSION, connect,  # noqa: F401
                       create_atomically, decode_trace, encode_trace, file_row, file_rows, init_schema,
                       sweep_stale_temp_files, trace_row, trace_rows, trace_rows_of, children_rows)
from .store_values import WrittenValues, get_many, get_prefix, get_value, put_values
from .trace_table import TraceTable

STAGE_BATCH = 256  # staged outputs written per executemany


class _Discard(Exception):
    """The existing state cannot be used; the message says why."""


class Store:
    """Open with `Store.open(state_dir)` (or `Store.memory()` in tests); see the module docstring."""

    def __init__(self, conn: sqlite3.Connection, state_dir: str, read_only: bool,
                 files: FileTable, traces: TraceTable, meta: dict[str, str],
                 reset_warning: str | None = None) -> None:
        self._conn = conn
        self.state_dir = state_dir
        self.location = os.path.join(state_dir, DB_NAME) if state_dir != ":memory:" else ":memory:"
        self.read_only = read_only
        self._files = files
        self._traces = traces
        self._staged: dict[str, bytes] = {}  # node id -> output waiting for the next executemany
        self._written = WrittenValues()  # large outputs written by this store: read back without a SELECT
        self._on_disk = state_dir != ":memory:"
        # True when state.db was written by someone else since our last commit (or we cannot tell): the
        # engine then verifies every node instead of trusting unvisited rows (dirty.py)
        self.changed_externally = False
        self._meta = meta
        self.reset_warning = reset_warning  # set when the previous state was discarded at open
        self.reset_pending = reset_warning is not None  # cleared by the first successful commit

    # -- opening ----------------------------------------------------------------------------------------
    @classmethod
    def open(cls, state_dir: str | os.PathLike[str], *, read_only: bool = False,
             discard: str | None = None) -> tuple[Store, str | None]:
        """Open (creating if needed) the state in `state_dir`. Returns (store, warning or None).

        `discard` (a reason) replaces the state with an empty one, as a damaged one is, with the same
        warning: for damage found only while building (the caller then builds again).

        read_only never writes anything: a missing db gives an empty in-memory view, an unusable one an
        empty view plus the warning. Raises StateDirError if a writable state cannot be set up.
        """
        state_dir = os.fspath(state_dir)
        path = os.path.join(state_dir, DB_NAME)
        if read_only:
            if not os.path.exists(path):
                return cls.memory(state_dir=state_dir, read_only=True), None
            try:
                return cls._load(path, state_dir, read_only=True), None
            except _Discard as e:
                warning = _warning(state_dir, str(e))
                return cls.memory(state_dir=state_dir, read_only=True, reset_warning=warning), warning
        try:
            os.makedirs(state_dir, exist_ok=True)
        except OSError as e:
            raise _dir_error(state_dir, e) from e
        sweep_stale_temp_files(state_dir)  # what writers killed mid-write left behind
        warning = None if discard is None else _warning(state_dir, discard)
        if discard is None and os.path.exists(path):
            try:
                return cls._load(path, state_dir, read_only=False), None
            except _Discard as e:
                warning = _warning(state_dir, str(e))
        try:
            create_atomically(path, state_dir)
        except (OSError, sqlite3.Error) as e:
            raise _dir_error(state_dir, e) from e
        try:
            store = cls._load(path, state_dir, read_only=False)
        except _Discard as e:  # pragma: no cover - a file we just created
            raise StateDirError(f"cannot initialise state in {state_dir}: {e}") from None
        store.reset_warning = warning
        store.reset_pending = warning is not None
        return store, warning

    @classmethod
    def memory(cls, *, state_dir: str = ":memory:", read_only: bool = False,
               reset_warning: str | None = None) -> Store:
        """An empty store backed by an in-memory SQLite database (tests, empty read-only views)."""
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        init_schema(conn)
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        store = cls(conn, state_dir, read_only, FileTable(), TraceTable(), meta, reset_warning)
        store._on_disk = False
        return store

    @classmethod
    def _load(cls, path: str, state_dir: str, *, read_only: bool) -> Store:
        try:
            head = read_regular(path, len(MAGIC))
        except OSError as e:
            if e.errno == errno.EINVAL:  # a FIFO, device or folder named like the db (open would block or fail)
                raise _Discard(f"{DB_NAME} is not a regular file") from None
            if read_only:
                raise _Discard(f"cannot read {DB_NAME}: {e.strerror or e}") from None
            raise _dir_error(state_dir, e) from e
        if not head:
            raise _Discard(f"{DB_NAME} is empty (zero length)")
        if head != MAGIC:
            raise _Discard(f"{DB_NAME} is not an SQLite database")
        conn = None
        try:
            conn = connect(path, read_only)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                age = "older" if version < SCHEMA_VERSION else "newer"
                raise _Discard(f"{DB_NAME} has {age} schema {version}, expected {SCHEMA_VERSION}")
            changed_externally = not _unchanged_since_commit(path)
            if changed_externally:  # O(file size): only when someone else wrote it
                check = conn.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise _Discard(f"{DB_NAME} is corrupt: {check}")
            conn.execute("BEGIN")  # one read transaction: a consistent snapshot
            meta = dict(conn.execute("SELECT key, value FROM meta"))
            if meta.get("schema") != str(SCHEMA_VERSION):
                raise _Discard(f"{DB_NAME} has schema {meta.get('schema')!r}, expected {SCHEMA_VERSION}")
            if read_only or changed_externally:  # no lock / someone else wrote it: read it all now
                files = FileTable(file_rows(conn))
                traces = TraceTable(trace_rows(conn))
            else:  # under our lock, as we left it: rows are read when (and if) the build needs them
                files = FileTable(fetch_all=lambda: file_rows(conn, path),
                                  fetch_one=lambda file_path: file_row(conn, file_path))
                traces = TraceTable(fetch=lambda node_id: trace_row(conn, node_id),
                                    fetch_all=lambda: trace_rows(conn, path),
                                    fetch_many=lambda node_ids: trace_rows_of(conn, node_ids),
                                    fetch_children=lambda: children_rows(conn, path))
            int(meta.get("last_run_id", "0"))
            conn.execute("COMMIT")
        except _Discard:
            if conn is not None:
                conn.close()
            raise
        except sqlite3.OperationalError as e:
            if conn is not None:
                conn.close()
            if read_only:
                raise _Discard(f"{DB_NAME} cannot be read: {e}") from None
            if _is_corruption(e):
                raise _Discard(f"{DB_NAME} is corrupt: {e}") from None
            raise _dir_error(state_dir, e) from e
        except (sqlite3.DatabaseError, ValueError, TypeError, EOFError, KeyError) as e:
            if conn is not None:
                conn.close()
            raise _Discard(f"{DB_NAME} is corrupt: {e}") from None
        store = cls(conn, state_dir, read_only, files, traces, meta)
        store.changed_externally = changed_externally
        return store

    # -- reading ----------------------------------------------------------------------------------------
    def files(self) -> FileTable:
        """path -> FileRecord of the last build (rows read on first use, records built on access)."""
        return self._files.copy()

    def traces(self) -> TraceTable:
        """node id -> Trace of the last build, decoded on access (a damaged row reads as absent)."""
        return self._traces.copy()

    @property
    def last_run_id(self) -> int:
        return int(self._meta.get("last_run_id", "0"))

    def meta(self, key: str) -> str | None:
        return self._meta.get(key)

    def graph_index(self) -> bytes | None:
        """The graph index blob of the last build (graph_index.py), None if absent or invalidated."""
        return self.get_blob(graph_index.KEY)

    def graph_index_head(self) -> bytes | None:
        """The header of the graph index blob (`graph_index.HEAD` bytes, its body's checksum), read
        without the body; None if absent or unreadable."""
        try:
            return get_prefix(self._conn, "blobs", graph_index.KEY, graph_index.HEAD)
        except sqlite3.DatabaseError:
            return None

    @staticmethod
    def peek_graph_index(state_dir: str | os.PathLike[str]) -> bytes | None:
        """The graph index blob of `state_dir`'s state file, read through a read-only connection that
        creates nothing and waits for no lock (None if there is none, or the file is busy or unusable):
        for reading ahead of a build (`graph_index.decode_ahead`), outside the state lock."""
        path = os.path.join(os.fspath(state_dir), DB_NAME)
        if not os.path.isfile(path):
            return None
        try:
            conn = connect(path, read_only=True, timeout=0)
        except sqlite3.Error:
            return None
        try:
            return get_value(conn, "blobs", graph_index.KEY)
        except sqlite3.Error:
            return None
        finally:
            conn.close()

    def load_output(self, node_id: str) -> bytes | None:
        """Stored output bytes of a node (canonical JSON), or None if absent or unreadable. Sees the
        outputs staged by the build in progress (one not written yet is returned as is: no flush)."""
        staged = self._staged.get(node_id)
        if staged is not None:
            return staged
        written = self._written.get(node_id)
        if written is not None:
            return written
        try:
            return get_value(self._conn, "outputs", node_id)
        except sqlite3.DatabaseError:
            return None

    def load_outputs(self, node_ids: list[str]) -> dict[str, bytes]:
        """`load_output` of many nodes in a few SELECTs: the ones found (outputs of 1 MB or more, absent or
        unreadable ones are missing: `load_output` answers for them)."""
        staged = self._staged
        out = {n: staged[n] for n in node_ids if n in staged}
        try:
            out.update(get_many(self._conn, "outputs", [n for n in node_ids if n not in staged]))
        except sqlite3.DatabaseError:
            pass
        return out

    def get_blob(self, key: str) -> bytes | None:
        try:
            return get_value(self._conn, "blobs", key)
        except sqlite3.DatabaseError:
            return None

    def runs(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Run records, newest first; each has its "run_id"."""
        sql = "SELECT run_id, record FROM runs ORDER BY run_id DESC"
        rows = self._conn.execute(sql + (" LIMIT ?" if limit is not None else ""),
                                  (() if limit is None else (limit,))).fetchall()
        out = []
        for run_id, record in rows:
            try:
                rec = json.loads(record)
            except ValueError:
                continue
            if isinstance(rec, dict):
                rec["run_id"] = run_id
                out.append(rec)
        return out

    # -- writing ----------------------------------------------------------------------------------------
    def stage_output(self, node_id: str, data: bytes) -> None:
        """Write an output inside the build's transaction, opened on first use: the bytes need not stay
        in memory until the end. The next `commit` makes them durable with everything else; `abort` (or
        a crash: rollback journal) discards them."""
        self._staged[node_id] = data
        if len(self._staged) >= STAGE_BATCH:
            self._flush_staged()

    def _flush_staged(self) -> None:
        if self.read_only:
            raise GraphCacheError(f"state in {self.state_dir} is open read-only")
        c = self._conn
        try:
            if not c.in_transaction:
                c.execute("BEGIN IMMEDIATE")
            put_values(c, "outputs", self._staged.items())
            self._written.wrote(self._staged.items())
        except sqlite3.Error as e:
            self.abort()
            raise _dir_error(self.state_dir, e) from e
        self._staged.clear()

    def abort(self) -> None:
        """Discard staged outputs and the open build transaction, if any."""
        self._staged.clear()
        self._written.rolled_back()
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def commit(self, *, files: Mapping[str, FileRecord] = {}, traces: Mapping[str, Trace] = {},
               outputs: Mapping[str, bytes] = {}, removed_nodes: Iterable[str] = (),
               removed_files: Iterable[str] = (), blobs: Mapping[str, bytes] = {},
               run_id: int | None = None, meta: Mapping[str, str] = {}, graph: bytes | None = None,
               keep_graph: bool = False) -> None:
        """Apply one build's changes in ONE transaction (all or nothing). `files`/`traces`/`outputs`/
        `blobs` are upserts; removed nodes lose their trace and output. `run_id` becomes last_run_id.
        `graph` replaces the graph index; without it the index is dropped (it could disagree with the
        traces now) unless `keep_graph` (the caller proved the graph unchanged)."""
        removed_nodes, removed_files = sorted(removed_nodes), sorted(removed_files)

        def write(c: sqlite3.Connection) -> None:
            c.executemany("DELETE FROM traces WHERE node_id = ?", [(n,) for n in removed_nodes])
            c.executemany("DELETE FROM outputs WHERE node_id = ?", [(n,) for n in removed_nodes])
            c.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in removed_files])
            # rows in key order: SQLite appends to the key index instead of inserting all over it (a
            # cold build's 161k traces at 100k documents: 0.6 s instead of 1.0 s)
            c.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)",
                          sorted([(p, r.stat.mtime_ns, r.stat.size, r.stat.ino, r.digest) for p, r in files.items()]))
            c.executemany("INSERT OR REPLACE INTO traces VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          sorted([encode_trace(t) for t in traces.values()]))
            put_values(c, "outputs", outputs.items())
            self._written.wrote(outputs.items())
            self._written.removed(removed_nodes)
            put_values(c, "blobs", blobs.items())
            if run_id is not None:
                c.execute("INSERT OR REPLACE INTO meta VALUES ('last_run_id', ?)", (str(run_id),))
            c.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(meta.items()))
            if graph is not None:
                put_values(c, "blobs", [(graph_index.KEY, graph)])
            elif not keep_graph:
                c.execute("DELETE FROM blobs WHERE key = ?", (graph_index.KEY,))

        self._transaction(write)
        for n in removed_nodes:
            self._traces.pop(n)
        for p in removed_files:
            self._files.pop(p, None)
        self._files.update(files)
        for t in traces.values():
            self._traces.put(t)
        if run_id is not None:
            self._meta["last_run_id"] = str(run_id)
        self._meta.update(meta)
        self.reset_pending = False

    def put_blob(self, key: str, data: bytes) -> None:
        self._transaction(lambda c: put_values(c, "blobs", [(key, data)]))

    def append_run(self, record: Mapping[str, Any], keep: int = 50) -> int:
        """Store a JSON run record (its "run_id" if given, else the next id); keep the newest `keep`."""
        rec = dict(record)
        result: list[int] = []

        def write(c: sqlite3.Connection) -> None:
            run_id = rec.pop("run_id", None)
            if run_id is None:
                run_id = (c.execute("SELECT MAX(run_id) FROM runs").fetchone()[0] or 0) + 1
            c.execute("INSERT OR REPLACE INTO runs VALUES (?, ?)", (int(run_id), json.dumps(rec, sort_keys=True)))
            c.execute("DELETE FROM runs WHERE run_id NOT IN (SELECT run_id FROM runs ORDER BY run_id DESC LIMIT ?)",
                      (max(keep, 1),))
            result.append(int(run_id))

        self._transaction(write)
        return result[0]

    def next_run_id(self) -> int:
        """Id for the next build: above both last_run_id and every stored run record."""
        top = self._conn.execute("SELECT MAX(run_id) FROM runs").fetchone()[0] or 0
        return max(self.last_run_id, top) + 1

    def _transaction(self, fn: Any) -> None:
        if self.read_only:
            raise GraphCacheError(f"state in {self.state_dir} is open read-only")
        c = self._conn
        try:
            if self._staged:
                self._flush_staged()
            if not c.in_transaction:  # else: the build transaction opened by stage_output
                c.execute("BEGIN IMMEDIATE")
            try:
                fn(c)
                c.execute("COMMIT")
                self._written.committed()
                if self._on_disk:
                    _mark_committed(self.location)
            except BaseException:
                self.abort()
                raise
        except sqlite3.Error as e:
            raise _dir_error(self.state_dir, e) from e

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stamp(path: str) -> str:
    st = os.stat(path)
    return f"{st.st_size} {st.st_mtime_ns} {st.st_ino}"


def _unchanged_since_commit(path: str) -> bool:
    """True if the db file still has the stat our last commit left (recorded next to it): nothing else
    wrote it since, so the full `PRAGMA quick_check` (a scan of the whole file) can be skipped; the
    engine still checks every trace it decodes and every output it loads against its fingerprint."""
    try:
        return read_regular(path + CHECKED_SUFFIX).decode("ascii") == _stamp(path)
    except (OSError, ValueError):
        return False


def _mark_committed(path: str) -> None:
    try:
        stamp = _stamp(path)
        with os.fdopen(open_regular(path + CHECKED_SUFFIX, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w",
                       encoding="ascii") as f:
            f.write(stamp)
    except OSError:  # only an optimisation: the next open runs quick_check
        pass


def _is_corruption(e: sqlite3.Error) -> bool:
    code = getattr(e, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB
    msg = str(e)  # "Could not decode": damaged text in a row (Python's sqlite3, no SQLite error code)
    return "malformed" in msg or "not a database" in msg or "Could not decode" in msg


def _warning(state_dir: str, why: str) -> str:
    return f"discarded unusable build state in {state_dir} ({why}); rebuilding everything"


def _dir_error(state_dir: str, e: BaseException) -> StateDirError:
    detail = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
    return StateDirError(f"cannot write build state in {state_dir}: {detail}")

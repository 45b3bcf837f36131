"""Low-level SQLite helpers of the store: schema, connections, atomic creation, trace codec.

Trace blobs are `marshal` (format 4) of plain tuples: inputs = ((key, fp), ...), children =
((id, type, files, deps, params), ...) with params = ((name, value), ...), reason = (code, detail, old,
new) or NULL.
"""
from __future__ import annotations

import marshal
import os
import re
import sqlite3
import time
from typing import Any
from urllib.parse import quote

from .errors import StateDirError
from .model import NodeSpec, Reason, Trace

SCHEMA_VERSION = 1
DB_NAME = "state.db"
MAGIC = b"SQLite format 3\x00"
_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files(path TEXT PRIMARY KEY, mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL,
                   ino INTEGER NOT NULL, digest TEXT NOT NULL);
CREATE TABLE traces(node_id TEXT PRIMARY KEY, type TEXT NOT NULL, version TEXT NOT NULL,
                    inputs BLOB NOT NULL, output_fp TEXT NOT NULL, children BLOB NOT NULL,
                    decision TEXT NOT NULL, reason BLOB, built_at REAL NOT NULL, run_id INTEGER NOT NULL);
CREATE TABLE outputs(node_id TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE blobs(key TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE runs(run_id INTEGER PRIMARY KEY, record TEXT NOT NULL);
"""


# -- trace (de)serialisation --------------------------------------------------------------------------
INPUTS_MARSHAL_VERSION = 2  # no FLAG_REF (format >= 3): equal inputs always give equal bytes


def encode_inputs(inputs: tuple[tuple[str, str], ...]) -> bytes:
    """Canonical bytes of a sorted inputs tuple: a hit is proven by comparing them with the stored blob."""
    return marshal.dumps(inputs, INPUTS_MARSHAL_VERSION)


def encode_trace(t: Trace) -> tuple[Any, ...]:
    children = tuple((c.id, c.type, tuple(c.files), tuple(c.deps), tuple(c.params)) for c in t.children)
    reason = None if t.reason is None else marshal.dumps(
        (t.reason.code, t.reason.detail, t.reason.old, t.reason.new))
    return (t.node_id, t.type, t.version, encode_inputs(tuple(t.inputs)), t.output_fp,
            marshal.dumps(children), t.decision, reason, t.built_at, t.run_id)


def _spec(node_id: str, type_: str, files: Any, deps: Any, params: Any = ()) -> NodeSpec:
    return NodeSpec(str(node_id), str(type_), tuple(map(str, files)), tuple(map(str, deps)),
                    tuple((str(k), str(v)) for k, v in params))


def decode_trace(row: tuple[Any, ...]) -> Trace:
    node_id, type_, version, inputs, output_fp, children, decision, reason, built_at, run_id = row
    ins = tuple((str(k), str(v)) for k, v in marshal.loads(inputs))
    kids = tuple(_spec(*c) for c in marshal.loads(children))
    r = None if reason is None else Reason(*marshal.loads(reason))
    if not isinstance(output_fp, str) or not isinstance(version, str):
        raise TypeError("bad trace row")
    return Trace(node_id, type_, version, ins, output_fp, kids, decision, r, float(built_at), int(run_id))


# -- row reads (store.py: at open, or on demand under the build lock) -----------------------------------
CHECKED_SUFFIX = ".checked"  # `state.db.checked`: the db's stat after our last commit
_TRACE_COLUMNS = ("node_id, type, version, inputs, output_fp, children, decision, reason, built_at, run_id"
                  " FROM traces")


def file_rows(conn: sqlite3.Connection, path: str = "") -> dict[str, tuple]:
    with _BulkRead(path):
        return {p: (m, s, i, d) for p, m, s, i, d in conn.execute(
            "SELECT path, mtime_ns, size, ino, digest FROM files")}


def file_row(conn: sqlite3.Connection, path: str) -> tuple | None:
    """One file row (mtime_ns, size, ino, digest); a row SQLite cannot read comes back unequal to any
    real record (the file is hashed again and its readers recomputed)."""
    try:
        row = conn.execute("SELECT mtime_ns, size, ino, digest FROM files WHERE path = ?", (path,)).fetchone()
    except sqlite3.DatabaseError:
        return (None, None, None, None)
    return None if row is None else tuple(row)


def trace_rows(conn: sqlite3.Connection, path: str = "") -> dict[str, tuple]:
    """Every trace row, undecoded (trace_table.py): a hit is proven from the raw inputs blob."""
    with _BulkRead(path):
        return {row[0]: row for row in conn.execute("SELECT " + _TRACE_COLUMNS)}


class _BulkRead:
    """A bulk read deferred from the open (our own last commit, under our lock) that SQLite cannot do:
    the file was damaged behind our back; the next open checks and discards it (stamp removed)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> None:
        pass

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if isinstance(exc, sqlite3.DatabaseError) and self.path:
            path = self.path
            try:
                os.remove(path + CHECKED_SUFFIX)  # next open: quick_check, then discard
            except OSError:
                pass
            raise StateDirError(f"cannot read build state {path}: {exc}; run again to rebuild it") from exc


NO_CHILDREN = marshal.dumps(())  # the `children` blob of a trace without children (encode_trace)


def children_rows(conn: sqlite3.Connection, path: str = "") -> dict[str, bytes]:
    """{node id: children blob} of the traces that have children (the generators): one SELECT of two
    columns, 40 ms for 160k traces where reading every row takes 430 ms (trace_table.TraceView.children)."""
    with _BulkRead(path):
        return dict(conn.execute("SELECT node_id, children FROM traces WHERE children != ?", (NO_CHILDREN,)))


def trace_row(conn: sqlite3.Connection, node_id: str) -> tuple | None:
    """One trace row; a row SQLite cannot read comes back undecodable (the node is recomputed)."""
    try:
        return conn.execute(f"SELECT {_TRACE_COLUMNS} WHERE node_id = ?", (node_id,)).fetchone()
    except sqlite3.DatabaseError:
        return (node_id,) + (None,) * 9


def trace_rows_of(conn: sqlite3.Connection, node_ids: list[str]) -> dict[str, tuple]:
    """The trace rows of some nodes, 500 per SELECT (absent ones are missing from the result); a chunk
    SQLite cannot read falls back to one `trace_row` per node."""
    out: dict[str, tuple] = {}
    for i in range(0, len(node_ids), 500):
        chunk = node_ids[i:i + 500]
        try:
            sql = f"SELECT {_TRACE_COLUMNS} WHERE node_id IN ({','.join('?' * len(chunk))})"
            out.update((row[0], row) for row in conn.execute(sql, chunk))
        except sqlite3.DatabaseError:
            for node_id in chunk:
                row = trace_row(conn, node_id)
                if row is not None:
                    out[node_id] = row
    return out


def connect(path: str, read_only: bool, timeout: float = 30) -> sqlite3.Connection:
    """A connection to the state file: read-only ones create nothing; `timeout`: seconds to wait for
    another process's lock."""
    if read_only:
        conn = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=timeout, isolation_level=None,
                               check_same_thread=False)
    else:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA synchronous=FULL")
    return conn


def init_schema(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN")
    for stmt in _SCHEMA.split(";"):
        if stmt.strip():
            conn.execute(stmt)
    conn.execute("INSERT INTO meta VALUES ('schema', ?), ('created_at', ?), ('last_run_id', '0')",
                 (str(SCHEMA_VERSION), repr(time.time())))
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    conn.execute("COMMIT")


# Temp files of graph_cache's atomic writers: `create_atomically` (state.db.<pid>.new[-journal]) and
# `fs.write_atomic` (.<name>.<pid>.tmp, e.g. the manifest). A writer SIGKILLed mid-write leaves one.
_TEMP_RE = re.compile(r"^(?:state\.db\.(\d+)\.new(?:-journal)?|\..+\.(\d+)\.tmp)$")


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError, ValueError):  # EPERM: exists, owned by someone else; absurd PID
        return True
    return True


def sweep_stale_temp_files(state_dir: str) -> list[str]:
    """Remove temp files that dead writers (killed mid-write) left in `state_dir`; return their names.

    Only names of graph_cache's own atomic writers whose PID no longer runs are touched, so a live
    writer's temp file is never removed. Call it holding the exclusive state lock. Best effort.
    """
    removed = []
    try:
        names = os.listdir(state_dir)
    except OSError:
        return removed
    for name in names:
        m = _TEMP_RE.match(name)
        if m is None or pid_alive(int(m.group(1) or m.group(2))):
            continue
        try:
            os.remove(os.path.join(state_dir, name))
            removed.append(name)
        except OSError:
            pass
    return removed


def create_atomically(path: str, state_dir: str) -> None:
    """Create an initialised db next to `path` and move it over `path` (and its stale journal)."""
    tmp = f"{path}.{os.getpid()}.new"
    try:
        for leftover in (tmp, tmp + "-journal"):
            if os.path.exists(leftover):
                os.remove(leftover)
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=DELETE")
            init_schema(conn)
        finally:
            conn.close()
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        if os.path.exists(path + "-journal"):  # a journal of the discarded file must not touch the new one
            os.remove(path + "-journal")
        os.replace(tmp, path)
        dfd = os.open(state_dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise

"""Key -> bytes rows of `state.db` (`outputs`, `blobs`), large values written and read in pieces.

Binding a value to an INSERT makes SQLite copy it (the bound parameter, then the record it assembles),
and a SELECT assembles the whole value before Python copies it into `bytes`: a 60 MB output (the answers
of a 100k-document workspace) used to cost three times its size at the commit and twice when read back.
With incremental blob I/O (`Connection.blobopen`, Python >= 3.11) a value of `LARGE_VALUE` bytes or more
is inserted as a zeroblob and filled piece by piece, and read straight into one `bytes` object. Older
Pythons keep the plain statements; the stored rows are the same either way. `WrittenValues` keeps the
large values a store wrote, so that reading one back right after the commit costs no read at all.
"""
from __future__ import annotations

import sqlite3
from typing import Iterable

LARGE_VALUE = 1 << 20  # bytes; also the size of each piece written
PIECES = hasattr(sqlite3.Connection, "blobopen")
_KEYS = {"outputs": "node_id", "blobs": "key"}  # table -> key column (the value column is `data`)


def put_values(conn: sqlite3.Connection, table: str, rows: Iterable[tuple[str, bytes]]) -> None:
    """INSERT OR REPLACE every (key, value) row of `table` (inside the caller's transaction)."""
    rows = list(rows)
    large = [row for row in rows if len(row[1]) >= LARGE_VALUE] if PIECES else []
    insert = f"INSERT OR REPLACE INTO {table} VALUES (?, ?)"
    conn.executemany(insert, [row for row in rows if len(row[1]) < LARGE_VALUE] if large else rows)
    for key, data in large:
        rowid = conn.execute(f"INSERT OR REPLACE INTO {table} VALUES (?, zeroblob(?))", (key, len(data))).lastrowid
        view = memoryview(data)
        with conn.blobopen(table, "data", rowid) as blob:
            for start in range(0, len(view), LARGE_VALUE):
                blob.write(view[start:start + LARGE_VALUE])


def get_value(conn: sqlite3.Connection, table: str, key: str) -> bytes | None:
    """The value stored under `key`, or None if there is none (sqlite3 errors propagate)."""
    column = _KEYS[table]
    if not PIECES:
        row = conn.execute(f"SELECT data FROM {table} WHERE {column} = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])
    # length() of a blob reads no content; the CASE reads the value only when it is small
    row = conn.execute(f"SELECT rowid, CASE WHEN length(data) < {LARGE_VALUE} THEN data END FROM {table} "
                       f"WHERE {column} = ?", (key,)).fetchone()
    if row is None:
        return None
    if row[1] is not None:
        return bytes(row[1])
    with conn.blobopen(table, "data", row[0], readonly=True) as blob:
        return blob.read()


def get_prefix(conn: sqlite3.Connection, table: str, key: str, size: int) -> bytes | None:
    """The first `size` bytes of the value under `key` (None if there is none), without reading the rest
    by incremental blob I/O; older Pythons take `substr` (SQLite reads the value, Python gets the bytes
    asked for)."""
    if not PIECES:
        row = conn.execute(f"SELECT substr(data, 1, ?) FROM {table} WHERE {_KEYS[table]} = ?", (size, key)).fetchone()
        return None if row is None else bytes(row[0] or b"")
    row = conn.execute(f"SELECT rowid FROM {table} WHERE {_KEYS[table]} = ?", (key,)).fetchone()
    if row is None:
        return None
    with conn.blobopen(table, "data", row[0], readonly=True) as blob:
        return blob.read(size)


def get_many(conn: sqlite3.Connection, table: str, keys: list[str]) -> dict[str, bytes]:
    """The values under `keys` that exist and are smaller than LARGE_VALUE, 500 keys per SELECT (one
    point SELECT each costs ~70 µs, more when the pages are not cached); large ones are left to
    `get_value` (sqlite3 errors propagate)."""
    column = _KEYS[table]
    out: dict[str, bytes] = {}
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        sql = (f"SELECT {column}, data FROM {table} WHERE {column} IN ({','.join('?' * len(chunk))}) "
               f"AND length(data) < {LARGE_VALUE}")
        out.update((key, bytes(data)) for key, data in conn.execute(sql, chunk))
    return out


class WrittenValues:
    """The large values (`LARGE_VALUE` bytes or more) a connection wrote, kept in memory: reading one back
    right after the write (the answers of a 100k-document workspace, 60 MB, which the application reads
    once the build committed them) costs no SELECT. Values written in the open transaction are pending
    until `committed` (a rollback forgets them); a smaller value or a removal under the same key drops the
    kept one. At most `cap` bytes are kept; `get` answers None for anything else."""

    def __init__(self, cap: int = 256 << 20) -> None:
        self.cap = cap
        self._kept: dict[str, bytes] = {}
        self._pending: dict[str, bytes | None] = {}  # None: nothing to keep, forget the kept value
        self._size = 0

    def wrote(self, rows: Iterable[tuple[str, bytes]]) -> None:
        kept, pending = self._kept, self._pending
        for key, data in rows:
            if len(data) >= LARGE_VALUE:
                pending[key] = data
            elif key in kept or key in pending:
                pending[key] = None

    def removed(self, keys: Iterable[str]) -> None:
        for key in keys:
            if key in self._kept or key in self._pending:
                self._pending[key] = None

    def committed(self) -> None:
        for key, data in self._pending.items():
            old = self._kept.pop(key, None)
            if old is not None:
                self._size -= len(old)
            if data is not None and self._size + len(data) <= self.cap:
                self._kept[key] = data
                self._size += len(data)
        self._pending.clear()

    def rolled_back(self) -> None:
        self._pending.clear()

    def get(self, key: str) -> bytes | None:
        if key in self._pending:
            return self._pending[key]
        return self._kept.get(key)

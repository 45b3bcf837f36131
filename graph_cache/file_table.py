"""Stored file records, kept as raw rows: a `FileRecord` is built only when a record is asked for.

A change-driven build compares the stat of every file of the graph with its stored one (`raw`), but
needs the record itself only for the few files whose stat moved; building 10k records up front cost
more than reading the rows. Rows come all at once, on first use (`fetch_all`: one bulk SELECT), unless
the table can read one row at a time (`fetch_one`): then `raw`/`get` of a few paths (a build told which
files changed, `FileChanges`) read only those rows, and the table switches to the bulk read once
`POINT_READS` single rows were asked for.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping

from .fingerprint import FileRecord
from .fs import StatSig

Row = tuple  # (mtime_ns, size, ino, digest) as stored
POINT_READS = 512  # single-row reads before a table reads all its rows at once
_NONE = ()  # cached "no such row" (a real row never has zero fields)


class FileTable(Mapping[str, FileRecord]):
    """path -> FileRecord of the last build; `raw(path)` gives the stored row (or None)."""

    __slots__ = ("_rows", "_fetch_all", "_fetch_one", "_some", "_records")

    def __init__(self, rows: dict[str, Row] | None = None, *,
                 fetch_all: Callable[[], dict[str, Row]] | None = None,
                 fetch_one: Callable[[str], Row | None] | None = None) -> None:
        self._rows: dict[str, Row] = rows if rows is not None else {}
        self._fetch_all = fetch_all  # None: every row is in `_rows`
        self._fetch_one = fetch_one if fetch_all is not None else None
        self._some: dict[str, Row] = {}  # rows read one by one before the bulk read (_NONE: absent)
        self._records: dict[str, FileRecord] = {}  # built so far

    def rows(self) -> dict[str, Row]:
        """Every stored row, path -> (mtime_ns, size, ino, digest); the caller must not modify it."""
        if self._fetch_all is not None:
            self._rows, self._fetch_all, self._fetch_one, self._some = self._fetch_all(), None, None, {}
        return self._rows

    def raw(self, path: str) -> Row | None:
        if self._fetch_one is None:
            return self.rows().get(path)
        got = self._some.get(path)
        if got is None:
            if len(self._some) >= POINT_READS:
                return self.rows().get(path)
            got = self._some[path] = self._fetch_one(path) or _NONE
        return got or None

    def __getitem__(self, path: str) -> FileRecord:
        got = self._records.get(path)
        if got is None:
            row = self.raw(path)
            if row is None:
                raise KeyError(path)
            m, s, i, d = row
            # A garbled row (wrong types) compares unequal to every real stat and digest: the file is
            # hashed again and its readers recomputed, as for any change.
            got = self._records[path] = FileRecord(StatSig(m, s, i), d)
        return got

    def get(self, path: str, default: Any = None) -> Any:
        got = self._records.get(path)
        if got is None:
            if self.raw(path) is None:
                return default
            got = self[path]
        return got

    def __contains__(self, path: object) -> bool:
        return path in self.rows()

    def __iter__(self) -> Iterator[str]:
        return iter(self.rows())

    def __len__(self) -> int:
        return len(self.rows())

    def update(self, records: Mapping[str, FileRecord]) -> None:
        """Apply a commit. A table not loaded yet reads the committed rows when it is first used."""
        if self._fetch_all is not None:
            for p in records:
                self._some.pop(p, None)
                self._records.pop(p, None)
            return
        rows = self._rows
        for p, r in records.items():
            rows[p] = (r.stat.mtime_ns, r.stat.size, r.stat.ino, r.digest)
            self._records.pop(p, None)

    def pop(self, path: str, default: Any = None) -> Any:
        self._records.pop(path, None)
        if self._fetch_all is not None:
            self._some.pop(path, None)
            return default
        return self._rows.pop(path, default)

    def copy(self) -> FileTable:
        """An independent table (shares the loader while nothing is loaded yet)."""
        if self._fetch_all is not None:
            return FileTable(fetch_all=self._fetch_all, fetch_one=self._fetch_one)
        return FileTable(dict(self._rows))

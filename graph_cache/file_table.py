"""Stored file records, kept as raw rows: a `FileRecord` is built only when a record is asked for.

A change-driven build compares the stat of every file of the graph with its stored one (`raw`), but
needs the record itself only for the few files whose stat moved; building 10k records up front cost
more than reading the rows. Rows come all at once, on first use (`fetch_all`: one bulk SELECT).
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping

from .fingerprint import FileRecord
from .fs import StatSig

Row = tuple  # (mtime_ns, size, ino, digest) as stored


class FileTable(Mapping[str, FileRecord]):
    """path -> FileRecord of the last build; `raw(path)` gives the stored row (or None)."""

    __slots__ = ("_rows", "_fetch_all", "_records")

    def __init__(self, rows: dict[str, Row] | None = None, *,
                 fetch_all: Callable[[], dict[str, Row]] | None = None) -> None:
        self._rows: dict[str, Row] = rows if rows is not None else {}
        self._fetch_all = fetch_all  # None: every row is in `_rows`
        self._records: dict[str, FileRecord] = {}  # built so far

    def rows(self) -> dict[str, Row]:
        """Every stored row, path -> (mtime_ns, size, ino, digest); the caller must not modify it."""
        if self._fetch_all is not None:
            self._rows, self._fetch_all = self._fetch_all(), None
        return self._rows

    def raw(self, path: str) -> Row | None:
        return self.rows().get(path)

    def __getitem__(self, path: str) -> FileRecord:
        got = self._records.get(path)
        if got is None:
            m, s, i, d = self.rows()[path]
            # A garbled row (wrong types) compares unequal to every real stat and digest: the file is
            # hashed again and its readers recomputed, as for any change.
            got = self._records[path] = FileRecord(StatSig(m, s, i), d)
        return got

    def get(self, path: str, default: Any = None) -> Any:
        got = self._records.get(path)
        if got is None:
            if path not in self.rows():
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
            return
        rows = self._rows
        for p, r in records.items():
            rows[p] = (r.stat.mtime_ns, r.stat.size, r.stat.ino, r.digest)
            self._records.pop(p, None)

    def pop(self, path: str, default: Any = None) -> Any:
        self._records.pop(path, None)
        return default if self._fetch_all is not None else self._rows.pop(path, default)

    def copy(self) -> FileTable:
        """An independent table (shares the loader while nothing is loaded yet)."""
        if self._fetch_all is not None:
            return FileTable(fetch_all=self._fetch_all)
        return FileTable(dict(self._rows))

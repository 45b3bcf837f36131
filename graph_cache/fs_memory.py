"""In-memory `FileSystem` with a controllable clock and failure injection, for tests.

`write` sets mtime from the clock (a new inode on create, the same inode on overwrite, like an in-place
write), `touch` changes only the mtime, `rename` keeps inode and mtime, `delete` removes. Reads are
counted per path in `reads` so tests can check the stat shortcut. `fail_reads`/`fail_stats` make
`read_bytes`/`stat` raise PermissionError for the given paths.
"""
from __future__ import annotations

import errno
import posixpath

from .fs import DirEntryInfo, StatSig


class FakeClock:
    """Nanosecond wall clock that only moves when told to."""

    def __init__(self, start_ns: int = 1_700_000_000 * 10**9) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def advance(self, seconds: float = 1.0) -> int:
        self._now += int(seconds * 1_000_000_000)
        return self._now


def _norm(path: str) -> str:
    p = posixpath.normpath(path)
    return "" if p == "." else p


class _Node:
    __slots__ = ("data", "mtime_ns", "ino", "is_dir")

    def __init__(self, data: bytes | None, mtime_ns: int, ino: int) -> None:
        self.data, self.mtime_ns, self.ino, self.is_dir = data, mtime_ns, ino, data is None


class MemoryFileSystem:
    """A dict of path -> file; directories are implicit parents or created by `makedirs`."""

    racy_window_ns = 0  # the fake clock is exact: racy iff mtime >= now

    def __init__(self, clock: FakeClock | None = None, *, fail_reads: set[str] | None = None,
                 fail_stats: set[str] | None = None) -> None:
        self.clock = clock or FakeClock()
        self.fail_reads: set[str] = set(fail_reads or ())
        self.fail_stats: set[str] = set(fail_stats or ())
        self.reads: dict[str, int] = {}
        self._nodes: dict[str, _Node] = {"": _Node(None, self.clock.now_ns(), 1)}
        self._next_ino = 2

    # -- test helpers -------------------------------------------------------------------------------
    def _ino(self) -> int:
        self._next_ino += 1
        return self._next_ino

    def _ensure_parents(self, path: str) -> None:
        parent = posixpath.dirname(path)
        while parent and parent not in self._nodes:
            self._nodes[parent] = _Node(None, self.clock.now_ns(), self._ino())
            parent = posixpath.dirname(parent)
        if parent in self._nodes and self._nodes[parent].is_dir is False:
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", parent)

    def write(self, path: str, data: bytes | str) -> None:
        p = _norm(path)
        raw = data.encode() if isinstance(data, str) else bytes(data)
        node = self._nodes.get(p)
        if node is not None and node.is_dir:
            raise IsADirectoryError(errno.EISDIR, "is a directory", path)
        self._ensure_parents(p)
        if node is None:
            self._nodes[p] = _Node(raw, self.clock.now_ns(), self._ino())
        else:
            node.data, node.mtime_ns = raw, self.clock.now_ns()

    def touch(self, path: str) -> None:
        p = _norm(path)
        if p in self._nodes:
            self._nodes[p].mtime_ns = self.clock.now_ns()
        else:
            self.write(p, b"")

    def rename(self, src: str, dst: str) -> None:
        s, d = _norm(src), _norm(dst)
        if s not in self._nodes:
            raise FileNotFoundError(errno.ENOENT, "no such file", src)
        self._ensure_parents(d)
        moved = {k: v for k, v in self._nodes.items() if k == s or k.startswith(s + "/")}
        for k, v in moved.items():
            del self._nodes[k]
            self._nodes[d + k[len(s):]] = v

    def delete(self, path: str) -> None:
        p = _norm(path)
        if p not in self._nodes:
            raise FileNotFoundError(errno.ENOENT, "no such file", path)
        for k in [k for k in self._nodes if k == p or k.startswith(p + "/")]:
            del self._nodes[k]

    def read_count(self) -> int:
        return sum(self.reads.values())

    # -- FileSystem protocol ------------------------------------------------------------------------
    def now_ns(self) -> int:
        return self.clock.now_ns()

    def stat(self, path: str) -> StatSig | None:
        p = _norm(path)
        if p in self.fail_stats:
            raise PermissionError(errno.EACCES, "injected stat failure", path)
        node = self._nodes.get(p)
        if node is None:
            return None
        return StatSig(node.mtime_ns, 0 if node.data is None else len(node.data), node.ino)

    def read_bytes(self, path: str) -> bytes:
        p = _norm(path)
        if p in self.fail_reads:
            raise PermissionError(errno.EACCES, "injected read failure", path)
        node = self._nodes.get(p)
        if node is None:
            raise FileNotFoundError(errno.ENOENT, "no such file", path)
        if node.data is None:
            raise IsADirectoryError(errno.EISDIR, "is a directory", path)
        self.reads[p] = self.reads.get(p, 0) + 1
        return node.data

    def write_bytes_atomic(self, path: str, data: bytes) -> None:
        self.write(path, data)

    def remove(self, path: str) -> None:
        if _norm(path) in self._nodes:
            self.delete(path)

    def exists(self, path: str) -> bool:
        return _norm(path) in self._nodes

    def listdir(self, path: str) -> list[DirEntryInfo]:
        p = _norm(path)
        node = self._nodes.get(p)
        if node is None:
            raise FileNotFoundError(errno.ENOENT, "no such directory", path)
        if not node.is_dir:
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", path)
        prefix = p + "/" if p else ""
        out = []
        for k, v in self._nodes.items():
            if k and k.startswith(prefix) and "/" not in k[len(prefix):]:
                out.append(DirEntryInfo(k[len(prefix):], v.is_dir, not v.is_dir, False))
        out.sort(key=lambda e: e.name)
        return out

    def realpath(self, path: str) -> str:
        return _norm(path)

    def makedirs(self, path: str) -> None:
        p = _norm(path)
        if p in self._nodes:
            if not self._nodes[p].is_dir:
                raise FileExistsError(errno.EEXIST, "file exists", path)
            return
        self._ensure_parents(p)
        self._nodes[p] = _Node(None, self.clock.now_ns(), self._ino())

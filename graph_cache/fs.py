"""Filesystem abstraction: the engine only touches files through a `FileSystem`.

Paths are strings. `RealFileSystem(root)` maps root-relative POSIX paths onto `root` (absolute paths are
used as is, e.g. for the state directory). `MemoryFileSystem` (fs_memory.py) is the in-memory fake.
Both expose `now_ns()` and `racy_window_ns`, used to detect "racily clean" files (see fingerprint.py).
"""
from __future__ import annotations

import os
import time
from typing import NamedTuple, Protocol, Sequence


class StatSig(NamedTuple):
    """The part of a stat result that the stat shortcut compares."""

    mtime_ns: int
    size: int
    ino: int


class DirEntryInfo(NamedTuple):
    name: str
    is_dir: bool  # follows symlinks, like os.DirEntry.is_dir()
    is_file: bool  # follows symlinks
    is_symlink: bool


class FileSystem(Protocol):
    racy_window_ns: int  # files modified less than this long before now_ns() are re-hashed next time

    def now_ns(self) -> int: ...

    def stat(self, path: str) -> StatSig | None: ...  # None if missing; other errors raise OSError

    def read_bytes(self, path: str) -> bytes: ...  # raises OSError

    def write_bytes_atomic(self, path: str, data: bytes) -> None: ...

    def remove(self, path: str) -> None: ...  # missing is not an error

    def exists(self, path: str) -> bool: ...

    def listdir(self, path: str) -> list[DirEntryInfo]: ...  # sorted by name

    def realpath(self, path: str) -> str: ...

    def makedirs(self, path: str) -> None: ...


_MISSING = (FileNotFoundError, NotADirectoryError)


class RealFileSystem:
    """The disk, rooted at `root`."""

    racy_window_ns = 3_000_000_000  # covers coarse kernel ticks and 1-2 s mtime granularity

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.abspath(os.fspath(root))

    def abspath(self, path: str) -> str:
        return path if os.path.isabs(path) else os.path.join(self.root, path)

    def now_ns(self) -> int:
        return time.time_ns()

    def stat(self, path: str) -> StatSig | None:
        try:
            st = os.stat(self.abspath(path))
        except _MISSING:
            return None
        return StatSig(st.st_mtime_ns, st.st_size, st.st_ino)

    def read_bytes(self, path: str) -> bytes:
        with open(self.abspath(path), "rb") as f:
            return f.read()

    def write_bytes_atomic(self, path: str, data: bytes) -> None:
        write_atomic(self.abspath(path), data)

    def remove(self, path: str) -> None:
        try:
            os.remove(self.abspath(path))
        except FileNotFoundError:
            pass

    def exists(self, path: str) -> bool:
        return os.path.exists(self.abspath(path))

    def listdir(self, path: str) -> list[DirEntryInfo]:
        out = []
        with os.scandir(self.abspath(path)) as it:
            for e in it:
                out.append(DirEntryInfo(e.name, e.is_dir(), e.is_file(), e.is_symlink()))
        out.sort(key=lambda e: e.name)
        return out

    def realpath(self, path: str) -> str:
        """Absolute path with symlinks resolved."""
        return os.path.realpath(self.abspath(path))

    def makedirs(self, path: str) -> None:
        os.makedirs(self.abspath(path), exist_ok=True)


def write_atomic(abs_path: str, data: bytes | Sequence[bytes], *, durable: bool = True) -> None:
    """Write `data` (bytes, or chunks written one after the other) via a temp file `.<name>.<pid>.tmp`
    in the same directory + os.replace; `durable` adds an fsync of the file and of the directory
    (survives a power loss, not only a kill)."""
    d = os.path.dirname(abs_path) or "."
    tmp = os.path.join(d, f".{os.path.basename(abs_path)}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        try:
            for chunk in (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, abs_path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    if not durable:
        return
    try:
        dfd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)

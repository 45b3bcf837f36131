"""The state lock: `fcntl.flock` on `<state_dir>/state.lock`, so one writer builds at a time.

flock is a kernel lock tied to the open file: it is released when the holder exits or is SIGKILLed, so a
stale lock file never blocks anyone. The exclusive holder writes "<pid> <hostname> <start-iso>\\n" into the
file after acquiring (and truncates it on release); a waiter reads it to name the holder. Shared mode
(readers such as dry runs) never creates or writes the file, so it leaves the state dir untouched.
"""
from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Callable  # not typing: the no-op path imports this module (history trim)

LOCK_NAME = "state.lock"


class StateLock:
    """Context manager. timeout: None = wait forever, 0 = fail at once, else seconds."""

    def __init__(self, state_dir: str | os.PathLike[str], timeout: float | None = None,
                 on_wait: Callable[[str], None] | None = None, *, shared: bool = False,
                 poll_interval: float = 0.05) -> None:
        self.state_dir = os.fspath(state_dir)
        self.path = os.path.join(self.state_dir, LOCK_NAME)
        self.timeout = timeout
        self.on_wait = on_wait
        self.shared = shared
        self.poll_interval = poll_interval
        self._fd: int | None = None

    def holder(self) -> tuple[int | None, str]:
        """(pid, description) of the current holder as written in the lock file (best effort)."""
        try:
            with open(self.path, "rb") as f:
                text = f.read(512).decode("utf-8", "replace").strip()
        except OSError:
            return None, "unknown holder"
        parts = text.split()
        if not parts or not (parts[0].isascii() and parts[0].isdigit()):  # int() refuses "²"
            return None, "unknown holder"
        pid = int(parts[0])
        desc = f"PID {pid}"
        if len(parts) > 1:
            desc += f" on {parts[1]}"
        if len(parts) > 2:
            desc += f" since {parts[2]}"
        return pid, desc

    def _open(self) -> int | None:
        try:
            if self.shared:
                try:
                    return os.open(self.path, os.O_RDONLY)
                except FileNotFoundError:
                    return None  # nobody ever took the lock: nothing to share
            os.makedirs(self.state_dir, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            from .errors import StateDirError  # errors only: the no-op path's history trim stays light

            raise StateDirError(f"cannot open lock file {self.path}: {e.strerror or e}") from e

    def _flock(self, fd: int) -> bool:
        """One non-blocking attempt: True if taken, False if busy (closes fd on a real error)."""
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            return True
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return False
            os.close(fd)
            from .errors import StateDirError

            raise StateDirError(f"cannot lock {self.path}: {e.strerror or e}") from e

    def try_acquire(self) -> bool:
        """Take the lock only if it is free right now (no wait, no holder lookup); False if busy."""
        fd = self._open()
        if fd is None:
            return True
        if not self._flock(fd):
            os.close(fd)
            return False
        self._hold(fd)
        return True

    def acquire(self) -> None:
        fd = self._open()
        if fd is None:
            return
        start = time.monotonic()
        waited = False
        while not self._flock(fd):
            pid, desc = self._holder_retrying()
            elapsed = time.monotonic() - start
            if self.timeout is not None and elapsed >= self.timeout:
                os.close(fd)
                from .errors import LockTimeout

                raise LockTimeout(f"timed out after {self.timeout:g}s waiting for lock {self.path} held by {desc}",
                                  self.path, pid)
            if not waited:
                waited = True
                if self.on_wait is not None:
                    self.on_wait(f"waiting for lock {self.path} held by {desc}")
            delay = self.poll_interval
            if self.timeout is not None:
                delay = min(delay, max(self.timeout - elapsed, 0.0))
            time.sleep(delay)
        self._hold(fd)

    def _hold(self, fd: int) -> None:
        self._fd = fd
        if not self.shared:
            info = f"{os.getpid()} {os.uname().nodename} {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n".encode()
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, info, 0)
            except OSError:
                pass  # the PID is informative only; the flock is what matters

    def _holder_retrying(self) -> tuple[int | None, str]:
        """The holder writes its PID just after locking: retry briefly if the file is still empty."""
        for _ in range(5):
            pid, desc = self.holder()
            if pid is not None:
                return pid, desc
            time.sleep(0.01)
        return None, "an unknown process"

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if not self.shared:
                try:
                    os.ftruncate(fd, 0)
                except OSError:
                    pass
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

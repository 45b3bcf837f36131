"""Opening state and configuration files that must be regular files. Only `os` and `stat` are imported
(the no-op path reads the configuration through it).

A FIFO named like such a file would block `open()` forever (no writer); a device or a folder is never
what the caller wants. `open_regular` opens without blocking and refuses anything but a regular file.
"""
from __future__ import annotations

import errno
import os
import stat


def open_regular(path: str, flags: int = os.O_RDONLY, mode: int = 0o644) -> int:
    """`os.open` that never blocks on a FIFO (O_NONBLOCK) and refuses anything but a regular file
    (OSError ENXIO/EINVAL): state and configuration files are never pipes or devices. The descriptor
    is put back in blocking mode."""
    fd = os.open(path, flags | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0), mode)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: str, limit: int = -1) -> bytes:
    """The bytes of a regular file (at most `limit` if given); OSError for a FIFO, device or folder."""
    with os.fdopen(open_regular(path), "rb") as f:
        return f.read(limit)

"""Content fingerprints of files, with the stat shortcut and racy-clean protection.

A file's fingerprint is the xxh3_128 hex digest of its bytes; a missing file is "absent"; a file that
exists but cannot be read is "unreadable:<errno>:<mtime_ns>:<size>". The stat shortcut reuses the previous
digest when (mtime_ns, size, ino) is unchanged, without reading. A file whose stat changed but whose bytes
did not keeps the same digest, so a touch or a fresh clone recomputes nothing.

Racily clean files (modified within `fs.racy_window_ns` of the moment they were hashed) and unreadable
files are recorded with `mtime_ns = RECHECK` (-1): such a record never matches a real stat, so the next
check re-hashes the file instead of trusting a stat that a same-tick rewrite could leave unchanged.
"""
from __future__ import annotations

from typing import NamedTuple

import xxhash

from .fs import FileSystem, StatSig

ABSENT = "absent"
RECHECK = -1  # mtime_ns of records that must be re-hashed at the next check


def hash_bytes(data: bytes) -> str:
    """xxh3_128 hex digest (32 hex chars)."""
    return xxhash.xxh3_128_hexdigest(data)


class FileRecord(NamedTuple):
    """What we know of a file: its stat signature when hashed, and its content digest."""

    stat: StatSig
    digest: str


def digest_of(record: FileRecord | None) -> str:
    """Fingerprint of a file given its record (None = missing)."""
    return ABSENT if record is None else record.digest


def fingerprint_file(fs: FileSystem, path: str, previous: FileRecord | None, stat: StatSig | None = None,
                     *, content: dict[str, bytes] | None = None) -> tuple[FileRecord | None, bool]:
    """Return (record, hashed): record is None iff the file is missing; hashed is True iff it was read.

    `stat` may be passed by a caller that already has it (None: stat now). When `content` is a dict, the
    bytes read are stored there so the compute step sees exactly the bytes that were fingerprinted.
    """
    if stat is None:
        try:
            stat = fs.stat(path)
        except OSError as e:
            return FileRecord(StatSig(RECHECK, 0, 0), f"unreadable:{e.errno}:0:0"), False
        if stat is None:
            return None, False
    elif type(stat) is not StatSig:
        stat = StatSig(*stat)  # callers may pass plain (mtime_ns, size, ino) tuples
    if previous is not None and previous.stat == stat:
        return previous, False
    try:
        data = fs.read_bytes(path)
    except FileNotFoundError:
        return None, False
    except OSError as e:
        return FileRecord(StatSig(RECHECK, stat.size, stat.ino), f"unreadable:{e.errno}:{stat.mtime_ns}:{stat.size}"), False
    if content is not None:
        content[path] = data
    if stat.mtime_ns >= fs.now_ns() - fs.racy_window_ns:
        stat = StatSig(RECHECK, stat.size, stat.ino)
    return FileRecord(stat, hash_bytes(data)), True

"""No-op fast path: `manifest.bin`, checked with stats only, before anything heavy is imported.

Imports only `marshal` and `os` (both preloaded by the interpreter); xxhash is imported lazily, only when
a file's stat changed and it must be re-hashed. The file is marshal of
    (MAGIC, MANIFEST_SCHEMA, global_key, files, payload, counts_by_type)
with files = {path: (mtime_ns, size, ino, digest)}, payload = opaque bytes (the app's last report) and
counts_by_type = {node type: node count}. A record with mtime_ns == -1 is "racily clean" (see
fingerprint.py) and is always re-hashed.
"""
import marshal
import os

MAGIC = "graph_cache.manifest"
MANIFEST_SCHEMA = 1


class QuickResult:
    """unchanged: nothing to rebuild; touched: path -> FileRecord for files whose stat changed but
    whose content did not (refresh them in the manifest); changed: paths added, removed or modified."""

    __slots__ = ("unchanged", "touched", "changed")

    def __init__(self, unchanged: bool, touched: dict, changed: set) -> None:
        self.unchanged, self.touched, self.changed = unchanged, touched, changed

    def __iter__(self):  # allow `unchanged, touched, changed = quick_check(...)`
        return iter((self.unchanged, self.touched, self.changed))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, QuickResult) and tuple(self) == tuple(other)

    def __repr__(self) -> str:
        return f"QuickResult(unchanged={self.unchanged!r}, touched={self.touched!r}, changed={self.changed!r})"


class Manifest:
    __slots__ = ("global_key", "files", "payload", "counts_by_type")

    def __init__(self, global_key: str, files: dict | None = None, payload: bytes = b"",
                 counts_by_type: dict | None = None) -> None:
        self.global_key = global_key
        self.files = files if files is not None else {}  # path -> (mtime_ns, size, ino, digest)
        self.payload = payload
        self.counts_by_type = counts_by_type if counts_by_type is not None else {}

    @classmethod
    def from_records(cls, global_key: str, records: dict, payload: bytes = b"",
                     counts_by_type: dict | None = None) -> "Manifest":
        """Build from {path: FileRecord} (e.g. BuildResult.files)."""
        files = {p: (r[0][0], r[0][1], r[0][2], r[1]) for p, r in records.items()}
        return cls(global_key, files, payload, counts_by_type)

    @classmethod
    def load(cls, path: str) -> "Manifest | None":
        """The manifest at `path`, or None if missing, unreadable, foreign or malformed."""
        try:
            with open(path, "rb") as f:
                data = marshal.loads(f.read())
            magic, schema, key, files, payload, counts = data
            if magic != MAGIC or schema != MANIFEST_SCHEMA or not isinstance(key, str):
                return None
            if not isinstance(files, dict) or not isinstance(payload, bytes) or not isinstance(counts, dict):
                return None
            for entry in files.values():
                if type(entry) is not tuple or len(entry) != 4:
                    return None
            return cls(key, files, payload, counts)
        except Exception:
            return None

    def dumps(self) -> bytes:
        return marshal.dumps((MAGIC, MANIFEST_SCHEMA, self.global_key, self.files, self.payload,
                              self.counts_by_type), 4)

    def save(self, path: str) -> None:
        """Atomic write: temp file in the same directory, fsync, os.replace."""
        from .fs import write_atomic

        write_atomic(path, self.dumps())


def stat_tuple(abs_path: str) -> tuple | None:
    """(mtime_ns, size, ino) of a file, or None if missing."""
    try:
        st = os.stat(abs_path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def quick_check(fs, manifest: "Manifest | None", current: dict, global_key: str, *,
                stop_early: bool = False) -> QuickResult:
    """Compare current stats {path: (mtime_ns, size, ino)} with the manifest.

    Unchanged iff same global key, same path set, and every file has an equal stat or, when its stat
    changed, an equal xxh3 digest (then it is reported in `touched`). With stop_early the check returns
    at the first real change (changed then holds just that path, or the path-set difference).
    """
    if manifest is None or manifest.global_key != global_key:
        return QuickResult(False, {}, set(current))
    files = manifest.files
    if files.keys() != current.keys():
        return QuickResult(False, {}, set(files.keys() ^ current.keys()))
    touched: dict = {}
    changed: set = set()
    for path, st in current.items():
        m = files[path]
        if st is not None and st[0] == m[0] and st[1] == m[1] and st[2] == m[2]:
            continue
        from .fingerprint import FileRecord, fingerprint_file  # slow path only
        from .fs import StatSig

        prev = FileRecord(StatSig(m[0], m[1], m[2]), m[3])
        rec, _ = fingerprint_file(fs, path, prev, None if st is None else StatSig(*st))
        if rec is not None and rec.digest == m[3]:
            touched[path] = rec
        else:
            changed.add(path)
            if stop_early:
                break
    return QuickResult(not changed, touched, changed)

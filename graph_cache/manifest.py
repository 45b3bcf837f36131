"""No-op fast path: `manifest.bin`, checked with stats only, before anything heavy is imported.

Imports only `marshal` and `os` (both preloaded by the interpreter); xxhash is imported lazily, only when
a file's stat changed and it must be re-hashed, and zlib only when a section is read.

File layout (schema 2), written atomically in one piece:

    PREFIX (b"graph_cache.manifest\\n") | header length (8 bytes, little endian) | header | sections

header = marshal of (MAGIC, MANIFEST_SCHEMA, global_key, payload, counts_by_type, index, total_size):
payload = opaque bytes (the app's small report: what every command needs), counts_by_type =
{node type: node count}, index = {section name: (offset, length, crc32)} with offsets from the start of
the file, total_size = the file's size. Sections are raw bytes read on demand (`section`) with
`os.pread` on the descriptor opened by `load`, so a manifest replaced meanwhile by another build is never
mixed with this one; a size other than total_size (torn, truncated, appended to) or a section whose
CRC-32 differs is `Damaged`. Two sections are the file records, split so that "nothing changed" is one
byte comparison:

    STATS   = marshal format 2 of {path: (mtime_ns, size, ino)}, in the order of the stat-walk: exactly
              the shape of `promptgen.scan.scan()`. Format 2 has no back-references or interning flags,
              so equal dicts in equal order give equal bytes.
    DIGESTS = marshal of {path: xxh3 digest}, decoded only when some stat differs.

A record with mtime_ns == -1 is "racily clean" (see fingerprint.py): it never equals a real stat and is
always re-hashed.
"""
import marshal
import os

MAGIC = "graph_cache.manifest"
MANIFEST_SCHEMA = 2
PREFIX = b"graph_cache.manifest\n"
STATS = "\0stats"  # reserved section names (application sections are plain names)
DIGESTS = "\0digests"
_HEAD = len(PREFIX) + 8
_FIRST_READ = 1 << 16  # one pread usually covers prefix + header


class Damaged(Exception):
    """The manifest file does not hold what its header says (torn, truncated, garbled)."""


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
    """stats {path: (mtime_ns, size, ino)} and digests {path: digest} of the files, an opaque payload,
    counts per node type and named byte sections (answers too big to decode on every run).

    A loaded manifest keeps its file descriptor open and decodes stats, digests and sections only when
    asked; `close()` releases it (`save` and `sections` read everything first)."""

    __slots__ = ("global_key", "payload", "counts_by_type", "_stats", "_digests", "_sections", "_fd",
                 "_index")

    def __init__(self, global_key: str, stats: dict | None = None, digests: dict | None = None,
                 payload: bytes = b"", counts_by_type: dict | None = None, sections: dict | None = None) -> None:
        self.global_key = global_key
        self._stats = stats if stats is not None else {}  # path -> (mtime_ns, size, ino), walk order
        self._digests = digests if digests is not None else {}  # path -> digest
        self.payload = payload
        self.counts_by_type = counts_by_type if counts_by_type is not None else {}
        self._sections = sections if sections is not None else {}  # name -> bytes
        self._fd = None
        self._index: dict = {}

    @classmethod
    def from_records(cls, global_key: str, records: dict, payload: bytes = b"",
                     counts_by_type: dict | None = None, sections: dict | None = None) -> "Manifest":
        """Build from {path: FileRecord} (e.g. BuildResult.files)."""
        stats = {p: (r[0][0], r[0][1], r[0][2]) for p, r in records.items()}
        return cls(global_key, stats, {p: r[1] for p, r in records.items()}, payload, counts_by_type, sections)

    # ------------------------------------------------------------------------------------------ reading

    @classmethod
    def load(cls, path: str) -> "Manifest | None":
        """The manifest at `path`, or None if missing, unreadable, foreign, malformed or torn (its size is
        not the one its header records). Reads the header only."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None
        try:
            m = cls._load(fd)
        except Exception:
            m = None
        if m is None:
            os.close(fd)
        return m

    @classmethod
    def _load(cls, fd: int) -> "Manifest | None":
        size = os.fstat(fd).st_size
        data = os.pread(fd, _FIRST_READ, 0)
        if data[:len(PREFIX)] != PREFIX or len(data) < _HEAD:
            return None
        end = _HEAD + int.from_bytes(data[len(PREFIX):_HEAD], "little")
        if end > size:
            return None
        if end > len(data):
            data += os.pread(fd, end - len(data), len(data))
        magic, schema, key, payload, counts, index, total = marshal.loads(data[_HEAD:end])
        if magic != MAGIC or schema != MANIFEST_SCHEMA or not isinstance(key, str) or total != size:
            return None
        if not isinstance(payload, bytes) or not isinstance(counts, dict) or not isinstance(index, dict):
            return None
        for at in index.values():
            if type(at) is not tuple or len(at) != 3 or at[0] < end or at[1] < 0 or at[0] + at[1] > size:
                return None
        if STATS not in index or DIGESTS not in index:
            return None
        m = cls(key, None, None, payload, counts)
        m._stats = m._digests = None
        m._fd, m._index = fd, index
        return m

    def fileno(self) -> int | None:
        """The descriptor of a loaded manifest (None once closed or if built in memory)."""
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def _read(self, name: str, check: bool = True) -> bytes | None:
        """Raw bytes of a section (None if there is none); Damaged if short or (check) its CRC differs."""
        if name in self._sections:
            return self._sections[name]
        at = self._index.get(name)
        if at is None or self._fd is None:
            return None
        offset, length, crc = at
        data = os.pread(self._fd, length, offset)
        if len(data) != length:
            raise Damaged(name)
        if check:
            import zlib

            if zlib.crc32(data) != crc:
                raise Damaged(name)
        return data

    def section(self, name: str) -> bytes | None:
        """The named section's bytes, None if there is none; raises Damaged if they are not intact."""
        return self._read(name)

    def section_names(self) -> set:
        """The names of the application sections (nothing read)."""
        names = self._index.keys() if self._index else self._sections.keys()
        return {n for n in names if n not in (STATS, DIGESTS)}

    def sections(self) -> dict:
        """Every application section, {name: bytes} (reads and checks them all)."""
        names = self._index.keys() if self._fd is not None else self._sections.keys()
        return {n: self._read(n) for n in names if n not in (STATS, DIGESTS)}

    def same_stats(self, current: dict) -> bool:
        """True iff `current` equals the recorded stats, in the same order: one byte comparison (no
        decoding, no CRC: different bytes only send the caller to the slow comparison)."""
        if self._stats is not None:
            return list(self._stats.items()) == list(current.items())
        try:
            mine = marshal.dumps(current, 2)
        except ValueError:  # not plain tuples (e.g. StatSig): compare decoded
            return False
        return self._read(STATS, check=False) == mine

    @property
    def stats(self) -> dict:
        if self._stats is None:
            stats = _loads(self._read(STATS))
            for st in stats.values():
                if type(st) is not tuple or len(st) != 3:
                    raise Damaged(STATS)
            self._stats = stats
        return self._stats

    @property
    def digests(self) -> dict:
        if self._digests is None:
            self._digests = _loads(self._read(DIGESTS))
        return self._digests

    @property
    def files(self) -> dict:
        """{path: (mtime_ns, size, ino, digest)} (decodes both record sections)."""
        digests = self.digests
        return {p: (*st, digests.get(p)) for p, st in self.stats.items()}

    def update_files(self, stats: dict, digests: dict) -> None:
        """Replace the file records (the stats keep the order of `stats`)."""
        if self._fd is not None:
            self._sections = self.sections()  # keep the answers before the records change
            self.close()
        self._stats, self._digests = stats, digests

    # ------------------------------------------------------------------------------------------ writing

    def dumps(self) -> bytes:
        return b"".join(self._chunks())

    def _chunks(self) -> list[bytes]:
        blobs = [(STATS, marshal.dumps(self.stats, 2)), (DIGESTS, marshal.dumps(self.digests, 4))]
        blobs.extend(sorted(self.sections().items()))
        return encode_chunks(self.global_key, self.payload, self.counts_by_type, blobs)

    def save(self, path: str) -> None:
        """Atomic write: temp file in the same directory, fsync, os.replace. The file is written chunk by
        chunk (80 MB at 100k documents: never joined into one more copy in memory)."""
        from .fs import write_atomic

        write_atomic(path, self._chunks())


def encode(global_key: str, payload: bytes, counts_by_type: dict, blobs: list, *, magic: str = MAGIC,
           schema: int = MANIFEST_SCHEMA) -> bytes:
    """The file bytes for [(section name, bytes)] (magic/schema overridable for tests)."""
    return b"".join(encode_chunks(global_key, payload, counts_by_type, blobs, magic=magic, schema=schema))


def encode_chunks(global_key: str, payload: bytes, counts_by_type: dict, blobs: list, *, magic: str = MAGIC,
                  schema: int = MANIFEST_SCHEMA) -> list[bytes]:
    """`encode` as the chunks that make up the file: the head, then each section's bytes as given."""
    import zlib

    index: dict = {}
    offset = 0
    for name, blob in blobs:
        index[name] = (offset, len(blob), zlib.crc32(blob))
        offset += len(blob)
    # offsets are relative to the end of the header until its length is known; the header's own length
    # depends on the offsets' sizes, so fix the point: grow until the encoded length is stable
    header_len = 0
    while True:
        start = _HEAD + header_len
        shifted = {n: (o + start, n_, c) for n, (o, n_, c) in index.items()}
        header = marshal.dumps((magic, schema, global_key, payload, counts_by_type, shifted,
                                start + offset), 4)
        if len(header) == header_len:
            break
        header_len = len(header)
    return [PREFIX + header_len.to_bytes(8, "little") + header, *(blob for _, blob in blobs)]


def _loads(data: bytes | None) -> dict:
    if data is None:
        raise Damaged("missing file records")
    try:
        value = marshal.loads(data)
    except Exception:
        raise Damaged("file records") from None
    if not isinstance(value, dict):
        raise Damaged("file records")
    return value


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
    changed, an equal xxh3 digest (then it is reported in `touched`). The common case costs one byte
    comparison (`Manifest.same_stats`); otherwise one dict comparison, then a loop over the files. Without
    stop_early, `changed` is complete (every added, removed or modified path: what `FileChanges` needs);
    with it the check returns at the first real change (changed then holds just that path, or the
    path-set difference). Raises Damaged when the records must be decoded and cannot be.
    """
    if manifest is None or manifest.global_key != global_key:
        return QuickResult(False, {}, set(current))
    if manifest.same_stats(current):
        return QuickResult(True, {}, set())
    stats = manifest.stats
    changed: set = set(stats.keys() ^ current.keys())  # added or removed
    if changed and stop_early:
        return QuickResult(False, {}, changed)
    if not changed and stats == current:  # same records in another order (a folder listed differently)
        return QuickResult(True, {}, set())
    digests = manifest.digests
    touched: dict = {}
    for path, st in current.items():
        m = stats.get(path)
        if m is None or st is not None and st[0] == m[0] and st[1] == m[1] and st[2] == m[2]:
            continue
        from .fingerprint import FileRecord, fingerprint_file  # slow path only
        from .fs import StatSig

        digest = digests.get(path)
        prev = FileRecord(StatSig(m[0], m[1], m[2]), digest)
        rec, _ = fingerprint_file(fs, path, prev, None if st is None else StatSig(*st))
        if rec is not None and digest is not None and rec.digest == digest:
            touched[path] = rec
        else:
            changed.add(path)
            if stop_early:
                break
    return QuickResult(not changed, touched, changed)

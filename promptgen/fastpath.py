"""The no-op fast path: answer `build`, `status` and `check` from the manifest when nothing changed.

Standard library + xxhash only. It proves "nothing changed" by comparing the workspace's candidate
files (a stat-walk) with the manifest of the last successful build: same configuration bytes, same
tool and template versions, same set of files, and for every file either the same stat or (stat
changed, content not) the same xxh3 digest. Anything else -- an unknown option, a missing or stale
manifest -- returns None and the caller runs the full CLI, which builds incrementally. A manifest that
exists but cannot be decoded gets one warning line on stderr first (a missing one is silent). Once the
answer is written, nothing falls back: the history record after it is best effort.
"""
from __future__ import annotations

import os
import time

from promptgen import __version__, stored_answers
from promptgen.stored_answers import warn_damaged

FAST_COMMANDS = ("build", "status", "check")
MANIFEST = "manifest.bin"


def parse_args(argv: list[str]) -> dict | None:
    """A strict subset of the CLI grammar; None when the full CLI must handle the arguments."""
    if not argv or argv[0] not in FAST_COMMANDS:
        return None
    opts: dict = {"command": argv[0], "root": None, "json": False, "plan": None}
    rest = argv[1:]
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--json":
            opts["json"] = True
        elif arg == "--root" and i + 1 < len(rest):
            opts["root"] = rest[i + 1]
            i += 1
        elif arg.startswith("--root="):
            opts["root"] = arg[len("--root="):]
        elif opts["command"] == "status" and not arg.startswith("-") and opts["plan"] is None:
            opts["plan"] = arg
        else:
            return None
        i += 1
    if opts["command"] == "check" and not opts["json"]:
        opts["format"] = "text"
    return opts


def global_key(root: str) -> bytes:
    """Everything besides the documents that decides the results: tool version, configuration bytes,
    template files' and source modules' stats. Compared as raw bytes: no hashing on the no-op path."""
    from promptgen.rootfind import config_bytes

    parts = [__version__.encode(), config_bytes(root)]
    tdir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
    try:
        names = sorted(n for n in os.listdir(tdir) if n.endswith(".md"))
    except OSError:
        names = []
    for name in names:
        st = os.stat(os.path.join(tdir, name))
        parts.append(f"{name}:{st.st_mtime_ns}:{st.st_size}:{st.st_ino}".encode())
    from promptgen.codeversion import source_stats  # an edited module means new answers: full path

    parts.extend(s.encode() for s in source_stats())
    return b"\0".join(parts)


def try_run(argv: list[str]) -> int | None:
    """Serve the command from the manifest, or return None to fall back to the full CLI."""
    started = time.perf_counter()
    opts = parse_args(argv)
    if opts is None:
        return None
    try:
        return _serve(opts, started)
    except Exception:  # the fast path must never fail a run: the full path decides...
        return opts.get("exit")  # ...unless the answer is already out: never print it twice


def root_of(explicit: str | None) -> str | None:
    """The workspace root of a command given `--root explicit` (None: none given), or None for a
    `--root` that is not a directory (the full CLI reports it). Also the head start's and the
    read-ahead's root."""
    from promptgen.rootfind import find_root

    if explicit is not None and not os.path.isdir(explicit):
        return None
    return find_root(explicit)


def _serve(opts: dict, started: float) -> int | None:
    from promptgen.rootfind import STATE_DIR

    root = root_of(opts["root"])
    if root is None:
        return None
    state_dir = os.path.join(root, STATE_DIR)
    from graph_cache.manifest import Manifest

    path = os.path.join(state_dir, MANIFEST)
    if not os.path.isfile(path):
        return None  # never built or cleaned (silent); a FIFO or a folder is never opened
    manifest = Manifest.load(path)
    try:
        return _serve_from(opts, started, root, state_dir, path, manifest)
    finally:
        if manifest is not None:
            manifest.close()


def _serve_from(opts: dict, started: float, root: str, state_dir: str, path: str, manifest) -> int | None:
    from graph_cache.manifest import Damaged, quick_check

    payload = None
    if manifest is not None:
        import marshal

        try:
            payload = marshal.loads(manifest.payload)
        except Exception:
            pass
    if not isinstance(payload, dict):
        warn_damaged(path)
        return None
    if payload.get("global_key") != global_key(root):
        return None  # another version or configuration: the full build rewrites it
    if opts["command"] == "build" and not _artifacts_intact(payload.get("artifacts")):
        return None  # a deleted or edited artifact: the full build rewrites it
    from promptgen.scan import remembered_notes, scan

    workspace = os.path.join(root, payload["workspace"])
    try:
        current = scan(workspace, remember=True)
        if remembered_notes(workspace) != payload.get("walk_notes", []):
            return None  # a new outside link or non-UTF-8 name: no file changed, but a warning did
        result = quick_check(_LazyFs(workspace), manifest, current, manifest.global_key)
        if not result.unchanged:
            from promptgen import handoff  # the full build takes it over (no second comparison)

            checked = payload.get("artifacts") if opts["command"] == "build" else None  # (checked above)
            handoff.remember(workspace, handoff.Handoff(current, payload.get("files_snapshot"), result.changed,
                                                        result.touched, manifest.digests,
                                                        handoff.answer_fields(payload), checked))
            return None
        answer = stored_answers.answer(opts, manifest, payload, time.perf_counter() - started,
                                       stored_answers.AnswerSections(state_dir, payload))
    except Damaged:  # a section of the file is not what its header says
        warn_damaged(path)
        return None
    if answer is None:
        return None
    if result.touched:
        _refresh_stats(state_dir, manifest, current, result.touched)
    text, opts["exit"] = answer
    stored_answers.write(text)
    _record(state_dir, manifest, time.perf_counter() - started)
    return opts["exit"]


def _artifacts_intact(stats: dict | None) -> bool:
    """True when every artifact the last build wrote still has the stat it had then."""
    if stats is None:
        return False
    for path, (mtime_ns, size) in stats.items():
        try:
            st = os.stat(path)
        except OSError:
            return False
        if st.st_mtime_ns != mtime_ns or st.st_size != size:
            return False
    return True


class _LazyFs:
    """A RealFileSystem created only if quick_check must hash a file (its import costs on every run)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._fs = None

    def __getattr__(self, name: str):
        if self._fs is None:
            from graph_cache.fs import RealFileSystem

            self._fs = RealFileSystem(self.root)
        return getattr(self._fs, name)


def _record(state_dir: str, manifest, elapsed: float) -> None:
    """Append this no-op run to the history (all hits), best effort."""
    try:
        from promptgen import history

        history.append_line(state_dir, history.fast_record_line(manifest.counts_by_type, elapsed, __version__))
    except Exception:  # informational; the answer is printed already (a bad `keep`, counts, an OSError)
        pass


def _refresh_stats(state_dir: str, manifest, current: dict, touched: dict) -> None:
    """Remember the new stats of touched files so the next run needs no hashing (best effort). The
    records keep the walk's order, so that the next run's comparison is again one byte comparison."""
    try:
        from graph_cache.lock import StateLock

        stats, digests = {}, dict(manifest.digests)
        for p, st in current.items():
            rec = touched.get(p)
            if rec is None:
                stats[p] = st
            else:
                stats[p] = (rec.stat.mtime_ns, rec.stat.size, rec.stat.ino)
                digests[p] = rec.digest
        with StateLock(state_dir, timeout=0):
            manifest.update_files(stats, digests)
            manifest.save(os.path.join(state_dir, MANIFEST))
    except Exception:
        pass  # another run holds the lock or the directory is read-only: the next run re-hashes

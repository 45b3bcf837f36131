"""The stat-walk: candidate document files under a workspace, with their stats. Only `os` is imported.

Shared by discovery (full path) and the no-op fast path, so both see exactly the same file set. Walks
`plans/`, `backlog-plans/` and the workspace-level `subplans/`, `execution/`, `archive/` (or the whole
root when it has neither plans folder), never follows a symlink out of the root (info
`symlink-skipped`), skips dot-folders and tool folders, and keeps only regular files whose name is a
candidate (`PLAN_`, `SUBPLAN_`, ... `.md`, or `parallel.json`): FIFOs and devices are never opened. A
candidate that cannot be stat-ed (a dangling link inside the root, a link loop) maps to None. A folder
or candidate whose name is not valid UTF-8 is skipped with a warning `encoding`; a folder that cannot be
listed (permission) gets an error `unreadable`.
"""
from __future__ import annotations

import os

CONTAINERS = ("plans", "backlog-plans")
WORKSPACE_DIRS = ("subplans", "execution", "archive")
NO_WALK = frozenset({"node_modules", "__pycache__", "documentation", "observability", "observations"})
MAX_DEPTH = 8
PREFIXES = ("PLAN_", "SUBPLAN_", "EXECUTION_TASK_", "APPROVED_", "FIX_", "SKIPPED_")
_FIRST = frozenset("PSEAFp")  # first letters of candidate names (cheap pre-filter)


def is_candidate(name: str) -> bool:
    """A node-prefixed `.md` file or `parallel.json` (no regex: this runs on every file name)."""
    if name == "parallel.json":
        return True
    return name.endswith(".md") and name.startswith(PREFIXES)


def _is_dir(entry) -> bool:
    """`DirEntry.is_dir()` that treats a symlink loop (ELOOP) or a vanished target as "not a folder"."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _inside(real: str, root_real: str) -> bool:
    return real == root_real or real.startswith(root_real.rstrip("/") + "/")


def _symlink_note(path: str) -> dict:
    return {"code": "symlink-skipped", "severity": "info", "path": path, "line": None, "achievement": None,
            "message": "symbolic link points outside the root; not followed", "detail": None}


def _bad_name(name: str) -> bool:
    """True for a name that is not valid UTF-8 (os gives its bytes as lone surrogates): no path of the
    build may hold it (JSON, SQLite and the reports are UTF-8). Callers test `name.isascii()` first."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _bad_name_note(path: str) -> dict:
    shown = "".join(f"%{ord(c) - 0xDC00:02X}" if 0xDC80 <= ord(c) <= 0xDCFF else c for c in path)
    return {"code": "encoding", "severity": "warning", "path": shown, "line": None, "achievement": None,
            "message": "file or folder name is not valid UTF-8 (its undecodable bytes shown as %XX); not read",
            "detail": None}


def _unlistable_note(path: str, exc: OSError) -> dict:
    return {"code": "unreadable", "severity": "error", "path": path, "line": None, "achievement": None,
            "message": f"folder cannot be listed ({exc.strerror or exc}); the documents in it are not seen",
            "detail": None}


def scan_tree(root: str, max_depth: int = MAX_DEPTH) -> tuple[dict, tuple, list]:
    """({path: (mtime_ns, size, ino) or None}, containers, diagnostics) for the workspace at `root`.

    Paths are POSIX, relative to `root`. `containers` are the folders searched for plans (`("",)`
    means the root itself). A candidate whose stat fails maps to None (the build reports it).
    """
    files: dict = {}
    notes: list = []
    try:
        with os.scandir(root) as it:
            top = sorted(it, key=lambda e: e.name)
    except OSError:
        return files, ("",), notes
    containers = tuple(c for c in CONTAINERS if any(e.name == c and _is_dir(e) for e in top)) or ("",)
    allowed = None if containers == ("",) else frozenset(containers + WORKSPACE_DIRS)
    root_real = os.path.realpath(root)
    seen: set = set()
    stack = [("", 0, top)]
    while stack:
        d, depth, entries = stack.pop()
        subdirs = []
        prefix = d + "/" if d else ""
        only = allowed if depth == 0 else None  # names allowed at this level (None: all)
        files_here = allowed is None or depth > 0  # candidates are not taken from the top of a workspace
        deeper = depth < max_depth
        try:
            if entries is None:
                try:
                    with os.scandir(os.path.join(root, d)) as it:
                        entries = list(it)
                except PermissionError as exc:  # its documents exist but cannot be seen: say so
                    notes.append(_unlistable_note(d, exc))
                    continue
            for e in entries:
                name = e.name
                if only is not None and name not in only:
                    continue
                # The common case first: a regular file (not a link). One DirEntry call answers it from
                # the directory listing; anything else takes the general branch below.
                try:
                    regular = e.is_file(follow_symlinks=False)
                except OSError:
                    regular = False
                if regular:  # is_candidate, inlined (the _FIRST pre-filter does not pay: most names pass)
                    if files_here and (name.endswith(".md") and name.startswith(PREFIXES) or name == "parallel.json"):
                        if not name.isascii() and _bad_name(name):
                            notes.append(_bad_name_note(prefix + name))
                            continue
                        try:
                            st = e.stat()
                            files[prefix + name] = (st.st_mtime_ns, st.st_size, st.st_ino)
                        except OSError:
                            files[prefix + name] = None
                    continue
                path = prefix + name
                is_dir = _is_dir(e)
                if not name.isascii() and _bad_name(name):
                    if is_dir and deeper and name[0] != "." or files_here and is_candidate(name):
                        notes.append(_bad_name_note(path))  # a folder we would walk, or a candidate
                    continue
                if e.is_symlink():
                    real = os.path.realpath(e.path)
                    if not _inside(real, root_real):
                        notes.append(_symlink_note(path))
                        continue
                    if is_dir:
                        if real in seen:
                            continue
                        seen.add(real)
                if is_dir:
                    if deeper and name[0] != "." and name not in NO_WALK:
                        subdirs.append(path)
                elif name[0] in _FIRST and files_here and is_candidate(name):
                    try:
                        if not e.is_file():
                            if e.is_symlink() and not os.path.exists(e.path):
                                files[path] = None  # a dangling link: the build reports `unreadable`
                            continue  # FIFO, socket, device: never opened
                        st = e.stat()
                        files[path] = (st.st_mtime_ns, st.st_size, st.st_ino)
                    except OSError:
                        files[path] = None
        except OSError:
            pass  # vanished or unreadable folder: keep what was listed
        subdirs.sort(reverse=True)
        stack.extend((p, depth + 1, None) for p in subdirs)
    return files, containers, notes


_remembered: dict = {}  # root -> scan_tree result, handed from the fast path to the full build


def scan(root: str, remember: bool = False) -> dict:
    """`{path: stat tuple}` of every candidate file (what the fast path compares with the manifest).

    With `remember`, the full result is kept so that a build in the same process, when the fast path
    falls through, does not walk the tree a second time (`take_remembered`)."""
    result = scan_tree(root)
    if remember:
        _remembered[os.path.abspath(root)] = result
    return result[0]


def remembered_notes(root: str) -> list:
    """The diagnostics of the walk `scan(root, remember=True)` made (compared with the manifest's)."""
    return _remembered[os.path.abspath(root)][2]


def remembered_walks() -> dict:
    """Every walk kept by `scan(..., remember=True)`: {absolute root: (files, containers, notes)}."""
    return {root: (files, list(containers), notes) for root, (files, containers, notes) in _remembered.items()}


def restore(root: str, result: tuple) -> None:
    """Keep a walk made by another process of this command (a daemon's client, handoff.install)."""
    _remembered[os.path.abspath(root)] = result


def take_remembered(root: str) -> tuple | None:
    """The walk the fast path made of `root` in this process, once (None if there is none)."""
    return _remembered.pop(os.path.abspath(root), None)

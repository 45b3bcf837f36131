"""Build artifacts on disk: per-plan `status.json` and `next.md`, `summary.md`, `graph.json`.

Written to `.promptgen/artifacts/` (or `--out DIR`); a file is rewritten only when its content
changed, and artifacts of plans that disappeared are removed. Nothing is written outside that folder.

Crash safety (SIGKILL at any moment): files are written as `.<name>.<pid>.tmp` and renamed; the next
build removes such temp files of dead writers (and the `<name>.tmp-<pid>` of older versions). The state
file (`.promptgen-artifacts.json`, group -> key) is saved without the keys of the groups about to be
rewritten before their files are touched, so a group a killed build left half-written is re-rendered.
"""
from __future__ import annotations

import itertools
import json
import os
import re
import stat
from typing import Iterable, Iterator

from promptgen.config import Config


def artifacts_dir(cfg: Config, out_dir: str | None) -> str:
    base = out_dir if out_dir is not None else cfg.artifacts_dir
    return base if os.path.isabs(base) else os.path.normpath(os.path.join(cfg.root if out_dir is None else os.getcwd(), base))


def _dumps(obj) -> str:
    """`json.dumps(obj, ensure_ascii=False, indent=2) + "\\n"`, byte for byte (without the slow encoder)."""
    from promptgen.jsonfmt import dumps_indent2

    return dumps_indent2(obj) + "\n"


def write_if_changed(path: str, text: str | Iterable[str]) -> bool:
    """Write `text` (or its pieces, e.g. `graph.json_chunks_of`: no whole copy of a large document)
    atomically unless the file already holds exactly it; True when written."""
    data = [text.encode("utf-8")] if isinstance(text, str) else [piece.encode("utf-8") for piece in text]
    if _holds(path, data):
        return False
    from graph_cache.fs import write_atomic  # temp `.<name>.<pid>.tmp`, swept by `sweep_temp_files`

    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, data, durable=False)  # a kill keeps the page cache: no fsync per artifact
    return True


def _holds(path: str, chunks: list[bytes]) -> bool:
    """Whether the file's bytes are exactly the chunks, read piece by piece."""
    try:
        with open(path, "rb") as fh:
            return all(fh.read(len(chunk)) == chunk for chunk in chunks) and fh.read(1) == b""
    except OSError:
        return False


STATE_FILE = ".promptgen-artifacts.json"  # in the artifacts folder: which inputs each group was made from
_NAMES = r"(?:status\.json|next\.md|summary\.md|summary\.json|graph\.json|\.promptgen-artifacts\.json)"
_TEMP_RE = re.compile(rf"\.{_NAMES}\.(\d{{1,10}})\.tmp|{_NAMES}\.tmp-(\d{{1,10}})")  # now | before 0.1


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def sweep_temp_files(base: str, folders: Iterable[str] | None = None) -> list[str]:
    """Remove the temp files that killed writers left in `base` and its plan folders (only our exact
    names, only when the PID is dead or ours: we have not written yet). `folders`: the plan folders
    to look in (relative; None: every one). Relative paths removed."""
    from graph_cache.store_db import pid_alive

    removed = []
    if folders is None:
        folders = (f"plans/{n}" for n in _listdir(os.path.join(base, "plans")))
    for rel in ["", *folders]:
        for name in _listdir(os.path.join(base, rel)):
            m = _TEMP_RE.fullmatch(name)
            pid = int(m.group(1) or m.group(2)) if m else None
            if pid is not None and (pid == os.getpid() or not pid_alive(pid)):
                try:
                    os.remove(os.path.join(base, rel, name))
                    removed.append(f"{rel}/{name}".lstrip("/"))
                except OSError:
                    pass
    return removed


def _groups(result, collected, kept: dict[str, str]) -> dict[str, tuple[str, object]]:
    """Artifact groups -> (key, renderer). A group is re-rendered only when its key changed since it
    was last written to this folder (keys are node output fingerprints), or a file of it is missing.
    `kept`: groups whose key is known to be the last one (`_kept_groups`), looked up in no trace."""
    from promptgen.answers import ANSWERS_ID

    fps = result.fingerprints
    fresh = [f for f in collected.names if f"plans/{f}" not in kept]
    prefetch = getattr(fps, "prefetch", None)  # change-driven builds: stored fingerprints in bulk
    if prefetch is not None:
        prefetch([f"{t}:{f}" for f in fresh for t in ("status", "next")] + ["summary:workspace", ANSWERS_ID])
    groups: dict[str, tuple[str, object]] = {}
    for feature in collected.names:  # a plan's diagnostics are part of its status output
        name = f"plans/{feature}"
        key = kept.get(name) or fps["status:" + feature] + fps["next:" + feature]
        groups[name] = (key, lambda feature=feature: _plan_files(result, collected, feature))
    groups["summary"] = (fps["summary:workspace"] + fps[ANSWERS_ID], lambda: _summary_files(result, collected))
    groups["graph"] = (_graph_key(result), lambda: {"graph.json": graph_chunks(result)})
    return groups


def _kept_groups(result, collected, previous: dict) -> dict[str, str]:
    """The plan groups whose status and next nodes this build did not recompute, with their key from
    the folder's state file. Valid only when that state was written by the build that made the stored
    fingerprints (see `write_all`'s `verified`): an output not recomputed since keeps its fingerprint."""
    redone = set(result.counts.recomputed)
    kept = {}
    for feature in collected.names:
        name = f"plans/{feature}"
        key = previous.get(name)
        if isinstance(key, str) and "status:" + feature not in redone and "next:" + feature not in redone:
            kept[name] = key
    return kept


def _graph_key(result) -> str:
    """A digest of the graph's shape (`graph_index.shape_of`): the engine's, kept from the stored index
    when the graph did not change (no spec is built); computed here only if the build has none."""
    if result.graph_digest:
        return "shape:" + result.graph_digest
    from graph_cache.graph_index import shape_of

    return "shape:" + shape_of(result.specs)


def _output(result, node_id: str):
    """A node's decoded output, not memoised by the engine (each is rendered once)."""
    return json.loads(result.output_bytes(node_id))


def _plan_files(result, collected, feature: str) -> dict[str, str]:
    """A plan's files. Its status.json is sliced from the answers when this build reads them anyway
    (they changed, or the last ones are not at hand: `Collected.known` is None), else taken from the
    plan's own answer fragment: an edit that changes no answer reads no other plan's share."""
    from promptgen.answers import FRAGMENT, fragment_status

    nxt = _output(result, "next:" + feature)
    if collected.known is None:
        status = collected.answers.plan_status(feature)
    else:
        status = fragment_status(result.output_bytes(FRAGMENT + feature))
    return {f"plans/{feature}/status.json": _dumps(status),
            f"plans/{feature}/next.md": nxt["text"].rstrip("\n") + "\n"}


def _summary_files(result, collected) -> dict[str, list[str] | Iterator[str]]:
    """`summary.md` and `summary.json`, as pieces (20 MB at 100k documents: no joined copies)."""
    from promptgen.jsonfmt import dumps_indent2_pieces

    summary = _output(result, "summary:workspace")
    doc = {"plans": summary["rows"], "diagnostics": collected.diagnostics}
    return {"summary.md": [summary["markdown"].rstrip("\n"), "\n\n", diagnostics_markdown(collected.diagnostics)],
            "summary.json": itertools.chain(dumps_indent2_pieces(doc), ["\n"])}


def _group_files(name: str) -> tuple[str, ...]:
    if name.startswith("plans/"):
        return tuple(f"{name}/{f}" for f in PLAN_FILES)
    return ("summary.md", "summary.json") if name == "summary" else ("graph.json",)


def graph_chunks(result) -> Iterator[str]:
    """`graph.json`, exactly what `promptgen graph --format json` prints (networkx node-link JSON), from
    the build's specs and its generators' children (no trace decoded), in pieces: 60 MB at 100k
    documents, never joined in memory."""
    from graph_cache.graph import json_chunks_of

    return json_chunks_of(result.specs, result.traces.children())


PLAN_FILES = ("status.json", "next.md")


def write_all(cfg: Config, out_dir: str | None, result, collected, store,
              verified: dict | None = None) -> tuple[list[str], dict]:
    """Write changed artifacts, prune stale ones.

    Returns (relative paths written or removed, {absolute path: (mtime_ns, size)} of every artifact) --
    the stats let the no-op fast path notice a deleted or edited artifact. `verified`: those stats as
    the last build recorded them, checked unchanged by this command's fast path, given only when that
    build made the stored fingerprints (the engine trusted the fast path's handoff) and wrote this
    folder: the plan groups whose nodes this build did not recompute then keep their key and stats
    (no trace read, no stat: 0.2 s at 100k documents).
    """
    base = artifacts_dir(cfg, out_dir)
    state_path = os.path.join(base, STATE_FILE)
    try:
        with open(state_path, encoding="utf-8") as fh:
            previous = json.load(fh)
        if not isinstance(previous, dict):
            previous = {}
    except (OSError, ValueError, RecursionError):
        previous = {}
    written_before = {name for name in previous if name.startswith("plans/")}  # plan folders we wrote
    kept = _kept_groups(result, collected, previous) if verified is not None else {}
    # A kept group's folder holds no temp file: the build that wrote it finished its artifacts (else
    # it would not have written the manifest the fast path checked), and a build killed since then
    # made a new snapshot (the engine would not have trusted the handoff) or forgot the groups it was
    # rewriting in the state file (so they are not kept).
    if verified is None:
        sweep_temp_files(base)
    else:
        looked = ({f"plans/{f}" for f in collected.names} | {g for g in written_before if _plan_folder(g)})
        sweep_temp_files(base, sorted(looked - kept.keys()))
    groups = _groups(result, collected, kept)
    found = {}
    for name in groups:
        for rel in _group_files(name):
            path = os.path.join(base, rel)
            st = verified.get(path) if name in kept else None
            found[rel] = tuple(st) if st is not None else _file_stat(path)
    stale = [name for name, (key, _render) in sorted(groups.items())
             if previous.get(name) != key or any(found[r] is None for r in _group_files(name))]
    if any(name in previous for name in stale):  # forget them first: a kill below leaves them unknown
        previous = {name: key for name, key in previous.items() if name not in stale}
        _save_state(state_path, previous)
    written: list[str] = []
    for name in stale:
        for rel, text in sorted(groups[name][1]().items()):
            if write_if_changed(os.path.join(base, rel), text):
                written.append(rel)
    for group in sorted(written_before - groups.keys()):  # vanished plans: only folders this state names
        if _plan_folder(group) and _remove_plan_artifacts(os.path.join(base, group)):
            written.append(f"{group}/")
    state = {name: key for name, (key, _render) in groups.items()}
    if state != previous:
        _save_state(state_path, state)
    for name in stale:  # the others were not touched since `found`
        for rel in _group_files(name):
            found[rel] = _file_stat(os.path.join(base, rel))
    return written, {os.path.join(base, rel): st for rel, st in found.items() if st is not None}


def _plan_folder(group: str) -> bool:
    """Whether a group name of the state file names one folder of `plans/` (the file is ours, but read
    from disk: never a path that leaves the artifacts folder)."""
    name = group[len("plans/"):]
    return group.startswith("plans/") and "/" not in name and name not in ("", ".", "..")


def _file_stat(path: str) -> tuple[int, int] | None:
    """(mtime_ns, size) of a regular file (links followed), else None."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_mtime_ns, st.st_size) if stat.S_ISREG(st.st_mode) else None


def _save_state(path: str, state: dict) -> None:
    write_if_changed(path, json.dumps(state, sort_keys=True, indent=0) + "\n")


def _remove_plan_artifacts(folder: str) -> bool:
    """Remove a vanished plan's artifact files, then its folder if that left it empty.

    Called only for plans the folder's artifact state says promptgen wrote, and only the files
    promptgen writes are removed: an `--out` folder that also holds other things (even a methodology
    `plans/` tree with its own `next.md` files) loses nothing else. True when something was removed.
    """
    if os.path.islink(folder) or not os.path.isdir(folder):
        return False
    removed = False
    for name in PLAN_FILES:
        try:
            os.unlink(os.path.join(folder, name))
            removed = True
        except OSError:
            pass
    try:
        os.rmdir(folder)
        removed = True
    except OSError:
        pass  # not empty: it holds files promptgen did not write
    return removed


def diagnostics_markdown(diags: list[dict]) -> str:
    errors = sum(1 for d in diags if d["severity"] == "error")
    warnings = sum(1 for d in diags if d["severity"] == "warning")
    lines = ["## Diagnostics", "", f"{errors} error(s), {warnings} warning(s)", ""]
    for d in diags:
        if d["severity"] in ("error", "warning"):
            where = d["path"] + (f":{d['line']}" if d["line"] else "")
            lines.append(f"- {d['severity']} `{d['code']}` `{where}`: {d['message']}")
    return "\n".join(lines) + "\n"

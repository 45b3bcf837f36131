"""Workspace discovery (R-LAYOUT-1..3, R-NAME-*, R-READ-LINK). Stdlib only.

`walk(fs)` lists candidate files: on disk through `promptgen.scan.scan_tree` (the same stat-walk the no-op
fast path uses), on other filesystems (the in-memory fake) with one `listdir` per folder; `scan(fs)` is
its `{path: stat}`; `discover(fs)` = walk + `discover_paths`, which classifies
paths only (no reads): plan folders, flat plans, look-alikes, the files of each plan, duplicates, orphans.
Diagnostics are plain dicts (code, severity, path, line, achievement, message, detail).

Decisions beyond the spec: `.`-folders, `node_modules`, `__pycache__`, `documentation`, `observability`
and `observations` are never walked; a `PLAN_*.md` inside a plan folder's subtree that is not itself a
plan folder (a stale nested copy) is ignored (info); when two plans share a feature name the first by
(depth, path) wins and the other is ignored (info `duplicate-plan`); a node file of another plan's feature
inside a plan's folders is ignored (info), of a feature without plan it is `orphan-file`.
"""
from __future__ import annotations

import os
import posixpath
from typing import Any, Iterable, NamedTuple, Optional

from graph_cache.fs import RealFileSystem
from promptgen import names as N
from promptgen.scan import CONTAINERS, MAX_DEPTH, NO_WALK, WORKSPACE_DIRS, scan_tree, take_remembered

NO_SEARCH = frozenset({"subplans", "execution", "feedbacks", "documentation", "archive"})
PLAN_SEARCH_DEPTH = 3
_FIRST = frozenset("PSEAFp")  # first letters of candidate names (cheap pre-filter)


def diag(code: str, severity: str, path: str, message: str, detail: Optional[str] = None,
         achievement: Optional[str] = None) -> dict:
    """A diagnostic as a plain dict (same keys as `documents.Diagnostic`)."""
    return {"code": code, "severity": severity, "path": path, "line": None, "achievement": achievement,
            "message": message, "detail": detail}


class Walk:
    """The scan of a workspace: candidate files and the folders searched for plans."""

    def __init__(self, files: dict, containers: tuple, diagnostics: list | None = None) -> None:
        self.files = files  # path -> StatSig (None when the stat failed)
        self.containers = containers  # folders searched for plans ("" = the root itself)
        self.diagnostics = [] if diagnostics is None else diagnostics


def _inside(real: str, root_real: str) -> bool:
    if root_real in ("", "."):
        return not (real == ".." or real.startswith("../") or real.startswith("/"))
    return real == root_real or real.startswith(root_real.rstrip("/") + "/")


def _generic_lister(fs: Any):
    def listing(d: str):
        for e in fs.listdir(d):
            yield e.name, e.is_dir, e.is_symlink, None

    def stat(path: str, _e: Any) -> Any:
        return fs.stat(path)

    return listing, stat


def walk(fs: Any, max_depth: int = MAX_DEPTH) -> Walk:
    """List candidate files under the plan containers and the workspace-level folders (or the whole root
    when it has neither `plans/` nor `backlog-plans/`), never leaving the root."""
    if isinstance(fs, RealFileSystem):
        files, containers, notes = take_remembered(fs.root) or scan_tree(fs.root, max_depth)
        return Walk(files, containers, notes)
    listing, stat = _generic_lister(fs)
    try:
        top = list(listing(""))
    except OSError:
        top = []
    containers = tuple(c for c in CONTAINERS if any(n == c and is_dir for n, is_dir, _, _ in top)) or ("",)
    allowed = None if containers == ("",) else frozenset(containers + WORKSPACE_DIRS)
    out = Walk({}, containers)
    files, candidate = out.files, N.is_candidate
    root_real = fs.realpath("")
    seen_links: set = set()
    stack = [("", 0, top)]
    while stack:
        d, depth, entries = stack.pop()
        subdirs = []
        try:
            for name, is_dir, is_link, e in entries if entries is not None else listing(d):
                if allowed is not None and depth == 0 and name not in allowed:
                    continue
                path = f"{d}/{name}" if d else name
                if is_link:
                    real = fs.realpath(path)
                    if not _inside(real, root_real):
                        out.diagnostics.append(diag("symlink-skipped", "info", path,
                                                    "symbolic link points outside the root"))
                        continue
                    if is_dir:
                        if real in seen_links:
                            continue
                        seen_links.add(real)
                if is_dir:
                    if depth < max_depth and name[0] != "." and name not in NO_WALK:
                        subdirs.append(path)
                elif name[0] in _FIRST and candidate(name) and (allowed is None or depth > 0):
                    try:
                        files[path] = stat(path, e)
                    except OSError:
                        files[path] = None  # stat failed: the build reports `unreadable`
        except OSError:
            pass  # vanished or unreadable folder: keep what was listed
        subdirs.sort(reverse=True)
        stack.extend((p, depth + 1, None) for p in subdirs)
    return out


def scan(fs: Any) -> dict:
    """`{path: stat}` of every candidate file (the fast path uses `promptgen.scan.scan` directly)."""
    return walk(fs).files


class DocRef(NamedTuple):
    """A document to parse: path, kind (plan | subplan | execution | feedback | parallel), name info."""

    path: str
    kind: str
    info: N.NameInfo
    archived: bool = False  # archived SUBPLAN (archive/ folder or `_ARCHIVED` suffix)

    def parse_args(self, feature: str) -> tuple:
        """(kind, name_fields) for `promptgen.parse.parse_document` of this document of plan `feature`."""
        i = self.info
        if self.kind == N.FEEDBACK:
            return i.feedback, {"code": i.code}
        if self.kind == N.SUBPLAN:
            return self.kind, {"feature": i.feature, "code": i.code, "archived": self.archived}
        if self.kind == N.EXECUTION:
            return self.kind, {"feature": i.feature, "code": i.code, "mm": i.mm, "suffix": i.suffix,
                               "revision": i.revision}
        return self.kind, {"feature": feature}


class PlanEntry:
    """One discovered plan and its documents (filled in by `_attach`)."""

    def __init__(self, name: str, plan_file: str, plan_dir: str, layout: str, category: Optional[str],
                 feedback_usable: bool = True) -> None:
        self.name, self.plan_file, self.plan_dir = name, plan_file, plan_dir
        self.layout = layout  # nested | flat
        self.category = category
        self.feedback_usable = feedback_usable
        self.subplans: list = []  # DocRefs, sorted by path (winners of duplicates)
        self.archived: list = []  # archived SUBPLANs (archive/ or *_ARCHIVED.md)
        self.executions: list = []
        self.feedback: list = []
        self.parallel: Optional[DocRef] = None
        self.diagnostics: list = []  # discovery diagnostics about this plan's files

    def info(self) -> dict:
        """Keyword arguments of `results.PlanInfo`."""
        return {"name": self.name, "plan_file": self.plan_file, "plan_dir": self.plan_dir, "layout": self.layout,
                "category": self.category, "feedback_usable": self.feedback_usable}

    def documents(self) -> list:
        """Every document of the plan: PLAN, SUBPLANs (incl. archived), executions, feedback, parallel."""
        plan = DocRef(self.plan_file, N.PLAN, N.classify(posixpath.basename(self.plan_file)))
        rest = self.subplans + self.archived + self.executions + self.feedback
        return [plan] + rest + ([self.parallel] if self.parallel else [])


class Discovery:
    """What discovery found: the plans, the documents to parse and the diagnostics."""

    def __init__(self, plans: list, documents: dict, diagnostics: list, workspace_diagnostics: list,
                 files: dict | None = None) -> None:
        self.plans = plans  # PlanEntry, sorted by name
        self.documents = documents  # path -> DocRef of every document to parse, in plan order
        self.diagnostics = diagnostics  # all discovery diagnostics (plan + workspace ones), deterministic order
        self.workspace_diagnostics = workspace_diagnostics  # the ones that belong to no plan
        self.files = {} if files is None else files  # the scan: path -> StatSig


def discover(fs: Any) -> Discovery:
    """Walk the workspace and classify what was found."""
    w = walk(fs)
    disc = discover_paths(w.files, w.containers, w.diagnostics)
    disc.files = w.files
    return disc


def _split(path: str) -> tuple:
    i = path.rfind("/")
    return (path[:i], path[i + 1:]) if i >= 0 else ("", path)


def _join(d: str, name: str) -> str:
    return f"{d}/{name}" if d else name


def _rel_parts(d: str, container: str) -> Optional[list]:
    if container == "":
        return d.split("/") if d else []
    if d == container:
        return []
    if d.startswith(container + "/"):
        return d[len(container) + 1:].split("/")
    return None


def _search_location(d: str, containers: Iterable[str]) -> Optional[tuple]:
    """(container, parts) when folder `d` is searched for PLAN files (R-LAYOUT-1), else None."""
    for c in containers:
        parts = _rel_parts(d, c)
        if parts is not None and len(parts) <= PLAN_SEARCH_DEPTH and not NO_SEARCH.intersection(parts):
            return c, parts
    return None


def _category(container: str, between: list) -> Optional[str]:
    parts = ([container] if container == "backlog-plans" else []) + between
    return "/".join(parts) or None


def _index(paths: Iterable[str]) -> tuple:
    """by_dir: folder -> [(path, NameInfo)]; by_feature: (folder, feature) -> SUBPLAN/EXECUTION entries."""
    classify = N.classify
    by_dir: dict = {}
    by_feature: dict = {}
    for p in paths:
        i = p.rfind("/")
        d = p[:i] if i >= 0 else ""
        info = classify(p[i + 1:])
        if info is not None:
            by_dir.setdefault(d, []).append((p, info))
            if info.feature is not None and info.kind != N.PLAN:
                by_feature.setdefault((d, info.feature), []).append((p, info))
    for lst in (*by_dir.values(), *by_feature.values()):
        lst.sort()
    return by_dir, by_feature


def _find_plans(by_dir: dict, containers: tuple, claimed: set, ws_diags: list) -> dict:
    """R-LAYOUT-1/2: plan folders, flat plans, look-alikes, shared flat folders. Returns name -> PlanEntry."""
    plan_folders = {d for d, fs_ in by_dir.items() if _search_location(d, containers) is not None
                    and any(i.kind == N.PLAN and i.feature == _split(d)[1] for _, i in fs_)}

    def in_plan_subtree(d: str) -> bool:
        while "/" in d:
            d = d.rsplit("/", 1)[0]
            if d in plan_folders:
                return True
        return False

    plans: dict = {}
    flat_dirs: dict = {}
    lookalikes: list = []
    for d in sorted(by_dir, key=lambda x: (x.count("/"), x)):  # shallower plans win name clashes
        loc = _search_location(d, containers)
        if loc is None:
            continue
        c, parts = loc
        nested = d in plan_folders
        for p, info in by_dir[d]:
            if info.kind != N.PLAN:
                continue
            claimed.add(p)
            if nested and info.feature != _split(d)[1]:
                lookalikes.append((d, p))
            elif not nested and in_plan_subtree(d):
                ws_diags.append(diag("ignored-file", "info", p, "PLAN file in a nested copy inside a plan folder"))
            elif info.feature in plans:
                ws_diags.append(diag("duplicate-plan", "info", p, f"another plan is named {info.feature}; ignored"))
            else:
                e = PlanEntry(info.feature, p, d, "nested" if nested else "flat",
                              _category(c, parts[:-1] if nested else parts))
                plans[e.name] = e
                if not nested:
                    flat_dirs.setdefault(d, []).append(e)
    by_folder = {e.plan_dir: e for e in plans.values() if e.layout == "nested"}
    for d, p in lookalikes:
        owner = by_folder.get(d)
        (owner.diagnostics if owner else ws_diags).append(
            diag("extra-plan-file", "warning", p, "look-alike PLAN file inside a plan folder; not a plan"))
    for d, entries in flat_dirs.items():
        if len(entries) > 1:
            for e in entries:
                e.feedback_usable = False
                e.diagnostics.append(diag("ambiguous-feedback-dir", "warning", e.plan_file,
                                          f"{len(entries)} flat plans share {d or '.'}; feedback ignored"))
    return plans


def _attach(e: PlanEntry, by_dir: dict, by_feature: dict, all_paths: set, claimed: set) -> None:
    """R-LAYOUT-3: the direct children of P/subplans, P/execution(/feedbacks), then the flat folders."""
    name, P = e.name, e.plan_dir
    for kind, dest, where in ((N.SUBPLAN, e.subplans, "subplans"), (N.EXECUTION, e.executions, "execution")):
        winners: dict = {}
        for d in dict.fromkeys((_join(P, where), where)):  # plan folder first: its copy wins
            for p, info in by_feature.get((d, name), ()):
                if info.kind != kind:
                    continue
                claimed.add(p)
                if info.archived:
                    if kind == N.SUBPLAN:
                        e.archived.append(DocRef(p, kind, info, True))
                elif info.name in winners:
                    e.diagnostics.append(diag("duplicate-file", "warning", p, f"same name as {winners[info.name]}",
                                              "the copy in the plan folder wins"))
                else:
                    winners[info.name] = p
                    dest.append(DocRef(p, kind, info))
    fb_dir, ex_dir = _join(P, "execution/feedbacks"), _join(P, "execution")
    for d in (fb_dir, ex_dir):
        for p, info in by_dir.get(d, ()):
            if info.kind == N.FEEDBACK and (d == fb_dir or info.feedback == "skipped"):
                claimed.add(p)
                if e.feedback_usable:
                    e.feedback.append(DocRef(p, N.FEEDBACK, info))
    par = _join(P, "parallel.json")
    if par in all_paths and (e.layout == "nested" or e.feedback_usable):
        e.parallel = DocRef(par, N.PARALLEL, N.classify("parallel.json"))
        claimed.add(par)
    for lst in (e.subplans, e.archived, e.executions, e.feedback):
        lst.sort()


def _leftovers(by_dir: dict, plans: dict, containers: tuple, claimed: set, ws_diags: list) -> None:
    """Files no plan took: `unrecognized-name` / `orphan-file` where node files count, info elsewhere."""
    owner_dirs = {_join(e.plan_dir, sub): e for e in plans.values()
                  for sub in ("subplans", "execution", "execution/feedbacks")}
    for d in sorted(by_dir):
        flat = d in ("subplans", "execution")
        owner = None if flat else owner_dirs.get(d)
        relevant = owner is not None or flat or _search_location(d, containers) is not None
        sink = owner.diagnostics if owner is not None else ws_diags
        for p, info in by_dir[d]:
            if p in claimed or info.kind == N.GRAMMAPLAN:
                continue
            if info.kind == N.UNRECOGNIZED and relevant:
                sink.append(diag("unrecognized-name", "warning", p, "node-prefixed name that does not parse"))
            elif info.kind in (N.SUBPLAN, N.EXECUTION) and info.feature not in plans and relevant and not info.archived:
                why = f"no plan has the feature name {info.feature}"
                sink.append(diag("orphan-file", "warning", p, why, why))
            else:
                sink.append(diag("ignored-file", "info", p, "not in a location that counts (R-LAYOUT-3)"))


def discover_paths(paths: Iterable[str], containers: Iterable[str] = CONTAINERS,
                   walk_diagnostics: Iterable[dict] = ()) -> Discovery:
    """Classify candidate paths (R-LAYOUT-1..3); pure, no filesystem access, deterministic."""
    containers = tuple(containers)
    by_dir, by_feature = _index(paths)
    claimed: set = set()
    ws_diags: list = []
    plans = _find_plans(by_dir, containers, claimed, ws_diags)
    for d, files in by_dir.items():  # archive/: archived SUBPLANs of known plans; everything else ignored
        if d == "archive" or d.startswith("archive/"):
            for p, info in files:
                claimed.add(p)
                if info.kind == N.SUBPLAN and info.feature in plans:
                    plans[info.feature].archived.append(DocRef(p, N.SUBPLAN, info, True))
    all_paths = {p for files in by_dir.values() for p, _ in files}
    for name in sorted(plans):
        _attach(plans[name], by_dir, by_feature, all_paths, claimed)
    _leftovers(by_dir, plans, containers, claimed, ws_diags)
    ordered = [plans[n] for n in sorted(plans)]
    docs = {r.path: r for e in ordered for r in e.documents()}
    ws_only = list(walk_diagnostics) + ws_diags
    key = lambda dg: (dg["path"], dg["code"])  # noqa: E731
    all_diags = sorted([dg for e in ordered for dg in e.diagnostics] + ws_only, key=key)
    return Discovery(ordered, docs, all_diags, sorted(ws_only, key=key))

"""Hypothesis strategies and helpers that generate small methodology workspaces on disk.

A workspace is described as `{relative POSIX path: bytes}` and written under a root folder. The
documents follow METHODOLOGY sections 2-7 closely enough to exercise every state of the ladder
(SUBPLANs, EXECUTION_TASKs with open/complete/blocked statuses, APPROVED / FIX / RESOLUTION / SKIPPED
with dates, parallel.json, handoff pointers) but the generator also produces the awkward cases on
purpose: ambiguous codes (`1.10` / `11.0`), orphans, flat plans in `plans/a_paused/` that share the
workspace-level `subplans/` and `execution/`, archived copies and invalid parallel.json files.

Used by `test_incremental_equals_clean.py` (the stateful incremental == clean property).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Optional

from hypothesis import strategies as st

FEATURES = ("ALPHA", "BETA-2", "GAMMA")
ORPHAN_FEATURE = "DELTA"  # never has a PLAN: its files are orphans
# 1.10 and 11.0 share the code 110 (R-ID-2): ambiguity on purpose.
ACH_IDS = ("0.1", "1.1", "1.2", "1.10", "11.0", "2.1", "3.5.1")
TITLES = ("Catalogue schema", "Shard crawler", "Query planner (v2 protocol)", "Retry budget (2 hours)",
          "Sunset review **HIGH**", "Élan — unicode title", "Dual-write shim")
SUB_STATUSES = ("In Progress", "📋 Design Phase", "✅ Complete", "Not Started", "🎯 Ready to Execute")
EXEC_STATUSES = ("✅ Complete", "In Progress", "🔄 In Progress", "✅ COMPLETE", "⏸️ BLOCKED - vendor",
                 "Abandoned", "📋 Ready for Execution", "Complete", "superseded")
DATES = ("2025-01-05", "2025-02-10", "2025-02-10 14:00", "2025-03-01", "2025-03-15")
FEEDBACK_KINDS = ("APPROVED", "FIX", "RESOLUTION", "SKIPPED")
CAP_CHOICES = (5, 0.001, 0.002, 0.0005)  # size_cap_mib; 0.001 MiB = 1048 bytes (some PLANs exceed it)
FLAT_DIR = "plans/a_paused"

DECL_RE = re.compile(r"^(?:\*\*Achievement [0-9.]+|- (?:✅ )?Achievement [0-9.]+|#{3,4} Achievement [0-9.]+).*$",
                     re.M)
STATUS_RE = re.compile(r"^\*\*(?:Final )?Status\*\*:.*$", re.M)
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def code_of(ach_id: str) -> str:
    return ach_id.replace(".", "")


# ------------------------------------------------------------------------------------- documents


def plan_doc(feature: str, decls: list[tuple[str, str, str]], pointer: Optional[str], status: str,
             padding: int = 0) -> str:
    """A PLAN: title, header, an index section (D3), a desirable-achievements section (D1/D2), handoff."""
    lines = [f"# PLAN: {feature.title()} work", "", "**Type**: PLAN", f"**Status**: {status}",
             "**Created**: 2025-01-02", "", "## 📋 Achievement Index", ""]
    for ach_id, title, shape in decls:
        if shape == "D3":
            lines.append(f"- Achievement {ach_id}: {title}")
    lines += ["", "## 🎯 Desirable Achievements", ""]
    for ach_id, title, shape in decls:
        if shape == "D1":
            lines.append(f"**Achievement {ach_id}**: {title}")
        elif shape == "D2":
            lines.append(f"**Achievement {ach_id}: {title}** ⏱️ 2 hours")
        else:
            continue
        lines += ["", f"**Goal**: deliver {title.lower()}.", "", "**Success**: tests pass.", ""]
    lines += ["## 🔄 Subplan Tracking", "", "- Achievement 9.9: mention only, not a declaration", ""]
    if padding:
        lines += ["## Notes", ""] + [f"Note line {i}: lorem ipsum dolor sit amet." for i in range(padding)] + [""]
    lines += ["## 📝 Current Status & Handoff", "", "**Last Updated**: 2025-02-01", ""]
    if pointer:
        lines.append(f"**Next Achievement**: {pointer} (resume here)")
    else:
        lines.append("**What's Next**: see the index")
    return "\n".join(lines) + "\n"


def subplan_doc(feature: str, ach_id: str, status: str, planned: int) -> str:
    code = code_of(ach_id)
    lines = [f"# SUBPLAN: Work for {ach_id}", "", "**Type**: SUBPLAN", f"**Mother Plan**: PLAN_{feature}.md",
             f"**Achievement**: {ach_id}", f"**Status**: {status}", "**Created**: 2025-01-10", "",
             "## 🎯 Objective", "", f"Deliver achievement {ach_id}.", "", "## 📝 Approach", "",
             "1. Test first.", ""]
    if planned:
        lines += ["## 🔄 Active EXECUTION_TASKs", "", "| Execution | Status | File |", "| --- | --- | --- |"]
        for mm in range(1, planned + 1):
            lines.append(f"| {code}_{mm:02d} | Planned | EXECUTION_TASK_{feature}_{code}_{mm:02d}.md |")
        lines.append("")
    return "\n".join(lines) + "\n"


def execution_doc(feature: str, ach_id: str, mm: str, status: str, final: Optional[str]) -> str:
    code = code_of(ach_id)
    lines = [f"# EXECUTION_TASK: Step {mm} of {ach_id}", "", "**Type**: EXECUTION_TASK",
             f"**Subplan**: SUBPLAN_{feature}_{code}.md", f"**Achievement**: {ach_id}",
             f"**Execution Number**: {mm}", f"**Status**: {status}", "", "## 📖 What We're Building", "",
             "A small change.", "", "## 🔄 Iteration Log", "", "### Iteration 1", "", "- Wrote the test.", ""]
    if final:
        lines += ["## ✅ Completion Status", "", f"**Final Status**: {final}", ""]
    return "\n".join(lines) + "\n"


def feedback_doc(kind: str, ach_id: str, date: Optional[str]) -> str:
    title = {"APPROVED": "APPROVED", "FIX": "FIX REQUIRED", "RESOLUTION": "FIX RESOLUTION",
             "SKIPPED": "SKIPPED"}[kind]
    lines = [f"# {title}: Achievement {ach_id}", ""]
    field_name = {"RESOLUTION": "Resolution Date", "SKIPPED": "Date"}.get(kind, "Review Date")
    if date:
        lines.append(f"**{field_name}**: {date}")
    lines.append("**Status**: ✅ done" if kind != "FIX" else "**Status**: ⚠️ NEEDS FIXES")
    if kind == "FIX":
        lines += ["", "## Summary", "", "Two problems.", "", "## Issues Found", "",
                  "### Critical Issues (must fix)", "", "1. **Ledger grows without bound**", "",
                  "   See `src/ledger.py:40-71`.", "", "### Minor Issues (should fix)", "", "- Log wording.",
                  "", "## What Worked Well", "", "- The tests.", ""]
    return "\n".join(lines) + "\n"


def feedback_name(kind: str, code: str) -> str:
    return f"FIX_{code}_RESOLUTION.md" if kind == "RESOLUTION" else f"{kind}_{code}.md"


def parallel_doc(feature: str, items: list[tuple[str, list[str]]], level: str = "level_2",
                 broken: bool = False) -> str:
    if broken:
        return '{"plan_name": "' + feature + '", "achievements": [ {"achievement_id": '
    doc = {"plan_name": feature, "parallelization_level": level, "created_date": "2025-02-02",
           "achievements": [{"achievement_id": i, "dependencies": deps} for i, deps in items]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------------------------- layouts


def plan_dir_of(feature: str, layout: str) -> str:
    """`nested` -> plans/F, `category` -> plans/a_paused/F, `flat` -> plans/a_paused (flat PLAN file)."""
    return {"nested": f"plans/{feature}", "category": f"{FLAT_DIR}/{feature}", "flat": FLAT_DIR}[layout]


def doc_dirs(plan_dir: str, layout: str) -> tuple[str, str, str]:
    """(subplans dir, execution dir, feedbacks dir) where R-LAYOUT-4 puts a plan's new files."""
    if layout == "flat":
        return "subplans", "execution", f"{plan_dir}/execution/feedbacks"
    return f"{plan_dir}/subplans", f"{plan_dir}/execution", f"{plan_dir}/execution/feedbacks"


@st.composite
def plan_files(draw, feature: str, layout: str) -> dict[str, str]:
    """One plan with a few achievements and their SUBPLAN / EXECUTION / feedback files."""
    files: dict[str, str] = {}
    plan_dir = plan_dir_of(feature, layout)
    sub_dir, exe_dir, fb_dir = doc_dirs(plan_dir, layout)
    ids = draw(st.lists(st.sampled_from(ACH_IDS), min_size=0, max_size=4, unique=True))
    ids.sort(key=lambda i: tuple(int(p) for p in i.split(".")))
    decls = [(i, draw(st.sampled_from(TITLES)), draw(st.sampled_from(("D1", "D2", "D3")))) for i in ids]
    pointer = draw(st.none() | st.sampled_from(ACH_IDS))
    padding = draw(st.sampled_from((0, 0, 30)))
    files[f"{plan_dir}/PLAN_{feature}.md"] = plan_doc(feature, decls, pointer, "🚀 In Progress", padding)
    for ach_id in ids:
        code = code_of(ach_id)
        stage = draw(st.integers(0, 3))  # 0 nothing, 1 subplan, 2 + executions, 3 + feedback
        if stage >= 1:
            files[f"{sub_dir}/SUBPLAN_{feature}_{code}.md"] = subplan_doc(
                feature, ach_id, draw(st.sampled_from(SUB_STATUSES)), draw(st.integers(0, 2)))
        if stage >= 2:
            for mm in range(1, draw(st.integers(1, 2)) + 1):
                final = draw(st.none() | st.sampled_from(EXEC_STATUSES))
                suffix = draw(st.sampled_from(("", "", "", "_V2", "_RECOVERY")))
                files[f"{exe_dir}/EXECUTION_TASK_{feature}_{code}_{mm:02d}{suffix}.md"] = execution_doc(
                    feature, ach_id, f"{mm:02d}", draw(st.sampled_from(EXEC_STATUSES)), final)
        if stage >= 3:
            for kind in draw(st.lists(st.sampled_from(FEEDBACK_KINDS), min_size=1, max_size=3, unique=True)):
                folder = exe_dir if kind == "SKIPPED" and draw(st.booleans()) and layout != "flat" else fb_dir
                files[f"{folder}/{feedback_name(kind, code)}"] = feedback_doc(
                    kind, ach_id, draw(st.none() | st.sampled_from(DATES)))
    if ids and layout != "flat" and draw(st.integers(0, 2)) == 0:
        items = []
        for k, ach_id in enumerate(ids):
            deps = draw(st.lists(st.sampled_from(ids[:k] or [ach_id]), max_size=2, unique=True)) if k else []
            items.append((ach_id, deps))
        if draw(st.integers(0, 4)) == 0 and len(items) > 1:
            items[0] = (items[0][0], [items[-1][0]])  # a cycle: invalid-parallel-json
        files[f"{plan_dir}/parallel.json"] = parallel_doc(feature, items, broken=draw(st.integers(0, 6)) == 0)
    return files


@st.composite
def workspaces(draw) -> dict[str, bytes]:
    """1-3 plans (nested, in a category folder, or flat in plans/a_paused), sometimes extras."""
    features = draw(st.lists(st.sampled_from(FEATURES), min_size=1, max_size=3, unique=True))
    files: dict[str, str] = {}
    for feature in features:
        layout = draw(st.sampled_from(("nested", "nested", "category", "flat")))
        files.update(draw(plan_files(feature, layout)))
    if draw(st.booleans()):  # an archived copy and an orphan
        f = features[0]
        files[f"archive/SUBPLAN_{f}_11_ARCHIVED.md"] = subplan_doc(f, "1.1", "✅ Complete", 0)
    if draw(st.integers(0, 3)) == 0:
        files[f"subplans/SUBPLAN_{ORPHAN_FEATURE}_01.md"] = subplan_doc(ORPHAN_FEATURE, "0.1", "In Progress", 0)
    return {p: t.encode("utf-8") for p, t in files.items()}


# ------------------------------------------------------------------------------------- disk


@dataclass
class Disk:
    """Writes files with unique, old mtimes so the stat shortcut (not only re-hashing) is exercised.

    Files written "now" are racily clean and always re-hashed by the engine; with mtimes far in the past
    and a fresh one for every write, a changed file always has a changed stat and an unchanged file keeps
    its stat, which is the normal case the shortcut is built for.
    """

    root: str
    clock: int = field(default=1_600_000_000)

    def tick(self) -> int:
        self.clock += 7
        return self.clock

    def path(self, rel: str) -> str:
        return os.path.join(self.root, *rel.split("/"))

    def write(self, rel: str, data: bytes, *, in_place: bool = True, mtime: str = "old") -> int:
        """Write `data`; `mtime` is "old" (a fresh tick far in the past), "now" (left as written) or
        "future" (10 minutes ahead: the file stays racily clean for the next builds). Returns mtime_ns."""
        full = self.path(rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if in_place or not os.path.exists(full):
            with open(full, "wb") as fh:
                fh.write(data)
        else:  # atomic replace: new inode
            tmp = full + ".tmp-wsgen"
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, full)
        if mtime == "old":
            t = self.tick()
            os.utime(full, (t, t))
        elif mtime == "future":
            t = time.time_ns() + 600 * 10**9
            os.utime(full, ns=(t, t))
        return os.stat(full).st_mtime_ns

    def read(self, rel: str) -> bytes:
        with open(self.path(rel), "rb") as fh:
            return fh.read()

    def touch(self, rel: str) -> None:
        t = self.tick()
        os.utime(self.path(rel), (t, t))

    def remove(self, rel: str) -> None:
        os.remove(self.path(rel))

    def rename(self, rel: str, new_rel: str) -> None:
        dst = self.path(new_rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.replace(self.path(rel), dst)

    def documents(self) -> list[str]:
        """Every file outside `.promptgen/`, sorted (relative POSIX paths)."""
        out = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if d != ".promptgen"]
            for name in filenames:
                rel = os.path.relpath(os.path.join(dirpath, name), self.root).replace(os.sep, "/")
                out.append(rel)
        return sorted(out)


def scratch_dir(prefix: str) -> str:
    """A fresh temporary folder, on tmpfs (/dev/shm) when available: builds fsync their state, and on a
    loaded disk the fsyncs would dominate the run time of the property tests."""
    shm = "/dev/shm"
    base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None
    return tempfile.mkdtemp(prefix=prefix, dir=base)


def write_workspace(root: str, files: dict[str, bytes]) -> Disk:
    disk = Disk(root)
    for rel in sorted(files):
        disk.write(rel, files[rel])
    return disk


def write_config(root: str, size_cap_mib: Optional[float] = None, extra: str = "") -> None:
    state = os.path.join(root, ".promptgen")
    os.makedirs(state, exist_ok=True)
    text = "" if size_cap_mib is None else f"size_cap_mib = {size_cap_mib}\n"
    with open(os.path.join(state, "config.toml"), "w", encoding="utf-8") as fh:
        fh.write(text + extra)


def copy_clean(src: str, dst: str) -> None:
    """Copy the workspace (not the build state) and the configuration only."""
    shutil.copytree(src, dst, symlinks=True, ignore=lambda d, names: [".promptgen"] if d == src else [])
    config = os.path.join(src, ".promptgen", "config.toml")
    if os.path.exists(config):
        os.makedirs(os.path.join(dst, ".promptgen"))
        shutil.copy2(config, os.path.join(dst, ".promptgen", "config.toml"))


def read_tree(root: str) -> dict[str, bytes]:
    """{relative path: bytes} of every file under `root` (missing root: empty)."""
    out: dict[str, bytes] = {}
    for dirpath, _dirs, filenames in os.walk(root):
        for name in filenames:
            full = os.path.join(dirpath, name)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, root).replace(os.sep, "/")] = fh.read()
    return out

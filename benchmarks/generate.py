#!/usr/bin/env python3
"""Synthetic methodology workspace generator for the benchmarks (not a test fixture).

    python benchmarks/generate.py OUT --docs N [--seed S] [--json]

Writes a workspace of about N node documents (PLAN, SUBPLAN, EXECUTION_TASK, feedback files and
parallel.json) under OUT, deterministically from the seed (same N and seed -> byte-identical files and
the same fixed mtimes). Shapes follow the methodology spec (sections 2-7) and the fixture workspace:

* plans of 10-25 achievements, nested under `plans/`, under category folders (`plans/a_paused/...`,
  `plans/a_real-use-cases/...`, ...) and under `backlog-plans/`;
* a few flat plans (`plans/<category>/PLAN_F.md`) whose SUBPLANs / EXECUTION_TASKs live in the
  workspace-level `subplans/` and `execution/` folders, and a few nested plans split across layouts;
* declaration styles D1 (`**Achievement 2.1**: Title`), D2 (`**Achievement 2.1: Title** ...`) and D3
  index lists; a few plans with three-component ids (`3.5.1`);
* executions with `_V2` revisions and `_RECOVERY` re-runs, APPROVED / FIX / FIX_..._RESOLUTION /
  SKIPPED feedback, some plans without any feedback folder, some `parallel.json`;
* archived copies in `archive/`, and some non-node files (README, NORTH_STAR_, marker `.txt` files,
  `documentation/`) that the tool must skip.

Document sizes are 2-30 KB with a mean of about 8 KB: each document's structural core is padded with
realistic Markdown (iteration logs, tables, lists, code fences) that never adds declarations or
status lines. All file mtimes are set to a fixed past time (`BASE_MTIME`) so that a build right after
generation does not meet "racily clean" files (see docs/PERFORMANCE.md, pitfalls).

The module also offers the mutations the benchmark scenarios need: `add_plan`, `plan_dirs`,
`execution_files`, `edit_file`, `touch_all`.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sys
import time

BASE_MTIME = 1735689600  # 2025-01-01T00:00:00Z: far enough in the past to never be "racy"
MIN_SIZE = 2 * 1024
MAX_SIZE = 30 * 1024
# lognormal size distribution (before clipping to MIN..MAX): median ~6.3 KB, mean ~8 KB overall
SIZE_MU = math.log(6100)
SIZE_SIGMA = 0.62

ADJ = ("ORBIT AMBER BASALT CEDAR COBALT DELTA EMBER FABLE GARNET HARBOR INDIGO JASPER KESTREL LANTERN "
       "MARBLE NIMBUS ONYX PRISM QUILL RAVEN SABLE TIDAL UMBER VESPER WILLOW ZEPHYR ASPEN BRAMBLE "
       "CINDER DUNE FLINT GLACIER HOLLOW IRON JUNIPER KELP LUMEN MOSS NECTAR OPAL").split()
NOUN = ("SYNC LEDGER INDEX FORGE RELAY GATEWAY CATALOG PIPELINE BRIDGE VAULT BEACON COMPASS ATLAS "
        "HARVEST SIGNAL CANVAS MIRROR ANCHOR ORCHARD TRELLIS KERNEL SPOOL TUNNEL LOOM BEACH FOUNDRY "
        "ARCHIVE METRICS ROUTER SCHEDULER").split()
TOPIC_VERB = ("Wire Persist Validate Refactor Extract Index Cache Stream Batch Shard Migrate Audit Trace "
              "Document Benchmark Harden Backfill Deduplicate Normalise Export Import Reconcile Profile "
              "Parallelise Retire").split()
TOPIC_OBJ = ("the heartbeat channel|relay cursors|the ingestion queue|consumer offsets|the schema registry|"
             "billing events|the search index|audit trails|the retry policy|session tokens|"
             "the nightly export|vessel identifiers|the metrics exporter|the config loader|"
             "the permissions model|feature flags|the alert router|the cost report|graph snapshots|"
             "the entity resolver|the prompt templates|chunk embeddings|the observability stack|"
             "the plan parser|the execution tracker|the CLI entry point|cache invalidation|"
             "the dependency graph|legacy v1 clients|the storage layer").split("|")
PEOPLE = ("Dana Whitcombe|Malik Osei|Priya Raman|Jonas Eklund|Ines Carvalho|Tomasz Wrona|Aiko Tanaka|"
          "Leon Fischer").split("|")
WORDS = ("relay consumer cursor shard queue schema index cache batch stream latency throughput retry "
         "backoff snapshot replica ledger invoice export import parser tracker template prompt graph "
         "node edge hash digest manifest checkpoint rollback migration fixture harness benchmark "
         "regression baseline threshold budget window partition offset watermark heartbeat timeout "
         "handshake payload frame buffer worker scheduler pipeline stage artifact report summary "
         "reviewer approval feedback iteration hypothesis evidence metric dashboard alert runbook").split()
LANGS = ("python", "bash", "json", "yaml", "sql")
STATUS_EXEC_OPEN = ("In Progress", "🔄 In Progress", "🎯 Executing", "📋 Ready for Execution",
                    "🚀 Starting Execution", "🚧 In Progress", "⏳ In Progress")
STATUS_EXEC_DONE = ("✅ Complete", "✅ COMPLETE", "Complete", "✅ **COMPLETE**")
STATUS_SUBPLAN = ("In Progress", "📋 Design Phase", "🎯 Executing", "Design Phase", "✅ Complete",
                  "Not Started", "🎯 Ready to Execute", "📋 Design Phase Complete",
                  "Design Complete, Ready for Execution")
STATUS_PLAN = ("🚀 In Progress", "🎯 Active (Design Phase)", "Planning", "⏸️ Paused", "🚀 Active")
MARKERS = ("end.txt", "completed.txt", "waiting.txt", "pause.txt", "stop.txt")
CATEGORY_NAMES = ("a_paused", "a_real-use-cases", "a_archive-candidates", "a_experiments")


# --------------------------------------------------------------------------------------------------
# Padding: pools of realistic Markdown blocks (no declarations, no status lines, no achievement ids)


class Pools:
    """Pre-rendered Markdown blocks; padding samples them (fast, and deterministic from the rng)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.paragraphs = [self._paragraph() for _ in range(400)]
        self.lists = [self._list() for _ in range(160)]
        self.tables = [self._table() for _ in range(120)]
        self.code = [self._code() for _ in range(80)]

    def _sentence(self) -> str:
        r = self.rng
        n = r.randint(8, 20)
        words = [r.choice(WORDS) for _ in range(n)]
        if r.random() < 0.3:
            words.insert(r.randint(0, n), f"`{r.choice(WORDS)}_{r.choice(WORDS)}.py`")
        if r.random() < 0.2:
            words.insert(r.randint(0, n), f"{r.randint(2, 480)} ms")
        s = " ".join(words)
        return s[0].upper() + s[1:] + ("." if r.random() < 0.92 else "!")

    def _paragraph(self) -> str:
        return " ".join(self._sentence() for _ in range(self.rng.randint(2, 6)))

    def _list(self) -> str:
        r = self.rng
        numbered = r.random() < 0.35
        items = []
        for i in range(r.randint(3, 8)):
            lead = f"{i + 1}." if numbered else "-"
            text = self._sentence()
            if r.random() < 0.3:
                text = f"**{r.choice(WORDS).title()} {r.choice(WORDS)}**: {text}"
            if r.random() < 0.2:
                text = f"[{'x' if r.random() < 0.6 else ' '}] {text}" if not numbered else text
            items.append(f"{lead} {text}")
            if r.random() < 0.2:
                items.append(f"   - {self._sentence()}")
        return "\n".join(items)

    def _table(self) -> str:
        r = self.rng
        cols = r.randint(3, 5)
        head = ["Metric", "Before", "After", "Delta", "Notes"][:cols]
        rows = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        for _ in range(r.randint(3, 9)):
            before = r.randint(10, 9000)
            after = max(1, int(before * r.uniform(0.2, 1.3)))
            cells = [f"{r.choice(WORDS)} {r.choice(WORDS)}", f"{before} ms", f"{after} ms",
                     f"{(after - before) * 100 // before:+d}%", r.choice(WORDS)][:cols]
            rows.append("| " + " | ".join(cells) + " |")
        return "\n".join(rows)

    def _code(self) -> str:
        r = self.rng
        lang = r.choice(LANGS)
        lines = []
        for _ in range(r.randint(3, 12)):
            a, b = r.choice(WORDS), r.choice(WORDS)
            if lang == "python":
                lines.append(r.choice([f"{a}_{b} = load_{a}(path, limit={r.randint(1, 99)})",
                                       f"def {a}_{b}(ctx):", f"    return ctx.{a}.get({b!r})",
                                       f"assert {a}.{b} == {r.randint(0, 9)}"]))
            elif lang == "bash":
                lines.append(r.choice([f"python -m pytest tests/test_{a}.py -q", f"grep -rn {a} src/",
                                       f"wc -l {a}/{b}*.md", f"time ./run {a} --{b}"]))
            elif lang == "json":
                lines.append(f'  "{a}_{b}": {r.randint(0, 999)},')
            elif lang == "yaml":
                lines.append(f"{a}:\n  {b}: {r.randint(0, 99)}")
            else:
                lines.append(f"SELECT {a}, count(*) FROM {b} GROUP BY {a};")
        return f"```{lang}\n" + "\n".join(lines) + "\n```"

    def block(self) -> str:
        r = self.rng.random()
        if r < 0.5:
            return self.rng.choice(self.paragraphs)
        if r < 0.72:
            return self.rng.choice(self.lists)
        if r < 0.9:
            return self.rng.choice(self.tables)
        return self.rng.choice(self.code)

    def pad_sections(self, current: int, target: int, headings: tuple, level: str = "##",
                     iteration: int = 0) -> str:
        """Sections of blocks until `current + len(result)` reaches `target` bytes."""
        out: list[str] = []
        size = current
        k = 0
        while size < target:
            if iteration:
                head = f"{level} Iteration {iteration + k}"
            else:
                head = f"{level} {headings[k % len(headings)]}" + (f" ({k // len(headings) + 1})"
                                                                    if k >= len(headings) else "")
            parts = [head, ""]
            for _ in range(self.rng.randint(2, 4)):
                parts += [self.block(), ""]
            if iteration and self.rng.random() < 0.3:  # iteration logs repeat status lines (spec 5.3)
                parts += [f"**Status**: ✅ Phase {iteration + k} complete - ready for the next step", ""]
            text = "\n".join(parts) + "\n"
            if out and size + len(text.encode()) > MAX_SIZE:
                break  # keep documents under MAX_SIZE (cores above it stay as they are)
            out.append(text)
            size += len(text.encode())
            k += 1
        return "".join(out)


def draw_size(rng: random.Random) -> int:
    return int(min(MAX_SIZE, max(MIN_SIZE, rng.lognormvariate(SIZE_MU, SIZE_SIGMA))))


# --------------------------------------------------------------------------------------------------
# One plan


def code_of(aid: str) -> str:
    return aid.replace(".", "")


def _date(rng: random.Random, day0: int, spread: int = 60) -> str:
    t = time.gmtime(BASE_MTIME - 86400 * 400 + 86400 * (day0 + rng.randint(0, spread)))
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"


def _title(rng: random.Random) -> str:
    return f"{rng.choice(TOPIC_VERB)} {rng.choice(TOPIC_OBJ)}"


def achievement_ids(rng: random.Random, n: int, three_level: bool) -> list[str]:
    """n ids grouped in priorities 0..k (codes never collide: at most 9 per priority, < 10 priorities)."""
    ids: list[str] = []
    prio = 0
    while len(ids) < n:
        count = min(rng.randint(2, 6), n - len(ids))
        for j in range(1, count + 1):
            ids.append(f"{prio}.{j}")
        prio += 1
    if three_level and len(ids) >= 4:
        # replace the last achievement of one priority by three sub-achievements (3.5.1 style)
        base = ids[-2]
        ids = ids[:-2] + [f"{base}.1", f"{base}.2"] + ids[-1:]
    return ids


class PlanGen:
    """Generates the files of one plan as {relative path: text} (+ parallel.json)."""

    def __init__(self, rng: random.Random, pools: Pools, feature: str) -> None:
        self.rng, self.pools, self.feature = rng, pools, feature

    def plan(self, ids: list[str], titles: dict, style: str, pointer: str | None, day0: int) -> str:
        r, F = self.rng, self.feature
        lines = [f"# PLAN: {F.replace('-', ' ').title()}", "", "**Type**: PLAN",
                 f"**Status**: {r.choice(STATUS_PLAN)}", f"**Created**: {_date(r, day0, 5)} 09:00 UTC",
                 f"**Priority**: {r.choice(('HIGH', 'MEDIUM', 'LOW'))}",
                 f"**Archive Location**: `./{F.lower()}-archive/`", "", "---", ""]
        if style in ("D1+D3", "D3+D1"):
            lines += ["## 📋 Achievement Index", "", "**Achievements, grouped by priority**:", ""]
            prio = None
            for aid in ids:
                p = aid.split(".")[0]
                if p != prio:
                    lines += ["", f"**Priority {p}: {r.choice(WORDS).upper()}**", ""]
                    prio = p
                mark = "✅ " if r.random() < 0.2 else ""
                lines.append(f"- {mark}Achievement {aid}: {titles[aid]}")
            lines += ["", "---", ""]
        lines += ["## 🎯 Goal", "", self.pools.block(), "", "---", "",
                  "## 🎯 Desirable Achievements", ""]
        for aid in ids:
            if style == "D2":
                lines.append(f"**Achievement {aid}: {titles[aid]}** ⏱️ {r.randint(1, 8)} hours")
            else:
                extra = r.choice(("", "", "", " ✅ **DONE**", f" ({r.randint(1, 4)}-{r.randint(5, 9)}h)",
                                  " ⚠️ **HIGH**"))
                lines.append(f"**Achievement {aid}**: {titles[aid]}{extra}")
            lines += ["", f"- **Goal**: {r.choice(self.pools.paragraphs)[:240]}",
                      f"- **Deliverables**: `{r.choice(WORDS)}_{r.choice(WORDS)}.py`, tests, a note in the guide",
                      f"- **Effort**: {r.randint(1, 8)} hours",
                      f"- **Success**: {r.choice(self.pools.paragraphs)[:160]}", ""]
        lines += ["---", "", "## ⏱️ Time Estimates", ""]
        for aid in ids[:5]:
            lines.append(f"- **Achievement {aid}**: {r.randint(1, 6)} hours")  # D3b: a mention
        lines += ["", "## 📊 Subplan Tracking", ""]
        for aid in ids[: max(1, len(ids) // 3)]:
            lines.append(f"### Achievement {aid}: {titles[aid]} 🔄 IN PROGRESS")
            lines.append("")
        core = "\n".join(lines) + "\n"
        handoff = ["", "## 📝 Current Status & Handoff", "", f"**Last Updated**: {_date(r, day0 + 60)}",
                   f"**Status**: {r.choice(STATUS_PLAN)}", "", "### Progress", "",
                   r.choice(self.pools.lists), "", "### Next Steps", ""]
        if pointer is not None:
            handoff.append(r.choice((f"**⏳ Next: Achievement {pointer}** ({titles.get(pointer, 'next')})",
                                     f"**Next Achievement**: {pointer} ({titles.get(pointer, 'next')})",
                                     f"- ⏳ Next: Achievement {pointer} ({titles.get(pointer, 'next')})")))
        else:
            handoff.append("**What's Next**: review the open work with the team.")
        handoff_text = "\n".join(handoff) + "\n"
        target = min(MAX_SIZE, max(draw_size(r), len(core.encode()) + 1024))
        pad = self.pools.pad_sections(len(core.encode()) + len(handoff_text.encode()), target,
                                      ("📚 Background", "🚨 Risk Notes", "📊 Metrics", "🧭 Scope",
                                       "🔗 References"))
        return core + "\n---\n\n" + pad + handoff_text + "\n## 📦 Archive Location\n\n`./archive/`\n"

    def subplan(self, aid: str, title: str, day0: int, planned: int) -> str:
        r, F = self.rng, self.feature
        shape = r.random()
        if shape < 0.6:
            ach = f"**Achievement**: {aid}"
        elif shape < 0.85:
            ach = f"**Achievement Addressed**: Achievement {aid} ({title})"
        else:
            ach = f"**Achievement**: {aid} - {title}"
        parent = r.choice((f"**Mother Plan**: PLAN_{F}.md", f"**Mother Plan**: PLAN_{F}.md",
                           f"**PLAN**: {F}", f"**Parent PLAN**: `PLAN_{F}.md`"))
        lines = [f"# SUBPLAN: {title}", "", "**Type**: SUBPLAN", parent, ach,
                 f"**Status**: {r.choice(STATUS_SUBPLAN)}", f"**Created**: {_date(r, day0)} 10:00 UTC",
                 f"**Estimated Effort**: {r.randint(1, 4)}-{r.randint(5, 9)} hours", "", "---", "",
                 "## 🎯 Objective", "", r.choice(self.pools.paragraphs), "",
                 "## 📋 What Needs to Be Created", "", r.choice(self.pools.lists), ""]
        if planned:
            lines += ["## 🔄 Active EXECUTION_TASKs", "", "| Execution | Focus | Status |", "|---|---|---|"]
            for mm in range(1, planned + 1):
                lines.append(f"| {code_of(aid)}_{mm:02d} | {r.choice(WORDS)} {r.choice(WORDS)} | planned |")
            lines.append("")
        core = "\n".join(lines) + "\n"
        return core + self.pools.pad_sections(len(core.encode()), draw_size(r),
                                              ("📝 Approach", "🧪 Tests Required", "✅ Expected Results",
                                               "⚠️ Risks", "📚 Notes"))

    def execution(self, aid: str, title: str, mm: int, suffix: str, done: bool, day0: int) -> str:
        r, F, nn = self.rng, self.feature, code_of(aid)
        header_status = r.choice(STATUS_EXEC_DONE) if (done and r.random() < 0.6) else r.choice(STATUS_EXEC_OPEN)
        sub = r.choice((f"**Subplan**: SUBPLAN_{F}_{nn}.md", f"**SUBPLAN**: SUBPLAN_{F}_{nn}.md",
                        f"**Parent SUBPLAN**: `SUBPLAN_{F}_{nn}.md` (full strategy)"))
        lines = [f"# EXECUTION_TASK: {title}, part {mm}" + (f" ({suffix})" if suffix else ""), "",
                 "**Type**: EXECUTION_TASK", sub, f"**Mother Plan**: PLAN_{F}.md", f"**Achievement**: {aid}",
                 f"**Execution Number**: {mm:02d}", f"**Started**: {_date(r, day0)} 11:00 UTC",
                 f"**Status**: {header_status}", "", "---", "", "## 📖 What We're Building", "",
                 r.choice(self.pools.paragraphs), "", "## 🔄 Iteration Log", ""]
        core = "\n".join(lines) + "\n"
        closing = ""
        if done:
            closing = ("\n## ✅ Completion Status\n\n**Status**: ✅ Complete\n"
                       f"**Completed**: {_date(r, day0 + 10)}\n")
        elif r.random() < 0.3:
            closing = "\n## ⏭️ Next Iteration\n\n" + r.choice(self.pools.lists) + "\n"
        learn = "\n## 📚 Learning Summary\n\n" + r.choice(self.pools.lists) + "\n"
        fixed = len(core.encode()) + len(closing.encode()) + len(learn.encode())
        iters = self.pools.pad_sections(fixed, draw_size(r), (), "###", iteration=1)
        return core + iters + learn + closing

    def feedback(self, kind: str, aid: str, title: str, date: str) -> str:
        r = self.rng
        who = r.choice(PEOPLE)
        if kind == "APPROVED":
            lines = [f"# APPROVED: Achievement {aid} - {title}", "", f"**Reviewer**: {who}",
                     f"**Review Date**: {date}",
                     f"**Status**: {r.choice(('✅ APPROVED', '✅ **APPROVED**', '✅ APPROVED (with process notes)'))}",
                     "", "## Summary", "", r.choice(self.pools.paragraphs), "", "## Strengths", "",
                     r.choice(self.pools.lists), ""]
            heads = ("Deliverables Verified", "Recommendations", "Evidence")
        elif kind == "FIX":
            lines = [f"# FIX REQUIRED: Achievement {aid}", "", f"**Reviewer**: {who}", f"**Review Date**: {date}",
                     "**Status**: ⚠️ NEEDS FIXES", "", "## Summary", "", r.choice(self.pools.paragraphs), "",
                     "## Issues Found", "", "### Critical Issues (must fix)", ""]
            for i in range(1, r.randint(2, 4)):
                lines += [f"{i}. **{r.choice(WORDS).title()} {r.choice(WORDS)} is not handled**",
                          f"   - {r.choice(self.pools.paragraphs)[:200]} (`{r.choice(WORDS)}/{r.choice(WORDS)}.py:{r.randint(10, 400)}`)",
                          ""]
            lines += ["### Minor Issues (should fix)", "", r.choice(self.pools.lists), "",
                      "## What Worked Well", "", r.choice(self.pools.lists), "", "## Next Steps", "",
                      f"Apply the critical fixes, then write FIX_{code_of(aid)}_RESOLUTION.md.", ""]
            heads = ("Evidence", "Reproduction", "Review Notes")
        elif kind == "RESOLUTION":
            lines = [f"# FIX RESOLUTION: Achievement {aid}", "", f"**Executor**: {who}",
                     f"**Resolution Date**: {date}", "**Status**: ✅ FIXES APPLIED", "", "## Summary", "",
                     r.choice(self.pools.paragraphs), "", "## Critical Issues Resolved", "",
                     r.choice(self.pools.lists), "", "## Verification", "", "- [x] All critical issues resolved",
                     "- [x] Tests passing", "", "## Request", "", "Ready for re-review.", ""]
            heads = ("Details", "Verification Log")
        else:
            lines = [f"# SKIPPED: Achievement {aid}", "", f"**Decided By**: {who}", f"**Date**: {date}",
                     f"**Reason**: {r.choice(self.pools.paragraphs)[:160]}", ""]
            heads = ("Context", "Consequences")
        core = "\n".join(lines) + "\n"
        return core + self.pools.pad_sections(len(core.encode()), draw_size(r), heads)

    def parallel(self, ids: list[str], titles: dict) -> str:
        r = self.rng
        items = []
        for i, aid in enumerate(ids):
            deps = sorted(set(r.sample(ids[:i], min(i, r.randint(0, 2))))) if i else []
            item = {"achievement_id": aid, "title": titles[aid], "dependencies": deps,
                    "estimated_hours": r.randint(1, 8)}
            if r.random() < 0.5:
                item["status"] = r.choice(("not_started", "in_progress", "complete"))
            items.append(item)
        doc = {"plan_name": self.feature, "parallelization_level": r.choice(("level_1", "level_2", "level_3")),
               "created_date": _date(r, 0), "achievements": items,
               "analysis_notes": [r.choice(self.pools.paragraphs) for _ in range(r.randint(1, 4))]}
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"

    def files(self, plan_dir: str, flat: bool, split: bool, with_feedback: bool,
              with_parallel: bool) -> dict:
        """{relative path: text} of the whole plan. `plan_dir` is P; flat plans put SUBPLANs and
        EXECUTION_TASKs in the workspace-level folders, `split` nested plans keep some SUBPLANs there."""
        r, F = self.rng, self.feature
        n = r.randint(10, 25)
        ids = achievement_ids(r, n, three_level=r.random() < 0.05)
        titles = {aid: _title(r) for aid in ids}
        style = r.choices(("D1+D3", "D1", "D2"), weights=(70, 22, 8))[0]
        day0 = r.randint(0, 200)
        progress = r.random() ** 0.8  # fraction of finished achievements
        n_done = int(progress * len(ids))
        out: dict = {}
        sub_dir = "subplans" if flat else f"{plan_dir}/subplans"
        exe_dir = "execution" if flat else f"{plan_dir}/execution"
        fb_dir = f"{plan_dir}/execution/feedbacks"
        for idx, aid in enumerate(ids):
            title, nn = titles[aid], code_of(aid)
            if idx < n_done:
                state = "done"
            elif idx == n_done:
                state = "active"
            elif r.random() < 0.15:
                state = "designed"  # SUBPLAN only
            else:
                continue
            adate = _date(r, day0 + idx * 3, 2)
            if with_feedback and state == "done" and r.random() < 0.06:
                out[f"{fb_dir}/SKIPPED_{nn}.md"] = self.feedback("SKIPPED", aid, title, adate)
                continue
            planned = r.randint(1, 3) if r.random() < 0.25 else 0
            sdir = "subplans" if (split and r.random() < 0.4) else sub_dir
            out[f"{sdir}/SUBPLAN_{F}_{nn}.md"] = self.subplan(aid, title, day0 + idx * 3, planned)
            if state == "designed":
                continue
            n_exec = r.choices((1, 2, 3), weights=(60, 28, 12))[0]
            for mm in range(1, n_exec + 1):
                last = mm == n_exec
                done = state == "done" or not last
                out[f"{exe_dir}/EXECUTION_TASK_{F}_{nn}_{mm:02d}.md"] = self.execution(
                    aid, title, mm, "", done if not (state == "done" and r.random() < 0.1) else False,
                    day0 + idx * 3)
                if r.random() < 0.06:
                    out[f"{exe_dir}/EXECUTION_TASK_{F}_{nn}_{mm:02d}_V2.md"] = self.execution(
                        aid, title, mm, "revision 2", done, day0 + idx * 3 + 1)
                elif r.random() < 0.02:
                    out[f"{exe_dir}/EXECUTION_TASK_{F}_{nn}_{mm:02d}_RECOVERY.md"] = self.execution(
                        aid, title, mm, "recovery", done, day0 + idx * 3 + 1)
            if with_feedback and state == "done":
                if r.random() < 0.15:
                    out[f"{fb_dir}/FIX_{nn}.md"] = self.feedback("FIX", aid, title, adate)
                    if r.random() < 0.5:
                        out[f"{fb_dir}/FIX_{nn}_RESOLUTION.md"] = self.feedback("RESOLUTION", aid, title, adate)
                if r.random() < 0.9:
                    out[f"{fb_dir}/APPROVED_{nn}.md"] = self.feedback("APPROVED", aid, title, adate)
            elif with_feedback and state == "active" and r.random() < 0.3:
                out[f"{fb_dir}/FIX_{nn}.md"] = self.feedback("FIX", aid, title, adate)
        open_ids = ids[n_done:]
        pointer = None
        if open_ids and r.random() < 0.5:
            pointer = open_ids[0] if r.random() < 0.85 else ids[0]  # sometimes stale
        out[f"{plan_dir}/PLAN_{F}.md"] = self.plan(
            ids, titles, style, pointer, day0)
        if with_parallel and not flat:
            out[f"{plan_dir}/parallel.json"] = self.parallel(ids, titles)
        return out


# --------------------------------------------------------------------------------------------------
# Workspace


def feature_name(rng: random.Random, used: set) -> str:
    while True:
        name = f"{rng.choice(ADJ)}-{rng.choice(NOUN)}"
        if name in used:
            name = f"{name}-{rng.randint(2, 999)}"
        if name not in used:
            used.add(name)
            return name


def _write(out: str, rel: str, text: str) -> int:
    path = os.path.join(out, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = text.encode("utf-8")
    with open(path, "wb") as fh:
        fh.write(data)
    os.utime(path, (BASE_MTIME, BASE_MTIME))
    return len(data)


def is_doc(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return name == "parallel.json" or (name.endswith(".md") and name.split("_", 1)[0] in
                                       ("PLAN", "SUBPLAN", "EXECUTION", "APPROVED", "FIX", "SKIPPED"))


def generate(out: str, docs: int, seed: int = 1, clean: bool = True) -> dict:
    """Write a workspace of about `docs` node documents under `out`; returns a summary dict."""
    rng = random.Random(seed)
    pools = Pools(random.Random(seed * 7919 + 1))
    if clean and os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out, exist_ok=True)
    used: set = set()
    est_plans = max(1, round(docs / 34))
    n_categories = max(len(CATEGORY_NAMES), est_plans // 25)
    categories = [CATEGORY_NAMES[i % len(CATEGORY_NAMES)] + (f"-{i // len(CATEGORY_NAMES) + 1:02d}"
                                                          if i >= len(CATEGORY_NAMES) else "")
                  for i in range(n_categories)]
    flat_used: set = set()
    counts: dict = {}
    sizes: list = []
    n_files = n_plans = n_flat = 0

    def emit(rel: str, text: str) -> None:
        nonlocal n_files
        size = _write(out, rel, text)
        n_files += 1
        if is_doc(rel):
            sizes.append(size)
            name = rel.rsplit("/", 1)[-1]
            kind = "parallel" if name == "parallel.json" else name.split("_", 1)[0]
            counts[kind] = counts.get(kind, 0) + 1

    emit("README.md", "# Work space\n\nPlans live in `plans/`.\n\n" + pools.block() + "\n")
    emit("documentation/GUIDE.md", "# Guide\n\n" + "\n\n".join(pools.block() for _ in range(6)) + "\n")
    while len(sizes) < docs:
        feature = feature_name(rng, used)
        where = rng.random()
        flat = False
        # every workspace gets its share of each variant: 1 flat plan in 25 (the 3rd first), 1 split
        # nested plan in 20, a parallel.json in 1 plan of 7
        if n_plans % 25 == 2 and len(flat_used) < len(categories):
            cat = next(c for c in categories if c not in flat_used)
            flat_used.add(cat)
            plan_dir, flat = f"plans/{cat}", True
        elif where < 0.42:
            plan_dir = f"plans/{feature}"
        elif where < 0.92:
            plan_dir = f"plans/{rng.choice(categories)}/{feature}"
        else:
            plan_dir = f"backlog-plans/{feature}"
        gen = PlanGen(rng, pools, feature)
        files = gen.files(plan_dir, flat=flat, split=(not flat and n_plans % 20 == 4),
                          with_feedback=rng.random() < 0.6, with_parallel=n_plans % 7 == 1)
        for rel in sorted(files):
            emit(rel, files[rel])
        n_plans += 1
        n_flat += flat
        # non-node files next to some plans
        if not flat and rng.random() < 0.08:
            emit(f"{plan_dir}/{rng.choice(MARKERS)}", "")
        if not flat and rng.random() < 0.05:
            emit(f"{plan_dir}/execution/EXECUTION_ANALYSIS_{feature}_REVIEW.md",
                 "# EXECUTION_ANALYSIS: review\n\n" + "\n\n".join(pools.block() for _ in range(8)) + "\n")
        if rng.random() < 0.03:
            emit(f"plans/NORTH_STAR_{feature}.md", "# North star\n\n" + pools.block() + "\n")
        if rng.random() < 0.03 and any(rel.startswith(f"{plan_dir}/subplans/") for rel in files):
            sub = sorted(rel for rel in files if "/subplans/SUBPLAN_" in rel)[0]
            name = sub.rsplit("/", 1)[-1][:-3] + "_ARCHIVED.md"
            emit(f"archive/{name}", files[sub])
    # all directories get the fixed time too (deterministic listings do not depend on it, but tidy)
    for d, _, _ in os.walk(out):
        os.utime(d, (BASE_MTIME, BASE_MTIME))
    total = sum(sizes)
    return {"out": out, "seed": seed, "docs": len(sizes), "files": n_files, "plans": n_plans,
            "flat_plans": n_flat, "by_kind": dict(sorted(counts.items())), "bytes": total,
            "mean_kb": round(total / max(1, len(sizes)) / 1024, 2),
            "min_kb": round(min(sizes) / 1024, 2) if sizes else 0,
            "max_kb": round(max(sizes) / 1024, 2) if sizes else 0}


# --------------------------------------------------------------------------------------------------
# Mutations used by the benchmark scenarios


def add_plan(out: str, seed: int, category: str | None = None) -> tuple[str, int]:
    """Add one new nested plan (unique feature name derived from the seed); returns (plan dir, docs)."""
    rng = random.Random(seed * 104729 + 17)
    pools = Pools(random.Random(seed * 7919 + 1))
    used = {n.split("/")[-1] for n in plan_dirs(out)}
    feature = f"ADDED-{feature_name(rng, used)}-{seed}"
    plan_dir = f"plans/{category}/{feature}" if category else f"plans/{feature}"
    files = PlanGen(rng, pools, feature).files(plan_dir, flat=False, split=False, with_feedback=True,
                                                with_parallel=False)
    for rel in sorted(files):
        _write(out, rel, files[rel])
    return plan_dir, len(files)


def plan_dirs(out: str) -> list[str]:
    """Relative folders of the nested plans (a folder D holding PLAN_<basename(D)>.md), sorted."""
    found = []
    for container in ("plans", "backlog-plans"):
        base = os.path.join(out, container)
        for d, dirs, files in os.walk(base):
            dirs[:] = [x for x in dirs if x not in ("subplans", "execution")]
            if f"PLAN_{os.path.basename(d)}.md" in files:
                found.append(os.path.relpath(d, out).replace(os.sep, "/"))
                dirs[:] = []
    return sorted(found)


def execution_files(out: str, plan_dir: str) -> list[str]:
    d = os.path.join(out, plan_dir, "execution")
    try:
        return sorted(f"{plan_dir}/execution/{n}" for n in os.listdir(d) if n.startswith("EXECUTION_TASK_"))
    except OSError:
        return []


def edit_file(out: str, rel: str, stamp: str) -> None:
    """Append an iteration note (content change, no status change)."""
    with open(os.path.join(out, rel), "a", encoding="utf-8") as fh:
        fh.write(f"\n### Iteration note {stamp}\n\n- Re-ran the benchmark harness; numbers recorded.\n")


def flip_status(out: str, rel: str) -> str:
    """Flip the header status of an EXECUTION_TASK between open and complete (a content edit that changes
    its plan's status); returns the new status."""
    path = os.path.join(out, rel)
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    for i, line in enumerate(lines):
        if line.startswith("**Status**: "):
            new = "🚧 In Progress" if line[len("**Status**: "):] in STATUS_EXEC_DONE else "✅ Complete"
            lines[i] = "**Status**: " + new
            break
    else:
        raise ValueError(f"{rel}: no status line")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    return new


def touch_all(out: str, mtime: float) -> int:
    """Set the mtime of every file (not under dot-folders) to `mtime`; returns the file count."""
    n = 0
    for d, dirs, files in os.walk(out):
        dirs[:] = [x for x in dirs if not x.startswith(".")]
        for name in files:
            os.utime(os.path.join(d, name), (mtime, mtime))
            n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="output folder (replaced if it exists)")
    ap.add_argument("--docs", type=int, default=1000, help="number of node documents (default 1000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    summary = generate(args.out, args.docs, args.seed)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{summary['docs']} documents ({summary['files']} files) in {summary['plans']} plans "
              f"({summary['flat_plans']} flat) under {summary['out']}; mean {summary['mean_kb']} KB, "
              f"min {summary['min_kb']} KB, max {summary['max_kb']} KB; by kind {summary['by_kind']}; "
              f"{summary['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

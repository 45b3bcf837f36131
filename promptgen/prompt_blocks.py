"""Building blocks of the prompts: paths, quoted excerpts, header contracts, tables and lists.

Every function here is pure: it reads the parsed model / derived status only (never the file system,
never the clock, never the current directory) and returns Markdown text. The templates in
`promptgen/templates/` hold the fixed wording; loops and conditionals live here.
"""
from __future__ import annotations

import re
from typing import Iterable, NamedTuple, Optional

from promptgen.documents import (
    Diagnostic,
    ExecutionDoc,
    FeedbackDoc,
    FixDetails,
    FixIssue,
    SubplanDoc,
    id_code,
    id_key,
    number_key,
)
from promptgen.results import (
    AchievementFiles,
    AchievementStatus,
    PlanInfo,
    PlanModel,
    PlanStatus,
)

HANDOFF_MAX_LINES = 40
TERMINAL_STATES = ("approved", "skipped")
FEEDBACK_ACTIONS = ("apply_fixes", "review_resolution", "review")
DATE_PLACEHOLDER = "<YYYY-MM-DD>"


# --------------------------------------------------------------------------------------------- paths


def join(*parts: Optional[str]) -> str:
    """Join workspace-relative POSIX path parts (empty parts are dropped)."""
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def subplans_dir(info: PlanInfo) -> str:
    """R-LAYOUT-4: `P/subplans/` for nested plans, `<root>/subplans/` for flat plans."""
    return join(info.plan_dir, "subplans") if info.layout == "nested" else "subplans"


def execution_dir(info: PlanInfo) -> str:
    return join(info.plan_dir, "execution") if info.layout == "nested" else "execution"


def feedback_dir(info: PlanInfo) -> str:
    """Feedback always goes to `P/execution/feedbacks/` (R-LAYOUT-4); ends with '/'."""
    return join(info.plan_dir, "execution", "feedbacks") + "/"


def feedback_folder(status: AchievementStatus, info: PlanInfo) -> str:
    target = status.target
    if target and target.endswith("/"):
        return target
    return feedback_dir(info)


def intended_path(info: PlanInfo, files: AchievementFiles, status: AchievementStatus) -> Optional[str]:
    """The file the action would write if its name were safe (used to explain a null target)."""
    code, action = status.code, status.action
    feature = info.name
    if action == "create_subplan":
        return join(subplans_dir(info), f"SUBPLAN_{feature}_{code}.md")
    if action in ("create_execution", "create_next_execution"):
        mm = status.next_mm or "01"
        return join(execution_dir(info), f"EXECUTION_TASK_{feature}_{code}_{mm}.md")
    if action == "apply_fixes":
        return feedback_dir(info) + f"FIX_{code}_RESOLUTION.md"
    if action in ("review", "review_resolution"):
        return feedback_dir(info)
    if action == "continue_execution":
        open_slots = [s for s in slots(files.executions) if s.status in ("open", "blocked")]
        return open_slots[0].governing.path if open_slots else None
    return None


# ------------------------------------------------------------------------------------------- quoting


def fence(text: str, info: str = "markdown") -> str:
    """Quote `text` in a code fence longer than any backtick run inside it."""
    body = text.strip("\n")
    if not body.strip():
        return "_(empty)_"
    # longer than any backtick run, at least 3: only a run of 3 or more makes it longer than 3
    marks = "`" * (max(len(m) for m in re.findall(r"`+", body)) + 1) if "```" in body else "```"
    return f"{marks}{info}\n{body}\n{marks}"


def code(text: str) -> str:
    """Inline code span that survives backticks inside `text`."""
    if "`" not in text:
        return f"`{text}`"
    return f"`` {text} ``"


def cap_lines(text: str, limit: int, where: str) -> str:
    lines = text.strip("\n").splitlines()
    if len(lines) <= limit:
        return "\n".join(lines)
    kept = lines[:limit]
    kept.append(f"[... {len(lines) - limit} more lines; see {where}]")
    return "\n".join(kept)


def indent(text: str, prefix: str = "   ") -> str:
    return "\n".join((prefix + line) if line.strip() else "" for line in text.strip("\n").splitlines())


# -------------------------------------------------------------------------------------------- slots


class Slot(NamedTuple):
    """One execution slot (NN, MM) of an achievement: its files and governing revision (section 5.4)."""

    mm: str
    files: tuple[ExecutionDoc, ...]
    governing: ExecutionDoc

    @property
    def status(self) -> str:
        return self.governing.status


def _mm_num(mm: str) -> tuple | str:
    """An execution number's identity (`01` and `1` are one slot), any length (no `int()`)."""
    try:
        return number_key(mm)
    except ValueError:
        return mm


def _mm_key(mm: str) -> tuple:
    num = _mm_num(mm)
    return (0, num, mm) if isinstance(num, tuple) else (1, (), mm)


def slots(executions: Iterable[ExecutionDoc]) -> list[Slot]:
    groups: dict[tuple | str, list[ExecutionDoc]] = {}
    for doc in executions:
        key = _mm_num(doc.mm)
        groups.setdefault(key, []).append(doc)
    out = []
    for docs in groups.values():
        ordered = tuple(sorted(docs, key=lambda d: (d.revision, d.path)))
        out.append(Slot(mm=ordered[-1].mm, files=ordered, governing=ordered[-1]))
    out.sort(key=lambda s: _mm_key(s.mm))
    return out


def planned_mms(subplan: Optional[SubplanDoc]) -> list[str]:
    if subplan is None:
        return []
    mms = {slot.rsplit("_", 1)[-1] for slot in subplan.planned_slots}
    return sorted(mms, key=_mm_key)


# -------------------------------------------------------------------------------------- diagnostics


def _diag_key(d: Diagnostic) -> tuple:
    return (d.path, d.line or 0, d.code, d.message, d.detail or "")


_plan_diags: list = [None, None, {}]  # the last (model, status) and its diagnostics by achievement / path


def _plan_diagnostics(model: PlanModel, status: PlanStatus) -> dict[tuple, list[tuple[int, Diagnostic]]]:
    """The plan's own errors and warnings (model, then status), with their positions, by ("a", id) or,
    without an achievement, by ("p", path). Kept for the last plan: its prompts are rendered one after
    the other, and scanning every plan diagnostic per achievement made plans with thousands of
    achievements quadratic."""
    if _plan_diags[0] is not model or _plan_diags[1] is not status:
        index: dict[tuple, list[tuple[int, Diagnostic]]] = {}
        for n, d in enumerate((*model.diagnostics, *status.diagnostics)):
            if d.severity in ("error", "warning"):
                key = ("a", d.achievement) if d.achievement is not None else ("p", d.path)
                index.setdefault(key, []).append((n, d))
        _plan_diags[:] = [model, status, index]
    return _plan_diags[2]


def achievement_diagnostics(model: PlanModel, status: PlanStatus, files: AchievementFiles) -> list[Diagnostic]:
    """Errors and warnings that concern one achievement or one of its files (deduplicated, sorted)."""
    paths = {files.subplan.path} if files.subplan else set()
    paths |= {d.path for d in files.archived_subplans}
    paths |= {d.path for d in files.executions}
    paths |= {d.path for d in files.feedback}
    index = _plan_diagnostics(model, status)
    mine = list(index.get(("a", files.id), ()))
    for path in paths:
        mine.extend(index.get(("p", path), ()))
    pool: list[Diagnostic] = [d for _, d in sorted(mine, key=lambda nd: nd[0])]  # the plan's order
    docs: list = [files.subplan] if files.subplan else []
    docs += list(files.archived_subplans) + list(files.executions) + list(files.feedback)
    for doc in docs:
        pool.extend(doc.diagnostics)
    seen: dict[tuple, Diagnostic] = {}
    for d in pool:
        if d.severity not in ("error", "warning"):
            continue
        if d.achievement != files.id and not (d.achievement is None and d.path in paths):
            continue
        seen.setdefault(_diag_key(d), d)
    return [seen[k] for k in sorted(seen)]


def diagnostic_line(d: Diagnostic) -> str:
    where = code(d.path) + (f" line {d.line}" if d.line else "")
    detail = f" ({d.detail})" if d.detail else ""
    return f"- {d.severity} `{d.code}` on {where}: {d.message}{detail}"


def diagnostics_block(diags: list[Diagnostic]) -> str:
    if not diags:
        return ""
    lines = ["## Diagnostics for this achievement", ""]
    lines += [diagnostic_line(d) for d in diags]
    return "\n".join(lines)


def status_conflicts(model: PlanModel, doc: ExecutionDoc) -> list[Diagnostic]:
    found = {_diag_key(d): d for d in doc.diagnostics if d.code == "status-conflict"}
    for d in model.diagnostics:
        if d.code == "status-conflict" and d.path == doc.path:
            found.setdefault(_diag_key(d), d)
    return [found[k] for k in sorted(found)]


# ---------------------------------------------------------------------------------- context blocks


def achievement_block(model: PlanModel, files: AchievementFiles) -> str:
    block = model.plan.achievement_blocks.get(files.id, "")
    if block.strip():
        return fence(block)
    return (
        "_The PLAN has no achievement section for this id; its declaration reads:_\n\n"
        + fence(f"**Achievement {files.id}**: {files.title}")
    )


def handoff_block(model: PlanModel, status: PlanStatus) -> str:
    plan = model.plan
    head = f"## Handoff excerpt (from {code(model.info.plan_file)}, at most {HANDOFF_MAX_LINES} lines)"
    excerpt = plan.handoff_excerpt.strip("\n")
    if not excerpt.strip():
        note = "The PLAN has a handoff section, but it is empty." if plan.has_handoff else (
            "The PLAN has no `Current Status & Handoff` section.")
        return f"{head}\n\n{note}"
    body = fence(cap_lines(excerpt, HANDOFF_MAX_LINES, "the handoff section of the PLAN"))
    pointer = ""
    if status.handoff_pointer:
        pointer = f"\n\nThe handoff points at achievement {status.handoff_pointer}."
    return f"{head}\n\n{body}{pointer}"


def dependencies_block(status: PlanStatus, achievement_id: str) -> str:
    """Dependencies with their states; only with a valid parallel.json (empty text otherwise)."""
    par = status.parallel
    if par is None or not par.valid:
        return ""
    head = f"## Dependencies (from {code(par.file)})"
    if achievement_id not in par.dependencies:
        return f"{head}\n\nAchievement {achievement_id} is not listed in the parallel.json file."
    deps = par.dependencies[achievement_id]
    if not deps:
        return f"{head}\n\nNone: achievement {achievement_id} does not depend on other achievements."
    by_id = {a.id: a for a in status.achievements}
    lines = [head, ""]
    for dep in sorted(deps, key=_safe_id_key):
        ach = by_id.get(dep)
        if ach is None:
            lines.append(f"- {dep}: not declared by the PLAN")
            continue
        done = "done" if ach.state in TERMINAL_STATES else "NOT done"
        lines.append(f"- {dep} {ach.title}: `{ach.state}` ({done})")
    open_deps = [d for d in deps if by_id.get(d) is None or by_id[d].state not in TERMINAL_STATES]
    if open_deps:
        lines += ["", "Some dependencies are not approved or skipped yet: build only on what they have "
                      "already delivered and say so in your file."]
    return "\n".join(lines)


def diagnostics_for(model: PlanModel, status: PlanStatus, files: AchievementFiles) -> str:
    return diagnostics_block(achievement_diagnostics(model, status, files))


# ---------------------------------------------------------------------------------- header contracts


def _contract(lines: list[str]) -> str:
    return fence("\n".join(lines))


def subplan_header(info: PlanInfo, files: AchievementFiles) -> str:
    return _contract([
        f"# SUBPLAN: {files.title}",
        "",
        "**Type**: SUBPLAN",
        f"**Mother Plan**: {basename(info.plan_file)}",
        f"**Achievement**: {files.id}",
        "**Status**: 📋 Design Phase",
        f"**Created**: {DATE_PLACEHOLDER}",
    ])


def execution_header(info: PlanInfo, files: AchievementFiles, subplan_path: Optional[str], mm: str) -> str:
    subplan_name = basename(subplan_path) if subplan_path else f"SUBPLAN_{info.name}_{files.code}.md"
    return _contract([
        f"# EXECUTION_TASK: {files.title}",
        "",
        "**Type**: EXECUTION_TASK",
        f"**Mother Plan**: {basename(info.plan_file)}",
        f"**Subplan**: {subplan_name}",
        f"**Achievement**: {files.id}",
        f"**Execution Number**: {mm}",
        f"**Started**: {DATE_PLACEHOLDER}",
        "**Status**: 🔄 In Progress",
    ])


def approved_header(files: AchievementFiles) -> str:
    return _contract([
        f"# APPROVED: Achievement {files.id} - {files.title}",
        "",
        "**Reviewer**: <your name>",
        f"**Review Date**: {DATE_PLACEHOLDER}",
        "**Status**: ✅ APPROVED",
        f"**Achievement**: {files.id}",
    ])


def fix_header(files: AchievementFiles) -> str:
    return _contract([
        f"# FIX REQUIRED: Achievement {files.id}",
        "",
        "**Reviewer**: <your name>",
        f"**Review Date**: {DATE_PLACEHOLDER}",
        "**Status**: ⚠️ NEEDS FIXES",
        f"**Achievement**: {files.id}",
    ])


def resolution_header(files: AchievementFiles) -> str:
    return _contract([
        f"# FIX RESOLUTION: Achievement {files.id}",
        "",
        "**Executor**: <your name>",
        f"**Resolution Date**: {DATE_PLACEHOLDER}",
        "**Status**: ✅ FIXES APPLIED",
        f"**Achievement**: {files.id}",
    ])


# ---------------------------------------------------------------------------------- SUBPLAN context


def subplan_excerpt(files: AchievementFiles, parts: tuple[str, ...]) -> str:
    """Selected sections of the attached SUBPLAN (objective / approach / deliverables)."""
    sub = files.subplan
    if sub is None:
        return "_No SUBPLAN is attached to this achievement._"
    labels = {"objective": "Objective", "approach": "Approach", "deliverables": "What Needs to Be Created"}
    out = []
    for part in parts:
        text = getattr(sub, part)
        out.append(f"**{labels[part]}** (from {code(sub.path)}):\n\n" + (
            fence(text) if text.strip() else "_(section missing or empty in the SUBPLAN)_"))
    if sub.empty:
        out.append(f"Note: {code(sub.path)} is empty.")
    return "\n\n".join(out)


def planned_table(files: AchievementFiles) -> str:
    """The SUBPLAN's planned executions, matched against the slots that exist."""
    sub = files.subplan
    existing = {_mm_num(s.mm): s for s in slots(files.executions)}
    planned = planned_mms(sub)
    keys = {_mm_num(m) for m in planned} | set(existing)
    if not planned:
        note = ("The SUBPLAN has no planned-executions table (a `## 🔄 Active EXECUTION_TASKs` section "
                "whose rows start with `NN_MM`): the planned count is 0.")
        if not existing:
            return note
    else:
        note = f"The SUBPLAN plans {len(planned)} execution(s)."
    planned_keys = {_mm_num(m) for m in planned}
    lines = [note, "", "| slot | planned | governing file | status |", "|---|---|---|---|"]
    for key in sorted(keys, key=lambda k: (0, k, "") if isinstance(k, tuple) else (1, (), k)):
        slot = existing.get(key)
        mm = slot.mm if slot else next(m for m in planned if _mm_num(m) == key)
        is_planned = "yes" if key in planned_keys else "no"
        if slot is None:
            lines.append(f"| {files.code}_{mm} | {is_planned} | not created yet | - |")
        else:
            lines.append(f"| {files.code}_{mm} | {is_planned} | {code(slot.governing.path)} | {slot.status} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------- execution context


def _status_text(value: Optional[str]) -> str:
    return code(value) if value else "_(none)_"


def execution_line(model: PlanModel, doc: ExecutionDoc, governing: bool) -> str:
    slot = f"{doc.code}_{doc.mm}"
    role = "governing file of slot " + slot if governing else "superseded revision of slot " + slot
    line = (f"- {code(doc.path)} ({role}): effective status **{doc.status}**, "
            f"header status {_status_text(doc.header_status)}")
    if doc.empty:
        line += "; the file is empty"
    for d in status_conflicts(model, doc):
        line += f"\n  - ⚠️ `status-conflict`: {d.message}" + (f" ({d.detail})" if d.detail else "")
    return line


def executions_list(model: PlanModel, files: AchievementFiles) -> str:
    """Every execution file with its effective status and any status-conflict."""
    if not files.executions:
        return "_No EXECUTION_TASK file exists for this achievement._"
    lines = []
    for slot in slots(files.executions):
        for doc in slot.files:
            lines.append(execution_line(model, doc, doc is slot.governing))
    return "\n".join(lines)


def earlier_executions(model: PlanModel, files: AchievementFiles) -> str:
    """Closing status and learning summary of every earlier execution (governing file per slot)."""
    if not files.executions:
        return "_No earlier execution exists._"
    parts = []
    for slot in slots(files.executions):
        doc = slot.governing
        head = f"### Slot {files.code}_{slot.mm}: {code(doc.path)} (effective status **{doc.status}**)"
        body = [head, ""]
        superseded = [d.path for d in slot.files if d is not doc]
        if superseded:
            body.append("Superseded revisions (do not build on them): " + ", ".join(code(p) for p in superseded))
            body.append("")
        body.append("Closing status:")
        body.append("")
        body.append(fence(doc.closing_status) if doc.closing_status.strip() else "_(no closing status section)_")
        body.append("")
        body.append("Learning summary:")
        body.append("")
        body.append(fence(doc.learning_summary) if doc.learning_summary.strip() else "_(no learning summary)_")
        parts.append("\n".join(body))
    return "\n\n".join(parts)


def open_slots_block(model: PlanModel, files: AchievementFiles, target: Optional[str]) -> str:
    """Governing file of each open/blocked slot: last iteration, header and closing status."""
    open_slots = [s for s in slots(files.executions) if s.status in ("open", "blocked")]
    if not open_slots:
        return "_No open or blocked execution slot was found._"
    parts = []
    for slot in open_slots:
        doc = slot.governing
        mark = " ← the file to continue" if doc.path == target else ""
        body = [f"### Slot {files.code}_{slot.mm}: {code(doc.path)}{mark}", ""]
        body.append(f"- Effective status: **{doc.status}**")
        body.append(f"- Header status: {_status_text(doc.header_status)}")
        for d in status_conflicts(model, doc):
            body.append(f"- ⚠️ `status-conflict`: {d.message}")
        if doc.empty:
            body.append("- The file is empty: write it from scratch with the header contract below.")
        body += ["", "Closing status:", ""]
        body.append(fence(doc.closing_status) if doc.closing_status.strip() else "_(no closing status section yet)_")
        body += ["", "Last iteration entry:", ""]
        body.append(fence(doc.last_iteration) if doc.last_iteration.strip() else "_(no iteration entry yet)_")
        parts.append("\n".join(body))
    return "\n\n".join(parts)


# ------------------------------------------------------------------------------------ FIX context


def fix_doc(files: AchievementFiles) -> Optional[FeedbackDoc]:
    fixes = sorted((f for f in files.feedback if f.kind == "fix"), key=lambda f: f.path)
    return fixes[-1] if fixes else None


def resolution_doc(files: AchievementFiles) -> Optional[FeedbackDoc]:
    res = sorted((f for f in files.feedback if f.kind == "resolution"), key=lambda f: f.path)
    return res[-1] if res else None


def _issue(n: int, issue: FixIssue) -> str:
    line = f" (line {issue.line})" if issue.line else ""
    text = f"{n}. **{issue.title}**{line}"
    if issue.body.strip():
        text += "\n\n" + indent(issue.body)
    return text


def issues_list(issues: tuple[FixIssue, ...], empty: str) -> str:
    if not issues:
        return empty
    return "\n\n".join(_issue(i, issue) for i, issue in enumerate(issues, 1))


def fix_details_block(fix: Optional[FeedbackDoc], level: int = 3) -> str:
    """Critical issues (title and body), minor issues, code references, what worked, action plan."""
    h = "#" * level
    if fix is None:
        return "_No FIX file is attached to this achievement._"
    details = fix.fix or FixDetails()
    meta = [f"FIX file: {code(fix.path)}"]
    if details.reviewer:
        meta.append(f"reviewer {details.reviewer}")
    if fix.date:
        meta.append(f"review date {fix.date}")
    out = ["; ".join(meta) + "."]
    if fix.empty or fix.fix is None:
        out.append(f"The FIX file could not be read as issues; read {code(fix.path)} in full.")
    if details.summary.strip():
        out += ["", "**Summary**:", "", fence(details.summary)]
    out += ["", f"{h} Critical issues (must fix): {len(details.critical)}", ""]
    out.append(issues_list(details.critical, "_None listed._"))
    out += ["", f"{h} Minor issues (should fix): {len(details.minor)}", ""]
    out.append(issues_list(details.minor, "_None listed._"))
    out += ["", f"{h} Code references", ""]
    out.append("\n".join(f"- {code(r)}" for r in details.code_refs) if details.code_refs else "_None._")
    out += ["", f"{h} What worked (keep it)", ""]
    out.append("\n".join(f"- {w}" for w in details.what_worked) if details.what_worked else "_Nothing listed._")
    if details.action_plan.strip():
        out += ["", f"{h} Reviewer's next steps", "", fence(details.action_plan)]
    return "\n".join(out)


def issue_checklist(fix: Optional[FeedbackDoc]) -> str:
    """A side-by-side table for checking each FIX issue against the RESOLUTION."""
    details = fix.fix if fix is not None and fix.fix is not None else FixDetails()
    rows = [("critical", i) for i in details.critical] + [("minor", i) for i in details.minor]
    if not rows:
        return "_The FIX lists no parsed issues: compare the two files section by section._"
    lines = ["| # | FIX issue | kind | addressed in the RESOLUTION? | verified how? |", "|---|---|---|---|---|"]
    for n, (kind, issue) in enumerate(rows, 1):
        title = issue.title.replace("|", "\\|")
        lines.append(f"| {n} | {title} | {kind} | | |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------- output collisions


def existing_file_notes(model: PlanModel, files: AchievementFiles, paths: list[str]) -> str:
    """Warnings for outputs whose path already exists for another achievement or for nobody."""
    owner: dict[str, str] = {}
    for other in model.achievements:
        docs: list = [other.subplan] if other.subplan else []
        docs += list(other.executions) + list(other.feedback)
        for doc in docs:
            owner.setdefault(doc.path, other.id)
    unattached = {d.path: d for d in model.diagnostics if d.code == "ambiguous-id"}
    notes = []
    for path in paths:
        if path in unattached:
            notes.append(f"- ⚠️ {code(path)} already exists and is attached to no achievement "
                         f"(error `ambiguous-id`, R-ID-3). Do not overwrite it blindly: if it belongs to "
                         f"achievement {files.id}, add `**Achievement**: {files.id}` to its header instead.")
        elif path in owner and owner[path] != files.id:
            notes.append(f"- ⚠️ {code(path)} already exists and belongs to achievement {owner[path]}: "
                         f"do not overwrite it (R-ID-3).")
    return "\n".join(notes)


def same_code_ids(model: PlanModel, files: AchievementFiles) -> list[str]:
    ids = {a.id for a in model.achievements if a.code == files.code and a.id != files.id}
    ids |= {d.id for d in model.plan.declarations if id_code(d.id) == files.code and d.id != files.id}
    return sorted(ids, key=_safe_id_key)


def target_blockers(model: PlanModel, files: AchievementFiles, status: AchievementStatus) -> tuple[str, str, str]:
    """Why no safe file name exists: (file, rule, bullet list of findings)."""
    info = model.info
    intended = intended_path(info, files, status)
    findings: list[str] = []
    files_named: list[str] = []
    rules: list[str] = []
    others = same_code_ids(model, files)
    if others:
        rules.append("R-ID-3")
        findings.append(f"- Achievement {files.id} shares the file-name code `{files.code}` with "
                        + ", ".join(others) + " (warning `ambiguous-declaration`, R-ID-2/R-ID-3).")
        for other in model.achievements:
            if other.id not in others:
                continue
            docs: list = [other.subplan] if other.subplan else []
            docs += list(other.executions) + list(other.feedback)
            for doc in docs:
                if doc.path == intended:
                    files_named.append(doc.path)
                    findings.append(f"- {code(doc.path)} already exists and belongs to achievement {other.id}.")
    for d in sorted(model.diagnostics, key=_diag_key):
        if d.code == "ambiguous-id" and re.search(rf"_{re.escape(files.code)}(?:_|\.md$)", basename(d.path)):
            files_named.append(d.path)
            if "R-ID-3" not in rules:
                rules.append("R-ID-3")
            findings.append(f"- {code(d.path)} is attached to no achievement (error `ambiguous-id`): {d.message}")
    if status.action in FEEDBACK_ACTIONS and not info.feedback_usable:
        rules.append("R-LAYOUT-3")
        findings.append(f"- Two flat plans share the folder of {code(info.plan_file)}, so its feedback folder "
                        f"{code(feedback_dir(info))} is ambiguous (warning `ambiguous-feedback-dir`).")
        files_named.append(info.plan_file)
    if not findings:
        rules.append("R-ID-3")
        findings.append("- The workflow found no file name for this action that cannot be confused with "
                        "another achievement's file.")
    file = files_named[0] if files_named else (intended or info.plan_file)
    if intended:
        findings.insert(0, f"- The file this action would write is {code(intended)}.")
    return file, ", ".join(rules), "\n".join(findings)


# ----------------------------------------------------------------------------------------- misc


def _safe_id_key(achievement_id: str) -> tuple:
    try:
        return (0, id_key(achievement_id), achievement_id)
    except ValueError:
        return (1, (), achievement_id)


def safe_id_key(achievement_id: str) -> tuple:
    return _safe_id_key(achievement_id)


def deciding_file(files: AchievementFiles, status: AchievementStatus) -> Optional[str]:
    if status.deciding_file:
        return status.deciding_file
    kind = "skipped" if status.state == "skipped" else "approved"
    found = sorted(f.path for f in files.feedback if f.kind == kind)
    return found[0] if found else None

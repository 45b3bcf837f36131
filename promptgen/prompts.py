"""Prompt generation: one Markdown prompt per achievement action (METHODOLOGY section 9).

Templates are package files `promptgen/templates/<name>.md` with `string.Template` placeholders; the
renderer here computes every placeholder (all loops and conditionals live in Python, mostly in
`promptgen.prompt_blocks`). Rendering reads only the `PlanModel` / `PlanStatus` it is given (plus the
template text), so the same inputs always give byte-identical text, and every path in the output is the
workspace-relative path found in the model: no absolute path, no current directory, no clock.

Public API:

- `TEMPLATE_NAMES`, `template_text(name)`, `templates_version()`
- `template_for(status, plan_complete)`: the template an achievement's prompt uses
- `template_name(model, status, achievement_id)`: the template `render_prompt` will use for a request
- `render_prompt(model, status, achievement_id, template=None)`
- `prompt_for_unknown(model, achievement_id)`
"""
from __future__ import annotations

from pathlib import Path
from string import Template
from typing import Callable, NamedTuple, Optional

from promptgen import prompt_blocks as B
from promptgen.results import AchievementFiles, AchievementStatus, PlanModel, PlanStatus

TEMPLATES_DIR = Path(__file__).parent / "templates"

WORK_TEMPLATES = (
    "create_subplan",
    "create_execution",
    "create_next_execution",
    "continue_execution",
    "review",
    "apply_fixes",
    "review_resolution",
)
TEMPLATE_NAMES: tuple[str, ...] = WORK_TEMPLATES + ("terminal", "plan_complete", "error")


# ------------------------------------------------------------------------------------------ templates


def _template_path(name: str) -> Path:
    if name not in TEMPLATE_NAMES:
        raise ValueError(f"unknown template {name!r}; expected one of {', '.join(TEMPLATE_NAMES)}")
    return TEMPLATES_DIR / f"{name}.md"


def template_text(name: str) -> str:
    """The text of packaged template `name` (read from the templates folder next to this module)."""
    return _template_path(name).read_bytes().decode("utf-8")


def templates_version() -> str:
    """xxh3_128 hex digest of the bytes of every template file (`*.md`), in sorted file-name order."""
    import xxhash

    h = xxhash.xxh3_128()
    for path in sorted(TEMPLATES_DIR.glob("*.md"), key=lambda p: p.name):
        h.update(path.read_bytes())
    return h.hexdigest()


def template_for(status: Optional[AchievementStatus], plan_complete: bool) -> str:
    """Which template an achievement's prompt uses.

    - approved / skipped (no action) -> `terminal` (one-line report with the deciding file);
    - an action whose target is null (no safe file name, R-ID-3 / R-LAYOUT-3) -> `error`;
    - otherwise the action's own template (`create_subplan`, ..., `review_resolution`).
    `status=None` stands for "no achievement": `plan_complete` when the plan is complete, else `error`.
    """
    if status is None:
        return "plan_complete" if plan_complete else "error"
    if status.action is None:
        return "terminal"
    if status.target is None:
        return "error"
    return status.action


def template_name(model: PlanModel, status: PlanStatus, achievement_id: Optional[str] = None) -> str:
    """The template `render_prompt(model, status, achievement_id)` renders with."""
    if achievement_id is None:
        return template_for(_next_status(status), status.complete)
    ach = _find(status, achievement_id)
    if ach is None:
        return "error"
    return template_for(ach, status.complete)


# ------------------------------------------------------------------------------------------ rendering


def render_prompt(
    model: PlanModel,
    status: PlanStatus,
    achievement_id: Optional[str],
    template: Optional[str] = None,
) -> str:
    """Render the prompt for one achievement, or for the plan's next step when `achievement_id` is None.

    `achievement_id=None`: the plan's next achievement (`status.next`); the plan-complete summary when
    the plan is complete; the `no-achievements` error for a plan that declares nothing. An id the plan
    does not declare gives the `unknown-achievement` error. `template` is the text of the template
    `template_name(...)` names (callers that cache templates pass it); None loads the packaged file.
    """
    if achievement_id is None:
        nxt = _next_status(status)
        if nxt is None:
            if status.complete:
                return _render("plan_complete", _plan_complete_mapping(model, status), template)
            return _render("error", _plan_error_mapping(model, status), template)
        achievement_id = nxt.id
    ach = _find(status, achievement_id)
    if ach is None:
        return prompt_for_unknown(model, achievement_id, template=template)
    name = template_for(ach, status.complete)
    ctx = _context(model, status, ach)
    if name == "terminal":
        mapping = _terminal_mapping(ctx)
    elif name == "error":
        mapping = _blocked_mapping(ctx)
    else:
        mapping = _base_mapping(ctx)
        mapping.update(_ACTION_MAPPINGS[name](ctx))
    return _render(name, mapping, template)


def prompt_for_unknown(model: PlanModel, achievement_id: str, template: Optional[str] = None) -> str:
    """Error text for an id the PLAN does not declare (`unknown-achievement`), listing the valid ids."""
    info = model.info
    valid = _declared(model)
    requested = str(achievement_id).strip()
    if valid:
        listing = "Valid achievement ids (canonical order):\n\n" + "\n".join(
            f"- {aid}: {title}" for aid, title in valid)
        close = [aid for aid, _ in valid if aid.startswith(requested + ".")]
        if close:
            listing += ("\n\nIds are never shortened: did you mean " + " or ".join(close) + "?")
        rule = "only ids declared by the PLAN exist (R-DECL-2, R-DECL-3; ids compared as integer tuples, R-ID-1)"
    else:
        listing = ("The PLAN declares no achievement at all (error `no-achievements`, R-DECL-7), so there "
                   "are no valid ids. Declare achievements in the PLAN (for example "
                   "`**Achievement 1.1**: Title` in a `## Desirable Achievements` section) first.")
        rule = "only ids declared by the PLAN exist (R-DECL-2, R-DECL-3; R-DECL-7 for a PLAN without declarations)"
    mapping = {
        "error_code": "unknown-achievement",
        "plan_name": info.name,
        "plan_file": B.code(info.plan_file),
        "file": B.code(info.plan_file),
        "rule": rule,
        "message": (f"Plan {info.name} does not declare achievement {B.code(requested)}: no prompt can be "
                    f"generated for it."),
        "details": listing,
    }
    return _render("error", mapping, template)


# ------------------------------------------------------------------------------------------ internals


class _Ctx(NamedTuple):
    model: PlanModel
    status: PlanStatus
    ach: AchievementStatus
    files: AchievementFiles


def _render(name: str, mapping: dict[str, str], template: Optional[str]) -> str:
    text = template if template is not None else template_text(name)
    return _finish(_substitute(text, mapping))


_COMPILED: dict[str, Optional[tuple[str, ...]]] = {}


def _compile(text: str) -> Optional[tuple[str, ...]]:
    """`string.Template` text split into (literal, key, literal, ..., literal); None when it holds an
    invalid placeholder (then `Template.substitute` itself runs, for its exact error)."""
    pieces: list[str] = []
    literal: list[str] = []
    pos = 0
    for m in Template.pattern.finditer(text):
        literal.append(text[pos:m.start()])
        pos = m.end()
        key = m.group("named") or m.group("braced")
        if key is not None:
            pieces.append("".join(literal))
            pieces.append(key)
            literal = []
        elif m.group("escaped") is not None:
            literal.append(Template.delimiter)
        else:
            return None
    literal.append(text[pos:])
    pieces.append("".join(literal))
    return tuple(pieces)


def _substitute(text: str, mapping: dict[str, str]) -> str:
    """`Template(text).substitute(mapping)`, with the template parsed once per text."""
    try:
        pieces = _COMPILED[text]
    except KeyError:
        pieces = _compile(text)
        if len(_COMPILED) < 64:
            _COMPILED[text] = pieces
    if pieces is None:
        return Template(text).substitute(mapping)
    out = [pieces[0]]
    for i in range(1, len(pieces), 2):
        out.append(str(mapping[pieces[i]]))
        out.append(pieces[i + 1])
    return "".join(out)


def _finish(text: str) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = "\n".join(map(str.rstrip, text.split("\n")))
    while "\n\n\n" in out:  # every run of 3+ newlines becomes 2 (as re.sub(r"\n{3,}", "\n\n"))
        out = out.replace("\n\n\n", "\n\n")
    return out.strip("\n") + "\n"


_last_index: dict = {}  # "status" / "model" -> (that object, {achievement id: entry}) of the last plan seen


def _by_id(kind: str, owner, entries) -> dict:
    """{id: first entry with it} of `owner`'s achievements, kept for the last plan: its prompts are
    rendered one after the other, and a linear search per prompt made big plans quadratic."""
    got = _last_index.get(kind)
    if got is None or got[0] is not owner:
        index: dict = {}
        for a in entries:
            index.setdefault(a.id, a)
        got = _last_index[kind] = (owner, index)
    return got[1]


def _find(status: PlanStatus, achievement_id: str) -> Optional[AchievementStatus]:
    return _by_id("status", status, status.achievements).get(str(achievement_id).strip())


def _files_of(model: PlanModel, achievement_id: str) -> Optional[AchievementFiles]:
    return _by_id("model", model, model.achievements).get(achievement_id)


def _next_status(status: PlanStatus) -> Optional[AchievementStatus]:
    if status.next is None:
        return None
    return _find(status, status.next)


def _declared(model: PlanModel) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for a in model.achievements:
        seen.setdefault(a.id, a.title)
    for d in model.plan.declarations:
        seen.setdefault(d.id, d.title)
    return sorted(seen.items(), key=lambda kv: B.safe_id_key(kv[0]))


def _context(model: PlanModel, status: PlanStatus, ach: AchievementStatus) -> _Ctx:
    files = _files_of(model, ach.id)
    if files is None:
        files = AchievementFiles(id=ach.id, code=ach.code, title=ach.title)
    return _Ctx(model=model, status=status, ach=ach, files=files)


def _target_text(ctx: _Ctx) -> str:
    if ctx.ach.target:
        return B.code(ctx.ach.target)
    return ("**none: no safe file name exists for this file** (R-ID-3). Do not create or overwrite any "
            "file for this achievement; resolve the ambiguity first and run promptgen again")


def _title(ctx: _Ctx) -> str:
    # AchievementStatus and AchievementFiles carry the same full title; never shortened.
    return ctx.ach.title or ctx.files.title


def _base_mapping(ctx: _Ctx) -> dict[str, str]:
    info = ctx.model.info
    return {
        "plan_name": info.name,
        "plan_file": B.code(info.plan_file),
        "achievement_id": ctx.ach.id,
        "achievement_title": _title(ctx),
        "code": ctx.ach.code,
        "state": ctx.ach.state,
        "action": ctx.ach.action or "",
        "target": _target_text(ctx),
        "achievement_block": B.achievement_block(ctx.model, ctx.files),
        "handoff_block": B.handoff_block(ctx.model, ctx.status),
        "dependencies_block": B.dependencies_block(ctx.status, ctx.ach.id),
        "diagnostics_block": B.diagnostics_for(ctx.model, ctx.status, ctx.files),
    }


def _bullets(items: list[str], empty: str) -> str:
    return "\n".join(f"- {item}" for item in items) if items else empty


def _subplan_path(ctx: _Ctx) -> Optional[str]:
    if ctx.files.subplan is not None:
        return ctx.files.subplan.path
    return ctx.ach.subplan


# --- per action


def _create_subplan(ctx: _Ctx) -> dict[str, str]:
    info = ctx.model.info
    reads = [f"{B.code(s.path)}: an archived SUBPLAN for this achievement (it does not count as a SUBPLAN; "
             f"reuse what still applies)" for s in sorted(ctx.files.archived_subplans, key=lambda s: s.path)]
    reads.append("the source files and documents the achievement block names, and nothing else from the plan")
    example = B.join(B.execution_dir(info), f"EXECUTION_TASK_{info.name}_{ctx.ach.code}_01.md")
    return {
        "read_list": _bullets(reads, ""),
        "header_contract": B.subplan_header(info, ctx.files),
        "first_execution": B.code(example),
        "execution_dir": B.code(B.execution_dir(info) + "/"),
    }


def _execution_common(ctx: _Ctx) -> dict[str, str]:
    info = ctx.model.info
    mm = ctx.ach.next_mm or "01"
    sub = _subplan_path(ctx)
    reads = []
    if sub:
        reads.append(f"{B.code(sub)}: only if the excerpts below are not enough (its Execution strategy / "
                     f"Active EXECUTION_TASKs section); do not copy it")
    return {
        "mm": mm,
        "subplan_file": B.code(sub) if sub else "_(no SUBPLAN attached)_",
        "subplan_excerpt": B.subplan_excerpt(ctx.files, ("objective", "approach")),
        "planned_table": B.planned_table(ctx.files),
        "header_contract": B.execution_header(info, ctx.files, sub, mm),
        "read_list": _bullets(reads, "- nothing beyond this prompt"),
    }


def _create_execution(ctx: _Ctx) -> dict[str, str]:
    out = _execution_common(ctx)
    abandoned = [d.path for d in ctx.files.executions if d.status == "abandoned"]
    out["earlier_note"] = (
        "Earlier executions of this achievement were abandoned (they still count for numbering): "
        + ", ".join(B.code(p) for p in sorted(abandoned)) + "." if abandoned else "")
    return out


def _create_next_execution(ctx: _Ctx) -> dict[str, str]:
    out = _execution_common(ctx)
    slots = B.slots(ctx.files.executions)
    reads = [f"{B.code(s.governing.path)}: only its iteration log, if the closing status and learning summary "
             f"below are not enough" for s in slots]
    out["read_list"] = out["read_list"] + ("\n" + _bullets(reads, "") if reads else "")
    out["earlier_executions"] = B.earlier_executions(ctx.model, ctx.files)
    return out


def _continue_execution(ctx: _Ctx) -> dict[str, str]:
    info = ctx.model.info
    target = ctx.ach.target
    sub = _subplan_path(ctx)
    gov = next((s.governing for s in B.slots(ctx.files.executions) if s.governing.path == target), None)
    mm = gov.mm if gov else (target.rsplit("_", 1)[-1].split(".")[0] if target else "01")
    reads = [f"{B.code(target)}: the file to continue (read it in full)"] if target else []
    if sub:
        reads.append(f"{B.code(sub)}: only the section about this execution")
    planned = B.planned_mms(ctx.files.subplan)
    if planned:
        remaining = ("After this execution, the achievement is ready for review once every planned slot ("
                     + ", ".join(f"{ctx.ach.code}_{m}" for m in planned)
                     + ") is complete; a planned slot that does not exist yet is created in a later step.")
    else:
        remaining = ("The SUBPLAN plans no further executions: once every open slot is complete, the "
                     "achievement is ready for review.")
    return {
        "read_list": _bullets(reads, "- nothing beyond this prompt"),
        "subplan_excerpt": B.subplan_excerpt(ctx.files, ("objective", "deliverables")),
        "open_slots": B.open_slots_block(ctx.model, ctx.files, target),
        "planned_table": B.planned_table(ctx.files),
        "remaining_note": remaining,
        "header_contract": B.execution_header(info, ctx.files, sub, mm),
    }


def _review_outputs(ctx: _Ctx) -> dict[str, str]:
    folder = B.feedback_folder(ctx.ach, ctx.model.info)
    approved = folder + f"APPROVED_{ctx.ach.code}.md"
    fix = folder + f"FIX_{ctx.ach.code}.md"
    return {
        "feedback_dir": B.code(folder),
        "approved_file": B.code(approved),
        "fix_file": B.code(fix),
        "approved_header": B.approved_header(ctx.files),
        "fix_header": B.fix_header(ctx.files),
        "output_notes": B.existing_file_notes(ctx.model, ctx.files, [approved, fix]),
    }


def _execution_reads(ctx: _Ctx) -> list[str]:
    return [f"{B.code(s.governing.path)}: governing file of slot {ctx.ach.code}_{s.mm}"
            for s in B.slots(ctx.files.executions)]


def _review(ctx: _Ctx) -> dict[str, str]:
    sub = _subplan_path(ctx)
    reads = ([f"{B.code(sub)}: the SUBPLAN (objective, deliverables, tests)"] if sub else [])
    reads += _execution_reads(ctx)
    reads.append("the code, tests and documents these executions produced")
    out = _review_outputs(ctx)
    out.update({
        "read_list": _bullets(reads, ""),
        "subplan_excerpt": B.subplan_excerpt(ctx.files, ("objective", "deliverables")),
        "executions_list": B.executions_list(ctx.model, ctx.files),
    })
    return out


def _apply_fixes(ctx: _Ctx) -> dict[str, str]:
    fix = B.fix_doc(ctx.files)
    res = B.resolution_doc(ctx.files)
    reads = [f"{B.code(fix.path)}: the FIX request (its issues are quoted below)"] if fix else []
    reads += _execution_reads(ctx)
    reads.append("the files named in the code references below")
    stale = ""
    if res is not None:
        stale = (f"An earlier RESOLUTION {B.code(res.path)}" + (f" ({res.date})" if res.date else "")
                 + " is older than this FIX: replace it; its Resolution Date must not be earlier than the FIX's "
                   "Review Date.")
    fix_date = fix.date if fix and fix.date else None
    return {
        "read_list": _bullets(reads, ""),
        "fix_file": B.code(fix.path) if fix else "_(no FIX file attached)_",
        "fix_details": B.fix_details_block(fix),
        "executions_list": B.executions_list(ctx.model, ctx.files),
        "header_contract": B.resolution_header(ctx.files),
        "stale_resolution": stale,
        "date_rule": (f"on or after the FIX's Review Date ({fix_date})" if fix_date
                      else "on or after the FIX's Review Date"),
    }


def _review_resolution(ctx: _Ctx) -> dict[str, str]:
    fix = B.fix_doc(ctx.files)
    res = B.resolution_doc(ctx.files)
    reads = []
    if fix:
        reads.append(f"{B.code(fix.path)}: the FIX request (its issues are quoted below)")
    if res:
        reads.append(f"{B.code(res.path)}: the RESOLUTION (read it in full)")
    reads += _execution_reads(ctx)
    reads.append("the code and tests changed by the fixes")
    out = _review_outputs(ctx)
    res_date = res.date if res and res.date else None
    out.update({
        "read_list": _bullets(reads, ""),
        "fix_file": B.code(fix.path) if fix else "_(no FIX file attached)_",
        "fix_details": B.fix_details_block(fix, level=4),
        "resolution_file": B.code(res.path) if res else "_(no RESOLUTION file attached)_",
        "resolution_meta": (f"Resolution date: {res.date}." if res_date else "The RESOLUTION carries no date."),
        "issue_checklist": B.issue_checklist(fix),
        "executions_list": B.executions_list(ctx.model, ctx.files),
        "new_fix_date": (f"later than the RESOLUTION's date ({res_date})" if res_date
                         else "later than the RESOLUTION's date"),
    })
    return out


_ACTION_MAPPINGS: dict[str, Callable[[_Ctx], dict[str, str]]] = {
    "create_subplan": _create_subplan,
    "create_execution": _create_execution,
    "create_next_execution": _create_next_execution,
    "continue_execution": _continue_execution,
    "review": _review,
    "apply_fixes": _apply_fixes,
    "review_resolution": _review_resolution,
}


# --- non-work outputs


def _terminal_mapping(ctx: _Ctx) -> dict[str, str]:
    info = ctx.model.info
    decided = B.deciding_file(ctx.files, ctx.ach)
    return {
        "plan_name": info.name,
        "plan_file": B.code(info.plan_file),
        "achievement_id": ctx.ach.id,
        "achievement_title": _title(ctx),
        "state": ctx.ach.state,
        "deciding_file": B.code(decided) if decided else "no feedback file (none attached)",
    }


def _blocked_mapping(ctx: _Ctx) -> dict[str, str]:
    info = ctx.model.info
    file, rule, findings = B.target_blockers(ctx.model, ctx.files, ctx.ach)
    others = B.same_code_ids(ctx.model, ctx.files)
    steps = [
        f"- Make every file whose name carries code `{ctx.ach.code}` state its achievement in its first 15 "
        f"lines (`**Achievement**: <full dotted id>`), so R-ID-4 can attach it by content; and/or",
    ]
    if others:
        steps.append(f"- renumber one of the achievements {', '.join([ctx.ach.id] + others)} in the PLAN so "
                     f"that no two declared ids share a file-name code (R-ID-2);")
    steps.append("- then run promptgen again to get the work prompt with a safe target path.")
    details = "\n".join([
        f"- Achievement: **{ctx.ach.id} — {_title(ctx)}**",
        f"- Current state: `{ctx.ach.state}`; blocked action: `{ctx.ach.action}`",
        "- Target: **none: no safe file name exists** for the file this action must write.",
        "",
        "Findings:",
        "",
        findings,
        "",
        "Resolve the ambiguity before any work on this achievement:",
        "",
        "\n".join(steps),
    ])
    return {
        "error_code": "ambiguous-feedback-dir" if rule == "R-LAYOUT-3" else "ambiguous-id",
        "plan_name": info.name,
        "plan_file": B.code(info.plan_file),
        "file": B.code(file),
        "rule": f"{rule}: a new file must not take a name that is ambiguous or already used by another achievement",
        "message": (f"Achievement {ctx.ach.id} of plan {info.name} needs `{ctx.ach.action}`, but no safe file "
                    f"name exists for its target."),
        "details": details,
    }


def _plan_error_mapping(model: PlanModel, status: PlanStatus) -> dict[str, str]:
    info = model.info
    if not status.achievements and not model.achievements:
        return {
            "error_code": "no-achievements",
            "plan_name": info.name,
            "plan_file": B.code(info.plan_file),
            "file": B.code(info.plan_file),
            "rule": "R-DECL-7: a PLAN that declares no achievement is not complete and has no next achievement",
            "message": f"Plan {info.name} declares no achievement, so there is nothing to prompt for.",
            "details": ("Declare achievements in the PLAN, e.g. `**Achievement 1.1**: Title` (D1) or "
                        "`**Achievement 1.1: Title**` (D2) in a `## Desirable Achievements` section, or "
                        "`- Achievement 1.1: Title` lines in an `## Achievement Index` section; then run "
                        "promptgen again."),
        }
    open_ids = [a.id for a in status.achievements if a.state not in B.TERMINAL_STATES]
    return {
        "error_code": "no-next-achievement",
        "plan_name": info.name,
        "plan_file": B.code(info.plan_file),
        "file": B.code(info.plan_file),
        "rule": "R-NEXT",
        "message": f"Plan {info.name} is not complete, but no next achievement was determined.",
        "details": ("Open achievements: " + ", ".join(open_ids) + ". Ask for one of them by id."
                    if open_ids else "No open achievement was found."),
    }


def _plan_complete_mapping(model: PlanModel, status: PlanStatus) -> dict[str, str]:
    info = model.info
    approved = [a for a in status.achievements if a.state == "approved"]
    skipped = [a for a in status.achievements if a.state == "skipped"]
    files_by_id = {a.id: a for a in model.achievements}
    subplans = sum(1 for a in model.achievements if a.subplan is not None)
    executions = sum(len(a.executions) for a in model.achievements)
    rows = []
    for a in status.achievements:
        files = files_by_id.get(a.id) or AchievementFiles(id=a.id, code=a.code, title=a.title)
        decided = B.deciding_file(files, a)
        rows.append(f"- {a.id} {a.title}: {a.state}" + (f" ({B.code(decided)})" if decided else ""))
    return {
        "plan_name": info.name,
        "plan_file": B.code(info.plan_file),
        "total": str(len(status.achievements)),
        "approved_count": str(len(approved)),
        "skipped_count": str(len(skipped)),
        "subplan_count": str(subplans),
        "execution_count": str(executions),
        "achievement_list": "\n".join(rows),
    }

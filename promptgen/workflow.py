"""The workflow state machine (sections 5.4, 6.5, 8): pure functions over a resolved `PlanModel`.

`achievement_status` walks the R-STATE ladder for one achievement (feedback precedence, slots and
revisions, planned executions) and names the target file (R-LAYOUT-4); `plan_status` adds R-PLAN,
R-NEXT and the parallel.json analysis; `ready`, `portfolio` and `lookup` serve the CLI.
"""
from __future__ import annotations

from typing import Collection, Iterable, Optional, Sequence, Union

from promptgen import parallel_plan
from promptgen.documents import Diagnostic, ExecutionDoc, FeedbackDoc, id_key
from promptgen.names import classify, execution_name, resolution_name, subplan_name
from promptgen.resolve import dedupe
from promptgen.results import AchievementFiles, AchievementStatus, PlanInfo, PlanModel, PlanStatus
from promptgen.usertext import clip

DONE = frozenset({"approved", "skipped"})
STATES = ("approved", "skipped", "fix_pending", "no_subplan", "subplan_no_execution", "execution_active",
          "executions_done")


def _w(code: str, path: str, achievement: str, message: str, detail: Optional[str] = None) -> Diagnostic:
    return Diagnostic(code=code, severity="warning", path=path, achievement=achievement, message=message,
                      detail=detail)


def _day(fb: FeedbackDoc) -> Optional[str]:
    return fb.date[:10] if fb.date else None


def _latest(docs: Sequence[FeedbackDoc]) -> FeedbackDoc:
    return max(docs, key=lambda d: (_day(d) or "", d.path))


def slots(executions: Iterable[ExecutionDoc]) -> list[tuple[int, ExecutionDoc]]:
    """(MM, governing file) per slot in MM order; governing = highest revision (base < RECOVERY < V2 < ...)."""
    best: dict[int, ExecutionDoc] = {}
    for ex in executions:
        mm = int(ex.mm) if ex.mm.isdigit() else 0
        cur = best.get(mm)
        if cur is None or (ex.revision, ex.path) > (cur.revision, cur.path):
            best[mm] = ex
    return sorted(best.items())


def _join(d: str, rest: str) -> str:
    return f"{d}/{rest}" if d else rest


def feedback_dir(info: PlanInfo) -> str:
    """Where feedback files go (R-LAYOUT-4), with a trailing '/'."""
    return _join(info.plan_dir, "execution/feedbacks/")


def new_file(info: PlanInfo, kind: str, name: str) -> str:
    """Path of a new SUBPLAN / EXECUTION_TASK (R-LAYOUT-4): under the plan folder if nested, else flat."""
    folder = "subplans" if kind == "subplan" else "execution"
    return _join(info.plan_dir, f"{folder}/{name}") if info.layout == "nested" else f"{folder}/{name}"


def _feedback_state(a: AchievementFiles, fdir: str) -> tuple[Optional[dict], list[Diagnostic]]:
    """Steps 1-3 of R-STATE with R-FEEDBACK-PRECEDENCE; None when no feedback decides."""
    by = {k: [f for f in a.feedback if f.kind == k] for k in ("approved", "fix", "resolution", "skipped")}
    diags = [_w("resolution-without-fix", r.path, a.id, "FIX resolution without a FIX file; ignored")
             for r in by["resolution"] if not by["fix"]]
    if by["skipped"]:
        if by["approved"]:
            diags += [_w("conflicting-feedback", s.path, a.id, "SKIPPED and APPROVED both exist; approved wins")
                      for s in by["skipped"]]
            return {"state": "approved", "deciding_file": by["approved"][0].path}, diags
        return {"state": "skipped", "deciding_file": by["skipped"][0].path}, diags
    if not by["fix"]:
        return ({"state": "approved", "deciding_file": by["approved"][0].path} if by["approved"] else None), diags
    fix = _latest(by["fix"])
    if by["approved"]:
        appr = _latest(by["approved"])
        if not (_day(fix) and _day(appr) and _day(fix) > _day(appr)):
            return {"state": "approved", "deciding_file": appr.path}, diags
        diags.append(_w("fix-after-approval", fix.path, a.id,
                        f"FIX dated {_day(fix)} after APPROVED dated {_day(appr)}"))
    answered = any(_day(r) is None or _day(fix) is None or _day(r) >= _day(fix) for r in by["resolution"])
    if answered:
        return {"state": "fix_pending", "action": "review_resolution", "target": fdir, "deciding_file": fix.path}, diags
    target = fdir + resolution_name(a.code)
    return {"state": "fix_pending", "action": "apply_fixes", "target": target, "deciding_file": fix.path}, diags


def achievement_status(a: AchievementFiles, info: PlanInfo, *, taken: Collection[str] = ()) -> AchievementStatus:
    """R-STATE for one achievement. `taken`: file names of the same code that are not this achievement's
    (R-ID-3 step 6): a proposed file name in it gives target None."""
    fdir = feedback_dir(info) if info.feedback_usable else None
    fields, diags = _feedback_state(a, fdir or "")
    if fields is not None and fields.get("target") and fdir is None:
        fields["target"] = None
    live: list[tuple[int, ExecutionDoc]] = []
    next_mm = None
    if fields is None:
        if a.subplan is None:
            fields = {"state": "no_subplan", "action": "create_subplan",
                      "target": new_file(info, "subplan", subplan_name(info.name, a.code))}
            diags += [_w("archived-only", s.path, a.id, f"only an archived SUBPLAN exists for {a.id}")
                      for s in a.archived_subplans]
        else:
            all_slots = slots(a.executions)
            live = [(mm, ex) for mm, ex in all_slots if ex.status != "abandoned"]
            next_mm = f"{(all_slots[-1][0] if all_slots else 0) + 1:02d}"
            nxt = new_file(info, "execution", execution_name(info.name, a.code, next_mm))
            running = [ex for _, ex in live if ex.status == "open"] or [ex for _, ex in live if ex.status == "blocked"]
            if not live:
                fields = {"state": "subplan_no_execution", "action": "create_execution", "target": nxt}
            elif running:
                fields = {"state": "execution_active", "action": "continue_execution", "target": running[0].path}
            elif len(set(a.subplan.planned_slots)) > len(live):
                fields = {"state": "execution_active", "action": "create_next_execution", "target": nxt}
            else:
                fields = {"state": "executions_done", "action": "review", "target": fdir}
    target = fields.get("target")
    if target and not target.endswith("/") and target.rsplit("/", 1)[-1] in taken:
        fields["target"] = None  # the canonical name already belongs to another id of this code
    return AchievementStatus(
        id=a.id, code=a.code, title=a.title, subplan=a.subplan.path if a.subplan else None,
        executions=tuple(sorted(e.path for e in a.executions)), feedback=tuple(sorted(f.path for f in a.feedback)),
        next_mm=next_mm, diagnostics=tuple(diags), **fields)


def _paths(a: AchievementFiles) -> list[str]:
    return ([a.subplan.path] if a.subplan else []) + [e.path for e in a.executions] + [f.path for f in a.feedback]


def taken_names(model: PlanModel) -> dict[str, set[str]]:
    """achievement id -> file names with its code that belong to another achievement or to nobody."""
    by_code: dict[str, list[tuple[str, str]]] = {}
    for a in model.achievements:
        by_code.setdefault(a.code, []).extend((a.id, p.rsplit("/", 1)[-1]) for p in _paths(a))
    for p in model.unattached:
        info = classify(p.rsplit("/", 1)[-1])
        if info is not None and info.code:
            by_code.setdefault(info.code, []).append(("", p.rsplit("/", 1)[-1]))
    return {a.id: {n for owner, n in by_code.get(a.code, []) if owner != a.id} for a in model.achievements}


def plan_status(model: PlanModel) -> PlanStatus:
    """States of every achievement, R-PLAN completeness, R-NEXT and the parallel.json report."""
    info, plan = model.info, model.plan
    taken = taken_names(model)
    achs = [achievement_status(a, info, taken=taken[a.id]) for a in model.achievements]
    states = {a.id: a.state for a in achs}
    diags = [d for a in achs for d in a.diagnostics]
    report = None
    if model.parallel is not None:
        report, pdiags = parallel_plan.analyze(model.parallel, list(states), states, info.name)
        diags += pdiags
    complete = bool(achs) and all(s in DONE for s in states.values())
    pointer = plan.handoff_pointer
    nxt, reason = None, None
    if achs and not complete:
        if pointer is not None and states.get(pointer) is not None and states[pointer] not in DONE:
            nxt, reason = pointer, "handoff"
        else:
            if pointer is not None and pointer in states:
                diags.append(Diagnostic(code="stale-handoff", severity="warning", path=plan.path,
                                        line=plan.handoff_pointer_line, message=f"handoff points to {clip(pointer)}, "
                                        f"which is {states[pointer]}", detail=f"{clip(pointer)} is {states[pointer]}"))
            elif pointer is not None:
                diags.append(Diagnostic(code="handoff-unknown-id", severity="warning", path=plan.path,
                                        line=plan.handoff_pointer_line, detail=clip(pointer),
                                        message=f"handoff points to {clip(pointer)}, which the PLAN does not declare"))
            nxt, reason = first_open(achs, report), "first_open"
    return PlanStatus(info=info, title=plan.title, achievements=tuple(achs), handoff_pointer=pointer, next=nxt,
                      next_reason=reason, complete=complete, parallel=report, diagnostics=tuple(dedupe(diags)),
                      model_diagnostics=model.diagnostics)


def first_open(achs: Sequence[AchievementStatus], report=None) -> Optional[str]:
    """First open achievement in canonical order; with a valid parallel.json, the first whose deps are done."""
    open_ids = [a.id for a in achs if a.state not in DONE]
    if report is not None and report.valid:
        done = {a.id for a in achs if a.state in DONE}
        ready_ids = [i for i in open_ids if all(d in done for d in report.dependencies.get(i, ()))]
        if ready_ids:
            return ready_ids[0]
    return open_ids[0] if open_ids else None


def ready(status: PlanStatus) -> tuple[tuple[str, ...], ...]:
    """Groups of achievements that can run in parallel, wave 0 first. With a valid parallel.json its waves
    (R-PAR-WAVES); otherwise the plan is sequential: `next` first, then the other open ones, one per wave."""
    if status.parallel is not None and status.parallel.valid and status.parallel.waves is not None:
        return status.parallel.waves
    open_ids = [a.id for a in status.achievements if a.state not in DONE]
    if status.next in open_ids:
        open_ids.remove(status.next)
        open_ids.insert(0, status.next)
    return tuple((i,) for i in open_ids)


def lookup(status: PlanStatus, achievement_id: str) -> Union[AchievementStatus, Diagnostic]:
    """One achievement's status, or error `unknown-achievement` on the PLAN for an undeclared id."""
    try:
        key = id_key(achievement_id)
    except (ValueError, AttributeError):
        key = None
    hit = next((a for a in status.achievements if key is not None and id_key(a.id) == key), None)
    if hit is not None:
        return hit
    return Diagnostic(code="unknown-achievement", severity="error", path=status.info.plan_file,
                      achievement=achievement_id,
                      message=f"{status.info.name} declares no achievement {clip(achievement_id)}")


def portfolio(statuses: Iterable[PlanStatus]) -> list[dict]:
    """One row per plan (sorted by name): counts per state, approved/skipped/total, next and completeness."""
    rows = []
    for s in sorted(statuses, key=lambda s: s.info.name):
        counts = {k: 0 for k in STATES}
        for a in s.achievements:
            counts[a.state] += 1
        rows.append({"name": s.info.name, "path": s.info.plan_file, "category": s.info.category,
                     "approved": counts["approved"], "skipped": counts["skipped"], "total": len(s.achievements),
                     "states": counts, "next": s.next, "complete": s.complete})
    return rows

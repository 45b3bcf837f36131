"""Reference resolution (R-ID-3, R-ID-4, R-DECL-5/7): attach every file of a plan to a declared achievement.

`resolve_plan` builds the declared set from the PLAN's declarations, resolves each file's code against it
and returns a `PlanModel` whose diagnostics are the resolution diagnostics plus the attached documents' own
diagnostics (with `achievement` filled in). Unattached files (orphans, `ambiguous-id`) get no further
checks: only their file-level read diagnostics are kept. Archived SUBPLANs are attached silently (they
only matter for `archived-only`, decided in `workflow`). A PLAN that could not be parsed (`unreadable`,
`too-large`) gets no extra `no-achievements`: its own diagnostic already says why nothing is declared.
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence, Union

from promptgen.documents import (
    Diagnostic,
    ExecutionDoc,
    FeedbackDoc,
    ParallelDoc,
    PlanDoc,
    SubplanDoc,
    id_code,
    id_key,
)
from promptgen.results import AchievementFiles, PlanInfo, PlanModel

Doc = Union[SubplanDoc, ExecutionDoc, FeedbackDoc]
READ_CODES = frozenset({"encoding", "empty-file", "too-large", "unreadable"})  # kept for unattached files


def _key(achievement_id: str) -> Optional[tuple]:
    try:
        return id_key(achievement_id)
    except (ValueError, AttributeError):
        return None


def _diag(code: str, severity: str, path: str, message: str, *, achievement: Optional[str] = None,
          detail: Optional[str] = None, line: Optional[int] = None) -> Diagnostic:
    return Diagnostic(code=code, severity=severity, path=path, line=line, achievement=achievement,
                      message=message, detail=detail)


def declared_achievements(plan: PlanDoc) -> dict[str, str]:
    """id -> title (first declaring line in file order), in canonical order (R-DECL-5, R-ID-1)."""
    titles: dict[str, str] = {}
    for d in plan.declarations:
        titles.setdefault(d.id, d.title)
    return dict(sorted(titles.items(), key=lambda kv: id_key(kv[0])))


def code_map(ids: Iterable[str]) -> dict[str, list[str]]:
    """code -> declared ids sharing it, canonical order (R-ID-3 step 1)."""
    out: dict[str, list[str]] = {}
    for i in ids:
        out.setdefault(id_code(i), []).append(i)
    return out


def plan_info(entry) -> PlanInfo:
    """`PlanInfo` of a `discover.PlanEntry`."""
    return PlanInfo(**entry.info())


def resolve_plan(info: PlanInfo, plan: PlanDoc, subplans: Sequence[SubplanDoc], archived: Sequence[SubplanDoc],
                 executions: Sequence[ExecutionDoc], feedback: Sequence[FeedbackDoc],
                 parallel: Optional[ParallelDoc], *, discovery_diagnostics: Iterable[dict] = ()) -> PlanModel:
    """Resolve a plan's files against its declarations (R-ID-3) and collect their diagnostics.

    `discovery_diagnostics` (optional, `discover.PlanEntry.diagnostics`) are converted and get their
    `achievement` filled in where the file's code resolves (e.g. `duplicate-file`).
    """
    declared = declared_achievements(plan)
    codes = code_map(declared)
    diags: list[Diagnostic] = list(plan.diagnostics)
    own_codes = {d.code for d in plan.diagnostics if d.path == plan.path}
    if not declared and not own_codes & {"no-achievements", "unreadable", "too-large"}:
        diags.append(_diag("no-achievements", "error", plan.path, "the PLAN declares no achievement (R-DECL-7)"))
    if "ambiguous-declaration" not in own_codes:
        for code, ids in codes.items():
            if len(ids) > 1:
                why = f"{' and '.join(ids)} share code {code}"
                diags.append(_diag("ambiguous-declaration", "warning", plan.path, why, detail=why))
    files: dict[str, dict[str, list]] = {i: {"subplan": [], "archived": [], "execution": [], "feedback": []}
                                         for i in declared}
    unattached: list[str] = []

    def attach(doc: Doc, bucket: str) -> Optional[str]:
        cands = codes.get(doc.code, [])
        own = doc.own_id
        if len(cands) == 1:
            target = cands[0]
            if own is not None and _key(own) != id_key(target):
                diags.append(_diag("id-content-mismatch", "warning", doc.path,
                                   f"file name resolves to {target} but the file names {own} (R-ID-4)",
                                   achievement=target, detail=f"the file names {own}", line=doc.own_id_line))
        elif len(cands) > 1:
            target = next((c for c in cands if own is not None and _key(own) == id_key(c)), None)
            if target is not None:
                diags.append(_diag("ambiguous-id-resolved", "warning", doc.path,
                                   f"code {doc.code} is shared by {', '.join(cands)}; the file names {target}",
                                   achievement=target, line=doc.own_id_line))
            else:
                names = own if own is not None else "no achievement"
                diags.append(_diag("ambiguous-id", "error", doc.path,
                                   f"code {doc.code} matches {', '.join(cands)} and the file does not decide",
                                   detail=f"candidates {', '.join(cands)}; the file names {names}"))
        else:
            target = None
            if declared:
                why = f"code {doc.code} matches no declared achievement"
                diags.append(_diag("orphan-file", "warning", doc.path, why, detail=why))
        if target is None:
            unattached.append(doc.path)
            diags.extend(d for d in doc.diagnostics if d.code in READ_CODES)
            return None
        files[target][bucket].append(doc)
        diags.extend(d if d.achievement else d.model_copy(update={"achievement": target}) for d in doc.diagnostics)
        return target

    for bucket, docs in (("subplan", subplans), ("execution", executions), ("feedback", feedback)):
        for doc in sorted(docs, key=lambda d: d.path):
            attach(doc, bucket)
    for doc in sorted(archived, key=lambda d: d.path):  # silent: ignored for state
        cands = codes.get(doc.code, [])
        target = cands[0] if len(cands) == 1 else next(
            (c for c in cands if doc.own_id is not None and _key(doc.own_id) == id_key(c)), None)
        if target is not None:
            files[target]["archived"].append(doc)
    achievements = []
    for i, title in declared.items():
        f = files[i]
        subplan = f["subplan"][0] if f["subplan"] else None
        if subplan is None:
            for ex in f["execution"]:
                diags.append(_diag("execution-without-subplan", "warning", ex.path,
                                   f"no SUBPLAN for achievement {i}", achievement=i))
        achievements.append(AchievementFiles(id=i, code=id_code(i), title=title, subplan=subplan,
                                             archived_subplans=tuple(f["archived"]),
                                             executions=tuple(f["execution"]), feedback=tuple(f["feedback"])))
    if parallel is not None:
        diags.extend(parallel.diagnostics)
    diags.extend(_tag(discovery_diagnostics, codes))
    return PlanModel(info=info, plan=plan, achievements=tuple(achievements), parallel=parallel,
                     diagnostics=tuple(dedupe(diags)), unattached=tuple(sorted(unattached)))


def _tag(raw: Iterable[dict], codes: dict[str, list[str]]) -> list[Diagnostic]:
    """Discovery diagnostics as `Diagnostic`s, with the achievement of the file's code when unambiguous."""
    from promptgen.names import classify

    out = []
    for d in raw:
        dg = Diagnostic(**d)
        info = classify(dg.path.rsplit("/", 1)[-1])
        cands = codes.get(info.code, []) if info is not None and info.code else []
        if dg.achievement is None and len(cands) == 1:
            dg = dg.model_copy(update={"achievement": cands[0]})
        out.append(dg)
    return out


def dedupe(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Drop exact repeats (every field, the message too: several findings may share a line, e.g. in a
    one-line parallel.json) and sort by (path, line, code, achievement, detail), stable: ties keep their
    order of discovery (file order)."""
    seen, out = set(), []
    for d in diags:
        k = (d.code, d.severity, d.path, d.line, d.achievement, d.message, d.detail)
        if k not in seen:
            seen.add(k)
            out.append(d)
    out.sort(key=lambda d: (d.path, d.line or 0, d.code, d.achievement or "", d.detail or ""))
    return out

"""parallel.json analysis against the PLAN and the achievement states (R-PAR-VALID/LEVEL/WAVES).

The parser reports the file-local problems (syntax, schema, duplicate ids, field types) and sets
`ParallelDoc.valid`; `analyze` adds the plan-level checks (ids the PLAN does not declare or the file
does not list -> `unknown-id`, cycles, plan name, missing achievements), never repeating a problem the
parser already reported, and computes levels and waves for a valid file.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

from promptgen.documents import Diagnostic, ParallelDoc, id_key
from promptgen.results import ParallelReport
from promptgen.usertext import clip, quote

DONE_STATES = frozenset({"approved", "skipped"})


def _sort_key(i: str) -> tuple:
    try:
        return (0, id_key(i), "")
    except ValueError:
        return (1, (), i)


def _err(path: str, detail: str, message: str, achievement: Optional[str] = None) -> Diagnostic:
    return Diagnostic(code="invalid-parallel-json", severity="error", path=path, achievement=achievement,
                      message=message, detail=detail)


def dependency_map(doc: ParallelDoc) -> dict[str, tuple[str, ...]]:
    """id -> dependencies (first item wins for duplicated ids)."""
    out: dict[str, tuple[str, ...]] = {}
    for item in doc.items:
        out.setdefault(item.id, tuple(item.dependencies))
    return out


def levels(deps: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """R-PAR-LEVEL: 0 without dependencies, else 1 + max level of the dependencies (acyclic input)."""
    from graphlib import TopologicalSorter  # (imported when a plan has a parallel.json: not on every build)

    out: dict[str, int] = {}
    for i in TopologicalSorter({k: tuple(v) for k, v in deps.items()}).static_order():
        if i in deps:
            out[i] = 1 + max((out[d] for d in deps[i] if d in out), default=-1)
    return {i: out[i] for i in sorted(out, key=_sort_key)}


def waves(deps: Mapping[str, Sequence[str]], states: Mapping[str, str]) -> tuple[tuple[str, ...], ...]:
    """R-PAR-WAVES: wave 0 = open achievements whose dependencies are done; wave k+1 builds on waves 0..k."""
    done = {i for i, s in states.items() if s in DONE_STATES}
    pending = [i for i in sorted(deps, key=_sort_key) if i in states and i not in done]
    placed: set[str] = set()
    out = []
    while True:
        wave = tuple(i for i in pending if i not in placed and all(d in done or d in placed for d in deps[i]))
        if not wave:
            return tuple(out)
        out.append(wave)
        placed.update(wave)


def analyze(doc: ParallelDoc, declared: Sequence[str], states: Mapping[str, str],
            plan_name: str) -> tuple[ParallelReport, list[Diagnostic]]:
    """Check a parallel.json against its PLAN and compute levels/waves; returns (report, new diagnostics)."""
    deps = dependency_map(doc)
    known = set(declared)
    reported = {(d.detail, d.achievement) for d in doc.diagnostics if d.code == "invalid-parallel-json"}
    has = {d.code for d in doc.diagnostics}
    diags: list[Diagnostic] = []
    mentioned = dict.fromkeys([it.id for it in doc.items] + [d for it in doc.items for d in it.dependencies])
    for i in sorted(mentioned, key=_sort_key):
        why = "not declared by the PLAN" if i not in known else "not listed in the file" if i not in deps else None
        if why and ("unknown-id", i) not in reported:
            diags.append(_err(doc.path, "unknown-id", f"unknown-id: {i} is {why} (R-PAR-VALID)", i))
    valid = doc.valid and not diags
    if valid:
        from graphlib import CycleError

        try:
            lv = levels(deps)
        except CycleError as exc:
            valid = False
            if not any(d.detail == "cycle" for d in doc.diagnostics if d.code == "invalid-parallel-json"):
                ids = sorted(set(exc.args[1][:-1]), key=_sort_key) if len(exc.args) > 1 else []
                diags.append(_err(doc.path, "cycle", f"cycle: dependency cycle {clip(' -> '.join(ids), 400)} (R-PAR-VALID)",
                                  ids[0] if ids else None))
    if doc.plan_name is not None and doc.plan_name != plan_name and "parallel-plan-name-mismatch" not in has:
        diags.append(Diagnostic(code="parallel-plan-name-mismatch", severity="warning", path=doc.path,
                                message=f"plan_name is {quote(doc.plan_name)}, the plan is {plan_name!r}",
                                detail=clip(doc.plan_name)))
    if not valid:
        return ParallelReport(file=doc.path, valid=False, dependencies=deps), diags
    for i in declared:
        if i not in deps:
            diags.append(Diagnostic(code="parallel-missing-achievement", severity="warning", path=doc.path,
                                    achievement=i, message=f"declared achievement {clip(i)} is missing from parallel.json"))
    return ParallelReport(file=doc.path, valid=True, parallelization_level=doc.level, dependency_levels=lv,
                          waves=waves(deps, states), dependencies=deps), diags

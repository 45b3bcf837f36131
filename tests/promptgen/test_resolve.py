"""Reference resolution (R-ID-3, R-ID-4, R-DECL-5/7) over small constructed documents."""
import json

from promptgen.documents import (
    Declaration,
    Diagnostic,
    ExecutionDoc,
    FeedbackDoc,
    ParallelDoc,
    PlanDoc,
    SubplanDoc,
)
from promptgen.parse.parallel import parse_parallel
from promptgen.resolve import code_map, declared_achievements, dedupe, resolve_plan
from promptgen.results import PlanInfo

INFO = PlanInfo(name="F", plan_file="plans/F/PLAN_F.md", plan_dir="plans/F", layout="nested")


def plan(*ids, titles=None, diagnostics=()):
    titles = titles or {}
    decls = tuple(Declaration(id=i, title=titles.get((n, i), f"T{i}"), line=n + 1, shape="D1")
                  for n, i in enumerate(ids))
    return PlanDoc(path="plans/F/PLAN_F.md", feature="F", declarations=decls, diagnostics=diagnostics)


def w(code, path, **kw):
    return Diagnostic(code=code, severity=kw.pop("severity", "warning"), path=path, message=code, **kw)


def sub(code, own=None, path=None, diagnostics=(), archived=False):
    return SubplanDoc(path=path or f"plans/F/subplans/SUBPLAN_F_{code}.md", feature="F", code=code, own_id=own,
                      diagnostics=diagnostics, archived=archived)


def ex(code, mm="01", own=None, diagnostics=()):
    return ExecutionDoc(path=f"plans/F/execution/EXECUTION_TASK_F_{code}_{mm}.md", feature="F", code=code, mm=mm,
                        own_id=own, diagnostics=diagnostics)


def fb(kind, code, own=None):
    name = {"approved": "APPROVED_{}", "fix": "FIX_{}", "resolution": "FIX_{}_RESOLUTION", "skipped": "SKIPPED_{}"}
    return FeedbackDoc(path=f"plans/F/execution/feedbacks/{name[kind].format(code)}.md", kind=kind, code=code,
                       own_id=own)


def resolve(p, subplans=(), archived=(), executions=(), feedback=(), parallel=None, **kw):
    return resolve_plan(INFO, p, subplans, archived, executions, feedback, parallel, **kw)


def codes(model):
    return sorted((d.code, d.path, d.achievement) for d in model.diagnostics)


def ach(model, i):
    return next(a for a in model.achievements if a.id == i)


def test_declared_set_union_first_title_canonical_order():
    p = plan("2.1", "1.10", "1.9", "11.0", "2.1", "1.2", titles={(0, "2.1"): "first", (4, "2.1"): "second"})
    got = declared_achievements(p)
    assert list(got) == ["1.2", "1.9", "1.10", "2.1", "11.0"]
    assert got["2.1"] == "first"
    m = resolve(p)
    assert [a.id for a in m.achievements] == ["1.2", "1.9", "1.10", "2.1", "11.0"]
    assert [a.code for a in m.achievements] == ["12", "19", "110", "21", "110"]


def test_code_map_shares():
    assert code_map(["1.10", "11.0", "3.5.1", "35.1", "1.2"]) == {"110": ["1.10", "11.0"], "351": ["3.5.1", "35.1"],
                                                                   "12": ["1.2"]}


def test_no_achievements_is_an_error_and_suppresses_orphans():
    m = resolve(plan(), subplans=[sub("01")])
    assert codes(m) == [("no-achievements", "plans/F/PLAN_F.md", None)]
    assert m.diagnostics[0].severity == "error"
    assert m.achievements == () and m.unattached == ("plans/F/subplans/SUBPLAN_F_01.md",)


def test_no_achievements_not_repeated_when_the_parser_reported_it():
    m = resolve(plan(diagnostics=(w("no-achievements", "plans/F/PLAN_F.md", severity="error"),)))
    assert codes(m) == [("no-achievements", "plans/F/PLAN_F.md", None)]


def test_unparsed_plan_gets_no_extra_no_achievements():
    for code, sev in (("unreadable", "error"), ("too-large", "warning")):
        m = resolve(plan(diagnostics=(w(code, "plans/F/PLAN_F.md", severity=sev),)))
        assert codes(m) == [(code, "plans/F/PLAN_F.md", None)]


def test_single_candidate_attaches():
    m = resolve(plan("1.1", "1.2"), subplans=[sub("11", own="1.1")], executions=[ex("11"), ex("12")],
                feedback=[fb("approved", "11")])
    a = ach(m, "1.1")
    assert a.subplan.path.endswith("SUBPLAN_F_11.md")
    assert [e.path for e in a.executions] == ["plans/F/execution/EXECUTION_TASK_F_11_01.md"]
    assert [f.kind for f in a.feedback] == ["approved"]
    assert codes(m) == [("execution-without-subplan", "plans/F/execution/EXECUTION_TASK_F_12_01.md", "1.2")]


def test_id_content_mismatch_file_name_wins():
    m = resolve(plan("0.1", "1.1"), feedback=[fb("approved", "01", own="1.1")])
    assert [f.kind for f in ach(m, "0.1").feedback] == ["approved"]
    assert ach(m, "1.1").feedback == ()
    d = m.diagnostics[0]
    assert (d.code, d.achievement, d.detail) == ("id-content-mismatch", "0.1", "the file names 1.1")


def test_own_id_compared_as_tuples():
    m = resolve(plan("1.10"), subplans=[sub("110", own="1.10")])
    assert codes(m) == []
    m = resolve(plan("1.10"), subplans=[sub("110", own="1.1")])
    assert codes(m) == [("id-content-mismatch", "plans/F/subplans/SUBPLAN_F_110.md", "1.10")]


def test_ambiguous_declaration_once_per_code():
    m = resolve(plan("1.10", "11.0", "1.1.0", "3.5.1", "35.1"))
    got = [(d.code, d.detail) for d in m.diagnostics]
    assert sorted(got) == [("ambiguous-declaration", "1.1.0 and 1.10 and 11.0 share code 110"),
                           ("ambiguous-declaration", "3.5.1 and 35.1 share code 351")]
    assert all(d.path == "plans/F/PLAN_F.md" for d in m.diagnostics)


def test_ambiguous_code_resolved_by_content():
    m = resolve(plan("1.10", "11.0"), subplans=[sub("110", own="1.10")])
    assert ach(m, "1.10").subplan is not None and ach(m, "11.0").subplan is None
    assert ("ambiguous-id-resolved", "plans/F/subplans/SUBPLAN_F_110.md", "1.10") in codes(m)


def test_ambiguous_code_not_resolved_attaches_to_nobody():
    approved = fb("approved", "110")
    m = resolve(plan("1.10", "11.0"), feedback=[approved, fb("fix", "110", own="2.2")])
    assert ach(m, "1.10").feedback == () and ach(m, "11.0").feedback == ()
    errs = [(d.code, d.path, d.detail) for d in m.diagnostics if d.severity == "error"]
    assert errs == [("ambiguous-id", approved.path, "candidates 1.10, 11.0; the file names no achievement"),
                    ("ambiguous-id", "plans/F/execution/feedbacks/FIX_110.md",
                     "candidates 1.10, 11.0; the file names 2.2")]
    assert set(m.unattached) == {approved.path, "plans/F/execution/feedbacks/FIX_110.md"}


def test_orphan_gets_no_further_checks_but_keeps_read_diagnostics():
    path = "subplans/SUBPLAN_F_09.md"
    s = sub("09", own="1.2", path=path, diagnostics=(w("missing-parent", path), w("encoding", path)))
    m = resolve(plan("0.1"), subplans=[s])
    assert codes(m) == [("encoding", path, None), ("orphan-file", path, None)]
    assert m.unattached == (path,)


def test_attached_documents_diagnostics_get_the_achievement_once():
    path = "plans/F/execution/EXECUTION_TASK_F_11_01.md"
    e = ex("11", diagnostics=(w("status-conflict", path), w("missing-parent", path, achievement="1.1")))
    m = resolve(plan("1.1"), subplans=[sub("11")], executions=[e])
    assert codes(m) == [("missing-parent", path, "1.1"), ("status-conflict", path, "1.1")]


def test_archived_subplans_attach_silently():
    arch = sub("22", path="archive/SUBPLAN_F_22_ARCHIVED.md", archived=True)
    lost = sub("99", path="archive/SUBPLAN_F_99.md", archived=True)
    amb = sub("110", own="11.0", path="archive/SUBPLAN_F_110.md", archived=True)
    m = resolve(plan("2.2", "1.10", "11.0"), archived=[arch, lost, amb])
    assert ach(m, "2.2").archived_subplans == (arch,) and ach(m, "2.2").subplan is None
    assert ach(m, "11.0").archived_subplans == (amb,)
    assert [d.code for d in m.diagnostics] == ["ambiguous-declaration"]


def test_executions_and_feedback_sorted_by_path():
    m = resolve(plan("2.1"), subplans=[sub("21")], executions=[ex("21", "02"), ex("21", "01")],
                feedback=[fb("resolution", "21"), fb("fix", "21")])
    a = ach(m, "2.1")
    assert [e.mm for e in a.executions] == ["01", "02"]
    assert [f.kind for f in a.feedback] == ["fix", "resolution"]


def test_discovery_diagnostics_are_tagged():
    raw = [{"code": "duplicate-file", "severity": "warning", "path": "subplans/SUBPLAN_F_11.md", "line": None,
            "achievement": None, "message": "dup", "detail": "the copy in the plan folder wins"},
           {"code": "extra-plan-file", "severity": "warning", "path": "plans/F/PLAN_NOTES.md", "line": None,
            "achievement": None, "message": "look-alike", "detail": None}]
    m = resolve(plan("1.1"), subplans=[sub("11")], discovery_diagnostics=raw)
    assert codes(m) == [("duplicate-file", "subplans/SUBPLAN_F_11.md", "1.1"),
                        ("extra-plan-file", "plans/F/PLAN_NOTES.md", None)]


def test_parallel_document_diagnostics_are_kept():
    par = ParallelDoc(path="plans/F/parallel.json", valid=True,
                      diagnostics=(w("parallel-field-type", "plans/F/parallel.json", achievement="1.1"),))
    m = resolve(plan("1.1"), parallel=par)
    assert m.parallel == par
    assert codes(m) == [("parallel-field-type", "plans/F/parallel.json", "1.1")]


def test_plan_document_diagnostics_are_kept():
    m = resolve(plan("1.1", diagnostics=(w("encoding", "plans/F/PLAN_F.md"),)))
    assert codes(m) == [("encoding", "plans/F/PLAN_F.md", None)]


def test_dedupe_sorts_and_drops_repeats():
    a, b = w("x", "b.md", line=3), w("y", "a.md")
    assert dedupe([a, b, a]) == [b, a]


def test_dedupe_keeps_findings_that_differ_only_in_their_message():
    """A one-line (minified) parallel.json listing 1.1 three times: two duplicate-id errors on line 1."""
    par = parse_parallel(json.dumps({"plan_name": "F", "parallelization_level": "level_1", "achievements": [
        {"achievement_id": "1.1", "dependencies": []}] * 3}).encode(), "plans/F/parallel.json", "F")
    dups = [d.message for d in resolve(plan("1.1"), parallel=par).diagnostics if d.detail == "duplicate-id"]
    assert dups == ["duplicate-id: 1.1 is listed twice (items 0 and 1)",
                    "duplicate-id: 1.1 is listed twice (items 0 and 2)"]

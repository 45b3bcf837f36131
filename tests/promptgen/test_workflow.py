"""Workflow state machine (R-STATE, R-FEEDBACK-PRECEDENCE, 5.4 slots, R-LAYOUT-4, R-PLAN, R-NEXT, R-PAR-*)."""
import pytest

from promptgen.documents import (
    Declaration,
    Diagnostic,
    ExecutionDoc,
    FeedbackDoc,
    ParallelDoc,
    ParallelItem,
    PlanDoc,
    SubplanDoc,
)
from promptgen.parallel_plan import levels, waves
from promptgen.resolve import resolve_plan
from promptgen.results import AchievementFiles, PlanInfo
from promptgen.workflow import achievement_status, lookup, plan_status, portfolio, ready, slots

NESTED = PlanInfo(name="F", plan_file="plans/F/PLAN_F.md", plan_dir="plans/F", layout="nested")
FLAT = PlanInfo(name="Q", plan_file="plans/a/PLAN_Q.md", plan_dir="plans/a", layout="flat", category="a")
FB = "plans/F/execution/feedbacks/"


def sub(code="21", planned=()):
    return SubplanDoc(path=f"plans/F/subplans/SUBPLAN_F_{code}.md", feature="F", code=code,
                      planned_slots=tuple(planned))


def ex(mm, status="complete", suffix=None, revision=0, code="21"):
    name = f"EXECUTION_TASK_F_{code}_{mm}" + (f"_{suffix}" if suffix else "")
    return ExecutionDoc(path=f"plans/F/execution/{name}.md", feature="F", code=code, mm=mm, suffix=suffix,
                        revision=revision, status=status)


def fb(kind, date=None, code="21", folder=FB):
    name = {"approved": "APPROVED_{}", "fix": "FIX_{}", "resolution": "FIX_{}_RESOLUTION", "skipped": "SKIPPED_{}"}
    return FeedbackDoc(path=f"{folder}{name[kind].format(code)}.md", kind=kind, code=code, date=date)


def files(subplan=None, executions=(), feedback=(), archived=(), id_="2.1"):
    code = id_.replace(".", "")
    return AchievementFiles(id=id_, code=code, title="T", subplan=subplan, executions=tuple(executions),
                            feedback=tuple(feedback), archived_subplans=tuple(archived))


def st(info=NESTED, **kw):
    return achievement_status(files(**kw), info)


def row(s):
    return s.state, s.action, s.target


def dcodes(s):
    return sorted((d.code, d.path) for d in s.diagnostics)


# -- R-STATE ladder, one test per row of the table in 8.2 ------------------------------------------------------

def test_skipped_is_terminal_even_with_subplan_and_fix():
    s = st(subplan=sub(), feedback=[fb("skipped"), fb("fix", "2025-01-02")])
    assert row(s) == ("skipped", None, None)
    assert s.deciding_file == FB + "SKIPPED_21.md" and s.diagnostics == ()


def test_skipped_and_approved_is_approved_with_conflicting_feedback():
    s = st(feedback=[fb("approved"), fb("skipped", folder="plans/F/execution/")])
    assert row(s) == ("approved", None, None)
    assert dcodes(s) == [("conflicting-feedback", "plans/F/execution/SKIPPED_21.md")]


def test_approved_wins_over_open_executions():
    s = st(subplan=sub(), executions=[ex("01", "open")], feedback=[fb("approved", "2025-03-01")])
    assert row(s) == ("approved", None, None) and s.deciding_file == FB + "APPROVED_21.md"


@pytest.mark.parametrize("fix_date, appr_date", [("2025-04-05", "2025-04-05"), ("2025-03-03", "2025-03-05"),
                                                 (None, "2025-03-05"), ("2025-04-09", None)])
def test_approved_unless_fix_strictly_later(fix_date, appr_date):
    s = st(feedback=[fb("approved", appr_date), fb("fix", fix_date)])
    assert row(s) == ("approved", None, None) and s.diagnostics == ()


def test_fix_after_approval_reopens():
    s = st(subplan=sub(), feedback=[fb("approved", "2025-04-02"), fb("fix", "2025-04-09")])
    assert row(s) == ("fix_pending", "apply_fixes", FB + "FIX_21_RESOLUTION.md")
    assert dcodes(s) == [("fix-after-approval", FB + "FIX_21.md")]
    s = st(feedback=[fb("approved", "2025-04-02"), fb("fix", "2025-04-09 10:00"), fb("resolution", "2025-04-10")])
    assert row(s) == ("fix_pending", "review_resolution", FB)


def test_fix_pending_apply_fixes():
    s = st(subplan=sub(), executions=[ex("01")], feedback=[fb("fix", "2025-03-06")])
    assert row(s) == ("fix_pending", "apply_fixes", FB + "FIX_21_RESOLUTION.md")
    assert s.deciding_file == FB + "FIX_21.md"


@pytest.mark.parametrize("fix_date, res_date, action", [
    ("2025-02-10", "2025-02-12", "review_resolution"),
    ("2025-02-10", "2025-02-10", "review_resolution"),
    ("2025-02-10", None, "review_resolution"),
    (None, "2025-02-12", "review_resolution"),
    ("2025-02-10", "2025-02-09", "apply_fixes"),
])
def test_fix_with_resolution(fix_date, res_date, action):
    s = st(feedback=[fb("fix", fix_date), fb("resolution", res_date)])
    assert (s.state, s.action) == ("fix_pending", action)
    assert s.target == (FB if action == "review_resolution" else FB + "FIX_21_RESOLUTION.md")


def test_resolution_without_fix_is_ignored_with_warning():
    s = st(subplan=sub(), feedback=[fb("resolution", "2025-01-01")])
    assert row(s)[0] == "subplan_no_execution"
    assert dcodes(s) == [("resolution-without-fix", FB + "FIX_21_RESOLUTION.md")]


def test_no_subplan_nested_and_flat_targets():
    assert row(st()) == ("no_subplan", "create_subplan", "plans/F/subplans/SUBPLAN_F_21.md")
    assert row(st(FLAT)) == ("no_subplan", "create_subplan", "subplans/SUBPLAN_Q_21.md")


def test_archived_only():
    arch = SubplanDoc(path="archive/SUBPLAN_F_21_ARCHIVED.md", feature="F", code="21", archived=True)
    s = st(archived=[arch])
    assert row(s)[0] == "no_subplan"
    assert dcodes(s) == [("archived-only", "archive/SUBPLAN_F_21_ARCHIVED.md")]
    assert s.diagnostics[0].achievement == "2.1"
    assert st(archived=[arch], feedback=[fb("approved")]).diagnostics == ()
    assert st(archived=[arch], subplan=sub()).diagnostics == ()


def test_subplan_no_execution():
    assert row(st(subplan=sub())) == ("subplan_no_execution", "create_execution",
                                      "plans/F/execution/EXECUTION_TASK_F_21_01.md")
    flat = st(FLAT, subplan=sub())
    assert row(flat) == ("subplan_no_execution", "create_execution", "execution/EXECUTION_TASK_Q_21_01.md")
    assert flat.next_mm == "01"


def test_abandoned_slots_are_not_live_but_count_for_numbering():
    s = st(subplan=sub(), executions=[ex("01", "abandoned")])
    assert row(s) == ("subplan_no_execution", "create_execution", "plans/F/execution/EXECUTION_TASK_F_21_02.md")
    s = st(subplan=sub(planned=["21_01", "21_02"]), executions=[ex("01", "abandoned"), ex("02")])
    assert row(s) == ("execution_active", "create_next_execution", "plans/F/execution/EXECUTION_TASK_F_21_03.md")


def test_continue_execution_targets_first_open_slot():
    s = st(subplan=sub(), executions=[ex("01"), ex("02", "blocked"), ex("03", "open")])
    assert row(s) == ("execution_active", "continue_execution", "plans/F/execution/EXECUTION_TASK_F_21_03.md")
    s = st(subplan=sub(), executions=[ex("01"), ex("02", "blocked")])
    assert row(s) == ("execution_active", "continue_execution", "plans/F/execution/EXECUTION_TASK_F_21_02.md")


def test_revisions_govern_their_slot():
    done = [ex("01"), ex("02", "open"), ex("02", "complete", "V2", 2)]
    assert row(st(subplan=sub(), executions=done)) == ("executions_done", "review", FB)
    reopened = [ex("01", "complete"), ex("01", "open", "RECOVERY", 1)]
    assert row(st(subplan=sub(), executions=reopened))[2] == "plans/F/execution/EXECUTION_TASK_F_21_01_RECOVERY.md"
    v3 = [ex("01", "open", "V2", 2), ex("01", "complete", "V3", 3), ex("01", "open", "RECOVERY", 1)]
    assert row(st(subplan=sub(), executions=v3))[0] == "executions_done"


def test_create_next_execution_uses_highest_mm_plus_one():
    s = st(subplan=sub(planned=["21_01", "21_02", "21_03"]), executions=[ex("01"), ex("03")])
    assert row(s) == ("execution_active", "create_next_execution", "plans/F/execution/EXECUTION_TASK_F_21_04.md")
    assert s.next_mm == "04"


def test_more_finished_files_than_planned_rows_is_review():
    s = st(subplan=sub(planned=["21_01"]), executions=[ex("01"), ex("01", "complete", "V2", 2), ex("02")])
    assert row(s) == ("executions_done", "review", FB)
    assert row(st(FLAT, subplan=sub(), executions=[ex("01")])) == ("executions_done", "review",
                                                                   "plans/a/execution/feedbacks/")


def test_lists_are_reported_sorted():
    s = st(subplan=sub(), executions=[ex("02"), ex("01")], feedback=[fb("resolution"), fb("fix")])
    assert list(s.executions) == sorted(s.executions) and list(s.feedback) == sorted(s.feedback)
    assert s.subplan == "plans/F/subplans/SUBPLAN_F_21.md"


def test_target_null_when_name_taken_by_another_id():
    a = files(id_="11.0")
    assert achievement_status(a, NESTED, taken={"SUBPLAN_F_110.md"}).target is None
    assert achievement_status(a, NESTED, taken={"EXECUTION_TASK_F_110_01.md"}).target == \
        "plans/F/subplans/SUBPLAN_F_110.md"


def test_feedback_targets_null_when_feedback_dir_is_ambiguous():
    info = FLAT.model_copy(update={"feedback_usable": False})
    assert row(st(info, subplan=sub(), executions=[ex("01")])) == ("executions_done", "review", None)


def test_slots_helper():
    got = slots([ex("02", "open"), ex("01"), ex("02", "complete", "V2", 2), ex("10")])
    assert [(mm, e.path.rsplit("/", 1)[1]) for mm, e in got] == [
        (1, "EXECUTION_TASK_F_21_01.md"), (2, "EXECUTION_TASK_F_21_02_V2.md"), (10, "EXECUTION_TASK_F_21_10.md")]


# -- plan level: R-PLAN, R-NEXT, parallel.json ---------------------------------------------------------------

def plan_doc(ids, pointer=None):
    decls = tuple(Declaration(id=i, title=f"T{i}", line=n + 1, shape="D1") for n, i in enumerate(ids))
    return PlanDoc(path="plans/F/PLAN_F.md", feature="F", title="PLAN: F", declarations=decls,
                   handoff_pointer=pointer, handoff_pointer_line=9 if pointer else None)


def approved(code):
    return fb("approved", "2025-01-01", code=code)


def model(ids, pointer=None, feedback=(), parallel=None, subplans=(), executions=()):
    return resolve_plan(NESTED, plan_doc(ids, pointer), list(subplans), [], list(executions), list(feedback),
                        parallel)


def pcodes(status):
    return sorted((d.code, d.detail) for d in status.diagnostics)


def test_complete_when_all_approved_or_skipped():
    s = plan_status(model(["0.1", "0.2"], pointer="0.1", feedback=[approved("01"), fb("skipped", code="02")]))
    assert s.complete and s.next is None and s.next_reason is None
    assert s.diagnostics == ()  # no stale-handoff once the plan is complete


def test_no_declarations_not_complete_no_next_no_handoff_diagnostics():
    s = plan_status(model([], pointer="1.1"))
    assert (s.complete, s.next, s.next_reason, s.handoff_pointer) == (False, None, None, "1.1")
    assert s.diagnostics == ()


def test_next_follows_an_open_handoff_pointer():
    s = plan_status(model(["1.1", "1.10"], pointer="1.10"))
    assert (s.next, s.next_reason) == ("1.10", "handoff")
    assert s.title == "PLAN: F"


def test_stale_handoff_falls_back_to_first_open():
    s = plan_status(model(["0.1", "0.2", "1.1"], pointer="0.1", feedback=[approved("01")]))
    assert (s.next, s.next_reason) == ("0.2", "first_open")
    assert pcodes(s) == [("stale-handoff", "0.1 is approved")]
    assert s.diagnostics[0].path == "plans/F/PLAN_F.md" and s.diagnostics[0].line == 9


def test_handoff_unknown_id():
    s = plan_status(model(["0.1"], pointer="3.4"))
    assert (s.next, s.next_reason) == ("0.1", "first_open")
    assert pcodes(s) == [("handoff-unknown-id", "3.4")]


def test_first_open_in_canonical_order_without_pointer():
    s = plan_status(model(["1.10", "1.9", "0.1"], feedback=[approved("01")]))
    assert (s.next, s.next_reason) == ("1.9", "first_open")


def par(items, plan_name="F", valid=True, diagnostics=()):
    return ParallelDoc(path="plans/F/parallel.json", valid=valid, plan_name=plan_name, level="level_2",
                       items=tuple(ParallelItem(id=i, dependencies=tuple(d)) for i, d in items),
                       diagnostics=tuple(diagnostics))


ORBIT_ITEMS = [("0.1", []), ("0.2", ["0.1"]), ("1.1", ["0.1"]), ("1.2", ["1.1"]), ("1.3", ["1.1"]),
               ("2.1", ["0.2", "1.1"]), ("2.2", ["1.2"]), ("3.1", ["2.1", "1.3"]), ("3.2", ["2.1"])]


def test_parallel_levels_and_waves():
    ids = [i for i, _ in ORBIT_ITEMS]
    fbs = [approved("01"), approved("02"), approved("11"), fb("skipped", code="13")]
    s = plan_status(model(ids, feedback=fbs, parallel=par(ORBIT_ITEMS)))
    p = s.parallel
    assert p.valid and p.parallelization_level == "level_2"
    assert p.dependency_levels == {"0.1": 0, "0.2": 1, "1.1": 1, "1.2": 2, "1.3": 2, "2.1": 2, "2.2": 3, "3.1": 3,
                                   "3.2": 3}
    assert p.waves == (("1.2", "2.1"), ("2.2", "3.1", "3.2"))
    assert ready(s) == p.waves
    assert (s.next, s.next_reason) == ("1.2", "first_open")
    assert s.diagnostics == ()


def test_next_with_parallel_skips_blocked_achievements():
    items = [("1.1", ["2.1"]), ("2.1", [])]
    s = plan_status(model(["1.1", "2.1"], parallel=par(items)))
    assert s.next == "2.1"
    assert s.parallel.waves == (("2.1",), ("1.1",))


def test_parallel_missing_achievement_joins_no_wave():
    s = plan_status(model(["0.1", "0.2", "0.3"], parallel=par([("0.1", []), ("0.2", ["0.1"])])))
    assert [(d.code, d.achievement) for d in s.diagnostics] == [("parallel-missing-achievement", "0.3")]
    assert s.parallel.waves == (("0.1",), ("0.2",))


def test_parallel_id_not_declared_makes_it_invalid():
    parser_said = Diagnostic(code="invalid-parallel-json", severity="error", path="plans/F/parallel.json",
                             achievement="3.3", message="unknown-id: 3.3 not listed", detail="unknown-id")
    doc = par([("0.1", []), ("9.9", ["0.1"]), ("0.2", ["3.3"])], valid=False, diagnostics=[parser_said])
    s = plan_status(model(["0.1", "0.2"], parallel=doc))
    got = [(d.code, d.detail, d.achievement) for d in s.diagnostics]
    assert got == [("invalid-parallel-json", "unknown-id", "9.9")]
    p = s.parallel
    assert (p.valid, p.parallelization_level, p.dependency_levels, p.waves) == (False, None, None, None)
    assert s.next == "0.1"


def test_parallel_cycle_found_when_parser_did_not_report_it():
    s = plan_status(model(["0.1", "0.2"], parallel=par([("0.1", ["0.2"]), ("0.2", ["0.1"])])))
    assert [(d.code, d.detail) for d in s.diagnostics] == [("invalid-parallel-json", "cycle")]
    assert not s.parallel.valid


def test_parallel_plan_name_mismatch():
    s = plan_status(model(["0.1"], parallel=par([("0.1", [])], plan_name="OTHER")))
    assert [(d.code, d.severity) for d in s.diagnostics] == [("parallel-plan-name-mismatch", "warning")]
    assert s.parallel.valid


def test_level_and_wave_helpers():
    deps = {"1.1": (), "1.2": ("1.1",), "2.1": ("1.1", "1.2")}
    assert levels(deps) == {"1.1": 0, "1.2": 1, "2.1": 2}
    assert waves(deps, {"1.1": "approved", "1.2": "no_subplan", "2.1": "skipped"}) == (("1.2",),)


def test_ready_without_parallel_is_sequential_next_first():
    s = plan_status(model(["0.1", "0.2", "1.1"], pointer="1.1"))
    assert ready(s) == (("1.1",), ("0.1",), ("0.2",))


def test_lookup():
    s = plan_status(model(["1.1", "1.10", "3.5.1"]))
    assert lookup(s, "1.10").id == "1.10" and lookup(s, "1.1").id == "1.1"
    for bad in ("3.5", "9.9", "x", ""):
        d = lookup(s, bad)
        assert (d.code, d.severity, d.path) == ("unknown-achievement", "error", "plans/F/PLAN_F.md")


def test_portfolio_rows():
    a = plan_status(model(["0.1", "0.2"], feedback=[approved("01")]))
    rows = portfolio([a])
    assert rows == [{"name": "F", "path": "plans/F/PLAN_F.md", "category": None, "approved": 1, "skipped": 0,
                     "total": 2, "states": {"approved": 1, "skipped": 0, "fix_pending": 0, "no_subplan": 1,
                                            "subplan_no_execution": 0, "execution_active": 0,
                                            "executions_done": 0},
                     "next": "0.2", "complete": False}]


def test_shared_code_target_is_null_at_plan_level():
    s110 = SubplanDoc(path="plans/F/subplans/SUBPLAN_F_110.md", feature="F", code="110", own_id="1.10")
    s = plan_status(model(["1.10", "11.0"], subplans=[s110]))
    by = {a.id: a for a in s.achievements}
    assert row(by["1.10"]) == ("subplan_no_execution", "create_execution",
                               "plans/F/execution/EXECUTION_TASK_F_110_01.md")
    assert row(by["11.0"]) == ("no_subplan", "create_subplan", None)

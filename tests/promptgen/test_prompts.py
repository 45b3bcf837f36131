"""Tests of prompt generation (promptgen.prompts, METHODOLOGY section 9).

Models are built by hand with small constructors, so these tests do not depend on the parsers,
resolution or workflow modules.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from string import Template

import pytest
import xxhash

from promptgen import prompt_blocks as B
from promptgen import prompts
from promptgen.documents import (
    Declaration,
    Diagnostic,
    ExecutionDoc,
    FeedbackDoc,
    FixDetails,
    FixIssue,
    PlanDoc,
    SubplanDoc,
    id_code,
)
from promptgen.results import (
    AchievementFiles,
    AchievementStatus,
    ParallelReport,
    PlanInfo,
    PlanModel,
    PlanStatus,
)

# ------------------------------------------------------------------------------------ constructors

P = "plans/ORBIT-SYNC"
PLAN_FILE = f"{P}/PLAN_ORBIT-SYNC.md"
FB = f"{P}/execution/feedbacks/"
LONG_TITLE = "Retire the legacy forge scheduler after migrating " + ", ".join(
    f"pipeline p{i:02d}" for i in range(1, 121)) + " to the new build queue"

TITLES = {
    "0.1": "Wire the heartbeat channel",
    "1.1": "Relay handshake (v2 protocol)",
    "1.2": "Backpressure for slow consumers",
    "1.3": "Legacy bridge for v1 clients",
    "2.1": "Relay fan-out",
    "2.2": LONG_TITLE,
    "3.1": "Operator dashboard",
    "3.2": "Alert routing",
    "3.5.1": "Artifact checksum mapping fixed",
    "4.1": "Query planner",
}


def info(name="ORBIT-SYNC", plan_dir=P, layout="nested", feedback_usable=True):
    return PlanInfo(name=name, plan_file=f"{plan_dir}/PLAN_{name}.md", plan_dir=plan_dir, layout=layout,
                    feedback_usable=feedback_usable)


def block(aid, title=None, goal="do the thing"):
    return f"**Achievement {aid}**: {title or TITLES[aid]}\n\n- **Goal**: {goal} for {aid}.\n- **Success**: tests pass."


def plan_doc(ids, plan_file=PLAN_FILE, feature="ORBIT-SYNC", handoff="**⏳ Next: Achievement 2.1** (Relay fan-out)",
             titles=TITLES):
    decls = tuple(Declaration(id=i, title=titles[i], line=10 + n, shape="D1") for n, i in enumerate(ids))
    return PlanDoc(path=plan_file, feature=feature, title="PLAN: Orbit Sync Relay", declarations=decls,
                   has_handoff=bool(handoff), handoff_excerpt=handoff,
                   achievement_blocks={i: block(i, titles[i]) for i in ids})


def subplan(aid, feature="ORBIT-SYNC", sdir=f"{P}/subplans", planned=(), **kw):
    c = id_code(aid)
    return SubplanDoc(path=f"{sdir}/SUBPLAN_{feature}_{c}.md", feature=feature, code=c, own_id=aid,
                      planned_slots=tuple(f"{c}_{m}" for m in planned),
                      objective=kw.pop("objective", f"Objective of {aid}."),
                      approach=kw.pop("approach", f"1. Approach step of {aid}."),
                      deliverables=kw.pop("deliverables", f"- Deliverable of {aid}."), **kw)


def execution(aid, mm, status="complete", suffix=None, revision=0, feature="ORBIT-SYNC", edir=f"{P}/execution", **kw):
    c = id_code(aid)
    name = f"EXECUTION_TASK_{feature}_{c}_{mm}" + (f"_{suffix}" if suffix else "") + ".md"
    header = {"complete": "✅ Complete", "open": "🔄 In Progress", "blocked": "⏸️ BLOCKED"}.get(status, status)
    return ExecutionDoc(path=f"{edir}/{name}", feature=feature, code=c, mm=mm, suffix=suffix, revision=revision,
                        own_id=aid, header_status=kw.pop("header_status", header), status=status,
                        closing_status=kw.pop("closing_status", f"**Status**: ✅ Complete ({aid} {mm})"),
                        learning_summary=kw.pop("learning_summary", f"- Learned something in {aid}/{mm}."),
                        last_iteration=kw.pop("last_iteration", f"### Iteration 2\n\n- Worked on {aid}/{mm}."),
                        **kw)


def feedback(kind, aid, date="2025-03-06", fix=None, fdir=FB):
    c = id_code(aid)
    name = {"approved": f"APPROVED_{c}.md", "fix": f"FIX_{c}.md", "resolution": f"FIX_{c}_RESOLUTION.md",
            "skipped": f"SKIPPED_{c}.md"}[kind]
    return FeedbackDoc(path=fdir + name, kind=kind, code=c, own_id=aid, date=date, fix=fix)


FIX_12 = FixDetails(
    reviewer="Dana Whitcombe",
    summary="Load shedding works, but it also drops messages for healthy consumers.",
    critical=(FixIssue(title="Healthy consumers lose messages under load",
                       body="- The shedding threshold is global instead of per consumer.", line=13),
              FixIssue(title="No metric for shed messages", body="- Operators cannot see how much was dropped.")),
    minor=(FixIssue(title="Queue bound is not documented", body="- Add it to the operator guide."),),
    code_refs=("relay/flow.py:88", "@Python (40-58)"),
    what_worked=("The slow-consumer test reproduces the original incident.",),
    action_plan="Apply both critical fixes, then write FIX_12_RESOLUTION.md.",
)


def status_of(files: AchievementFiles, state, action=None, target=None, **kw) -> AchievementStatus:
    return AchievementStatus(
        id=files.id, code=files.code, title=files.title, state=state, action=action, target=target,
        subplan=files.subplan.path if files.subplan else None,
        executions=tuple(e.path for e in files.executions), feedback=tuple(f.path for f in files.feedback), **kw)


def orbit():
    """A plan with one achievement per action (and the two terminal states)."""
    a01 = AchievementFiles(id="0.1", code="01", title=TITLES["0.1"], subplan=subplan("0.1"),
                           executions=(execution("0.1", "01"),), feedback=(feedback("approved", "0.1"),))
    a11 = AchievementFiles(id="1.1", code="11", title=TITLES["1.1"], subplan=subplan("1.1"),
                           executions=(execution("1.1", "01"),))
    a12 = AchievementFiles(id="1.2", code="12", title=TITLES["1.2"], subplan=subplan("1.2"),
                           executions=(execution("1.2", "01"),), feedback=(feedback("fix", "1.2", fix=FIX_12),))
    a13 = AchievementFiles(id="1.3", code="13", title=TITLES["1.3"], subplan=subplan("1.3"),
                           feedback=(feedback("skipped", "1.3"),))
    conflict = Diagnostic(code="status-conflict", severity="warning",
                          path=f"{P}/execution/EXECUTION_TASK_ORBIT-SYNC_21_01.md", achievement="2.1",
                          message="header says In Progress, closing section says Complete")
    a21 = AchievementFiles(id="2.1", code="21", title=TITLES["2.1"], subplan=subplan("2.1", planned=("01", "02")),
                           executions=(execution("2.1", "01", header_status="🔄 In Progress",
                                                 diagnostics=(conflict,)),
                                       execution("2.1", "02", status="open"),
                                       execution("2.1", "02", suffix="V2", revision=2)))
    a22 = AchievementFiles(id="2.2", code="22", title=TITLES["2.2"],
                           archived_subplans=(SubplanDoc(path="archive/SUBPLAN_ORBIT-SYNC_22_ARCHIVED.md",
                                                         feature="ORBIT-SYNC", code="22", archived=True),))
    a31 = AchievementFiles(id="3.1", code="31", title=TITLES["3.1"], subplan=subplan("3.1", planned=("01", "02")))
    a32 = AchievementFiles(id="3.2", code="32", title=TITLES["3.2"], subplan=subplan("3.2", planned=("01", "02")),
                           executions=(execution("3.2", "01", status="open", closing_status=""),))
    a351 = AchievementFiles(id="3.5.1", code="351", title=TITLES["3.5.1"],
                            subplan=subplan("3.5.1", planned=("01", "02", "03")),
                            executions=(execution("3.5.1", "01"),))
    a41 = AchievementFiles(id="4.1", code="41", title=TITLES["4.1"], subplan=subplan("4.1"),
                           executions=(execution("4.1", "01"),),
                           feedback=(feedback("fix", "4.1", date="2025-02-10", fix=FIX_12),
                                     feedback("resolution", "4.1", date="2025-02-12")))
    files = (a01, a11, a12, a13, a21, a22, a31, a32, a351, a41)
    ids = [f.id for f in files]
    model = PlanModel(info=info(), plan=plan_doc(ids), achievements=files, diagnostics=(conflict,))
    e = f"{P}/execution/"
    statuses = (
        status_of(a01, "approved", deciding_file=FB + "APPROVED_01.md"),
        status_of(a11, "approved"),  # no deciding_file: the renderer falls back to the attached feedback
        status_of(a12, "fix_pending", "apply_fixes", FB + "FIX_12_RESOLUTION.md"),
        status_of(a13, "skipped", deciding_file=FB + "SKIPPED_13.md"),
        status_of(a21, "executions_done", "review", FB),
        status_of(a22, "no_subplan", "create_subplan", f"{P}/subplans/SUBPLAN_ORBIT-SYNC_22.md"),
        status_of(a31, "subplan_no_execution", "create_execution", e + "EXECUTION_TASK_ORBIT-SYNC_31_01.md",
                  next_mm="01"),
        status_of(a32, "execution_active", "continue_execution", e + "EXECUTION_TASK_ORBIT-SYNC_32_01.md"),
        status_of(a351, "execution_active", "create_next_execution", e + "EXECUTION_TASK_ORBIT-SYNC_351_02.md",
                  next_mm="02"),
        status_of(a41, "fix_pending", "review_resolution", FB),
    )
    parallel = ParallelReport(file=f"{P}/parallel.json", valid=True, parallelization_level="level_2",
                              dependencies={"0.1": (), "1.1": ("0.1",), "1.2": ("1.1",), "1.3": ("1.1",),
                                            "2.1": ("0.1", "1.1"), "2.2": ("1.2", "1.3"), "3.1": ("2.1",),
                                            "3.2": ("2.1",), "3.5.1": (), "4.1": ()})
    status = PlanStatus(info=model.info, title="PLAN: Orbit Sync Relay", achievements=statuses, next="2.1",
                        next_reason="handoff", handoff_pointer="2.1", parallel=parallel)
    return model, status


@pytest.fixture()
def plan():
    return orbit()


def render(plan, aid):
    model, status = plan
    return prompts.render_prompt(model, status, aid)


# ------------------------------------------------------------------------------------ templates


def test_template_files_exist_and_use_only_known_placeholders():
    assert set(prompts.TEMPLATE_NAMES) == {
        "create_subplan", "create_execution", "create_next_execution", "continue_execution", "review",
        "apply_fixes", "review_resolution", "terminal", "plan_complete", "error"}
    for name in prompts.TEMPLATE_NAMES:
        text = prompts.template_text(name)
        assert text == (Path(prompts.__file__).parent / "templates" / f"{name}.md").read_text("utf-8")
        bad = [m.group(0) for m in Template.pattern.finditer(text) if m.group("invalid") is not None]
        assert not bad, (name, bad)  # Template.is_valid() is Python 3.11+
        # logic stays in Python: no loops/conditionals of another template language
        assert "{%" not in text and "{{" not in text


def test_template_text_rejects_unknown_names():
    with pytest.raises(ValueError):
        prompts.template_text("../prompts")


def test_template_for():
    model, status = orbit()
    got = {a.id: prompts.template_for(a, status.complete) for a in status.achievements}
    assert got == {"0.1": "terminal", "1.1": "terminal", "1.2": "apply_fixes", "1.3": "terminal", "2.1": "review",
                   "2.2": "create_subplan", "3.1": "create_execution", "3.2": "continue_execution",
                   "3.5.1": "create_next_execution", "4.1": "review_resolution"}
    blocked = status.achievements[5].model_copy(update={"target": None})
    assert prompts.template_for(blocked, False) == "error"
    assert prompts.template_for(None, True) == "plan_complete"
    assert prompts.template_for(None, False) == "error"


def test_templates_version_is_xxh3_of_sorted_files():
    names = sorted(p.name for p in prompts.TEMPLATES_DIR.glob("*.md"))
    h = xxhash.xxh3_128()
    for n in names:
        h.update((prompts.TEMPLATES_DIR / n).read_bytes())
    assert prompts.templates_version() == h.hexdigest()
    assert re.fullmatch(r"[0-9a-f]{32}", prompts.templates_version())


def test_templates_version_changes_with_template_bytes(tmp_path, monkeypatch):
    copy = tmp_path / "templates"
    shutil.copytree(prompts.TEMPLATES_DIR, copy)
    monkeypatch.setattr(prompts, "TEMPLATES_DIR", copy)
    before = prompts.templates_version()
    assert before == prompts.templates_version()
    path = copy / "review.md"
    path.write_bytes(path.read_bytes() + b" ")
    after = prompts.templates_version()
    assert after != before
    # and the edited template is what gets rendered
    assert prompts.template_text("review").endswith(" ")


# --------------------------------------------------------------------------------- common elements


WORK_IDS = ["1.2", "2.1", "2.2", "3.1", "3.2", "3.5.1", "4.1"]


@pytest.mark.parametrize("aid", WORK_IDS)
def test_work_prompt_common_elements(plan, aid):
    model, status = plan
    st = next(a for a in status.achievements if a.id == aid)
    text = render(plan, aid)
    assert "ORBIT-SYNC" in text and PLAN_FILE in text
    assert f"{aid} — {TITLES[aid]}" in text  # id and FULL title
    assert f"`{st.state}`" in text
    assert st.target in text
    assert "Do NOT read the whole PLAN" in text
    assert f"**Achievement {aid}**: {TITLES[aid]}" in text  # achievement block
    assert "**⏳ Next: Achievement 2.1**" in text  # handoff excerpt
    assert "## Dependencies (from `plans/ORBIT-SYNC/parallel.json`)" in text
    assert f"**Achievement**: {aid}" in text  # header contract with the full dotted id
    assert "$" not in text.replace("$$", "")  # every placeholder was filled
    assert "{{" not in text


def test_full_title_is_never_truncated(plan):
    text = render(plan, "2.2")
    assert LONG_TITLE in text
    assert "pipeline p120 to the new build queue" in text


def test_dependencies_listed_with_states(plan):
    text = render(plan, "2.2")
    assert f"- 1.2 {TITLES['1.2']}: `fix_pending` (NOT done)" in text
    assert f"- 1.3 {TITLES['1.3']}: `skipped` (done)" in text
    text = render(plan, "3.5.1")
    assert "does not depend on other achievements" in text


def test_dependencies_omitted_without_valid_parallel(plan):
    model, status = plan
    for par in (None, status.parallel.model_copy(update={"valid": False})):
        st = status.model_copy(update={"parallel": par})
        text = prompts.render_prompt(model, st, "2.2")
        assert "Dependencies" not in text


def test_handoff_excerpt_is_capped():
    model, status = orbit()
    long = "\n".join(f"handoff line {i}" for i in range(1, 101))
    model = model.model_copy(update={"plan": model.plan.model_copy(update={"handoff_excerpt": long})})
    text = prompts.render_prompt(model, status, "2.2")
    assert "handoff line 40\n" in text and "handoff line 41\n" not in text
    assert "60 more lines" in text


def test_missing_handoff_is_said(plan):
    model, status = plan
    model = model.model_copy(update={"plan": model.plan.model_copy(update={"handoff_excerpt": "",
                                                                          "has_handoff": False})})
    assert "no `Current Status & Handoff` section" in prompts.render_prompt(model, status, "2.2")


# ------------------------------------------------------------------------------------ per action


def test_create_subplan(plan):
    text = render(plan, "2.2")
    assert "`plans/ORBIT-SYNC/subplans/SUBPLAN_ORBIT-SYNC_22.md`" in text
    for section in ("Objective", "What Needs to Be Created", "Approach", "Execution Strategy",
                    "Active EXECUTION_TASKs", "Tests Required", "Expected Results", "Success Criteria"):
        assert section in text, section
    assert "| 22_01 |" in text
    assert "**Type**: SUBPLAN" in text and "**Mother Plan**: PLAN_ORBIT-SYNC.md" in text
    assert "**Status**:" in text and "**Created**: <YYYY-MM-DD>" in text
    assert "archive/SUBPLAN_ORBIT-SYNC_22_ARCHIVED.md" in text  # archived copy offered as reading


def test_create_execution(plan):
    text = render(plan, "3.1")
    assert "`plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_31_01.md`" in text
    assert "MM = 01" in text
    assert "Objective of 3.1." in text and "Approach step of 3.1." in text
    assert "Deliverable of 3.1." not in text  # objective and approach only, not the whole SUBPLAN
    assert "| 31_01 | yes | not created yet |" in text and "| 31_02 | yes |" in text
    for section in ("What We're Building", "Iteration Log", "Learning Summary", "Completion Status"):
        assert section in text
    assert "Header status and closing status must agree" in text
    assert "**Type**: EXECUTION_TASK" in text and "**Subplan**: SUBPLAN_ORBIT-SYNC_31.md" in text
    assert "**Mother Plan**: PLAN_ORBIT-SYNC.md" in text and "**Started**: <YYYY-MM-DD>" in text


def test_create_next_execution(plan):
    text = render(plan, "3.5.1")
    target = "plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_351_02.md"
    assert f"`{target}`" in text
    assert "MM = 02" in text and "**Execution Number**: 02" in text
    assert "**Status**: ✅ Complete (3.5.1 01)" in text  # closing status of the earlier execution
    assert "Learned something in 3.5.1/01." in text  # its learning summary
    assert "| 351_01 | yes | `plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_351_01.md` | complete |" in text
    assert "| 351_03 | yes | not created yet |" in text
    assert "Header status and closing status must agree" in text
    assert "**Achievement**: 3.5.1" in text and "**Achievement**: 3.5\n" not in text


def test_continue_execution(plan):
    text = render(plan, "3.2")
    target = "plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_32_01.md"
    assert f"`{target}` ← the file to continue" in text
    assert "Worked on 3.2/01." in text  # last iteration entry
    assert "Header status: `🔄 In Progress`" in text
    assert "no closing status section yet" in text
    assert 'What "done" means' in text and "✅ Complete" in text
    assert "32_02" in text  # remaining planned slot


def test_review(plan):
    text = render(plan, "2.1")
    assert f"`{FB}APPROVED_21.md`" in text and f"`{FB}FIX_21.md`" in text
    assert "- **Success**: tests pass." in text  # success criteria from the achievement block
    assert "Objective of 2.1." in text and "Deliverable of 2.1." in text
    for path, st in (("EXECUTION_TASK_ORBIT-SYNC_21_01.md", "complete"),
                     ("EXECUTION_TASK_ORBIT-SYNC_21_02.md", "open"),
                     ("EXECUTION_TASK_ORBIT-SYNC_21_02_V2.md", "complete")):
        assert re.search(re.escape(path) + r"` \([^)]*\): effective status \*\*" + st, text), path
    assert "superseded revision of slot 21_02" in text
    assert "`status-conflict`: header says In Progress, closing section says Complete" in text
    assert "**Reviewer**:" in text and "**Review Date**:" in text and "✅ APPROVED" in text
    assert "# FIX REQUIRED: Achievement 2.1" in text and "⚠️ NEEDS FIXES" in text
    for section in ("## Summary", "## Issues Found", "### Critical Issues (must fix)",
                    "### Minor Issues (should fix)", "## What Worked Well", "## Next Steps", "@<Language>"):
        assert section in text, section


def test_apply_fixes(plan):
    text = render(plan, "1.2")
    assert f"`{FB}FIX_12_RESOLUTION.md`" in text and f"`{FB}FIX_12.md`" in text
    for issue in FIX_12.critical + FIX_12.minor:
        assert issue.title in text and issue.body.strip() in text
    assert "`relay/flow.py:88`" in text and "`@Python (40-58)`" in text
    assert "The slow-consumer test reproduces the original incident." in text
    assert "EXECUTION_TASK_ORBIT-SYNC_12_01.md" in text
    assert f"**Achievement 1.2**: {TITLES['1.2']}" in text
    for section in ("## Summary", "## Critical Issues Resolved", "## Minor Issues Addressed",
                    "## Verification", "re-review"):
        assert section in text
    assert "# FIX RESOLUTION: Achievement 1.2" in text and "**Resolution Date**:" in text
    assert "2025-03-06" in text  # the RESOLUTION must not predate the FIX


def test_review_resolution(plan):
    text = render(plan, "4.1")
    assert f"`{FB}FIX_41.md`" in text and f"`{FB}FIX_41_RESOLUTION.md`" in text
    assert "Side by side" in text
    assert text.index("### FIX:") < text.index("### RESOLUTION:")
    assert "| 1 | Healthy consumers lose messages under load | critical | | |" in text
    assert "Resolution date: 2025-02-12." in text
    assert "EXECUTION_TASK_ORBIT-SYNC_41_01.md" in text
    assert f"`{FB}APPROVED_41.md`" in text
    assert "**Reviewer**:" in text and "**Review Date**:" in text
    assert "# FIX REQUIRED: Achievement 4.1" in text and "### Critical Issues (must fix)" in text


# ----------------------------------------------------------------------------- non-work outputs

WORK_WORDS = ("Your task", "Header contract", "Do NOT read", "write exactly")


@pytest.mark.parametrize("aid,state,decided", [("0.1", "approved", FB + "APPROVED_01.md"),
                                               ("1.1", "approved", None),
                                               ("1.3", "skipped", FB + "SKIPPED_13.md")])
def test_terminal_report_is_one_line_without_work(plan, aid, state, decided):
    text = render(plan, aid)
    assert text.count("\n") == 1 and text.endswith("\n")
    assert aid in text and TITLES[aid] in text and state in text and PLAN_FILE in text
    if decided:
        assert decided in text
    else:
        assert "no feedback file" in text
    for word in WORK_WORDS:
        assert word not in text


def test_terminal_uses_attached_feedback_when_deciding_file_missing(plan):
    model, status = plan
    a11 = next(a for a in model.achievements if a.id == "1.1")
    files = a11.model_copy(update={"feedback": (feedback("approved", "1.1"),)})
    model = model.model_copy(update={"achievements": tuple(files if a.id == "1.1" else a for a in model.achievements)})
    assert FB + "APPROVED_11.md" in prompts.render_prompt(model, status, "1.1")


def test_next_achievement_is_default(plan):
    model, status = plan
    assert prompts.render_prompt(model, status, None) == prompts.render_prompt(model, status, "2.1")
    assert prompts.template_name(model, status) == "review"


def test_plan_complete_summary():
    a1 = AchievementFiles(id="0.1", code="01", title=TITLES["0.1"], subplan=subplan("0.1"),
                          executions=(execution("0.1", "01"), execution("0.1", "02")),
                          feedback=(feedback("approved", "0.1"),))
    a2 = AchievementFiles(id="1.3", code="13", title=TITLES["1.3"], subplan=subplan("1.3"),
                          feedback=(feedback("skipped", "1.3"),))
    a3 = AchievementFiles(id="3.5.1", code="351", title=TITLES["3.5.1"], feedback=(feedback("approved", "3.5.1"),))
    model = PlanModel(info=info(), plan=plan_doc(["0.1", "1.3", "3.5.1"]), achievements=(a1, a2, a3))
    status = PlanStatus(info=model.info, complete=True, achievements=(
        status_of(a1, "approved", deciding_file=FB + "APPROVED_01.md"),
        status_of(a2, "skipped", deciding_file=FB + "SKIPPED_13.md"),
        status_of(a3, "approved", deciding_file=FB + "APPROVED_351.md")))
    assert prompts.template_name(model, status) == "plan_complete"
    text = prompts.render_prompt(model, status, None)
    assert "ORBIT-SYNC" in text and PLAN_FILE in text
    assert "2 approved, 1 skipped" in text
    assert "SUBPLANs: 2." in text and "EXECUTION_TASK files: 2." in text
    assert "No work prompt" in text
    for word in WORK_WORDS:
        assert word not in text


def test_no_achievements_error():
    model = PlanModel(info=info("EMBER-NOTES", "plans/EMBER-NOTES"),
                      plan=PlanDoc(path="plans/EMBER-NOTES/PLAN_EMBER-NOTES.md", feature="EMBER-NOTES"))
    status = PlanStatus(info=model.info)
    assert prompts.template_name(model, status) == "error"
    text = prompts.render_prompt(model, status, None)
    assert "no-achievements" in text and "R-DECL-7" in text
    assert "plans/EMBER-NOTES/PLAN_EMBER-NOTES.md" in text
    for word in WORK_WORDS:
        assert word not in text
    # asking for an id of such a plan is an unknown-achievement error that also names the rule
    text = prompts.render_prompt(model, status, "1.1")
    assert "unknown-achievement" in text and "no-achievements" in text


@pytest.mark.parametrize("wanted", ["9.9", "3.5", "1.10", "2.10"])
def test_unknown_achievement_lists_valid_ids(plan, wanted):
    model, status = plan
    text = prompts.render_prompt(model, status, wanted)
    assert text == prompts.prompt_for_unknown(model, wanted)
    assert "unknown-achievement" in text and PLAN_FILE in text and f"`{wanted}`" in text
    for aid, title in TITLES.items():
        assert f"- {aid}: {title}" in text
    for word in WORK_WORDS:
        assert word not in text
    if wanted == "3.5":
        assert "did you mean 3.5.1" in text


def lantern():
    """Two declared ids sharing code 110; 11.0's SUBPLAN name is taken by 1.10 (target null)."""
    titles = {"1.10": "Crawler retry budget", "11.0": "Catalogue sunset review"}
    lp = "plans/LANTERN-INDEX"
    a110 = AchievementFiles(id="1.10", code="110", title=titles["1.10"],
                            subplan=subplan("1.10", feature="LANTERN-INDEX", sdir=f"{lp}/subplans"))
    a11_0 = AchievementFiles(id="11.0", code="110", title=titles["11.0"])
    amb = Diagnostic(code="ambiguous-id", severity="error", path=f"{lp}/execution/feedbacks/APPROVED_110.md",
                     message="candidates 1.10, 11.0; the file names no achievement")
    model = PlanModel(info=info("LANTERN-INDEX", lp),
                      plan=plan_doc(["1.10", "11.0"], plan_file=f"{lp}/PLAN_LANTERN-INDEX.md",
                                    feature="LANTERN-INDEX", titles=titles),
                      achievements=(a110, a11_0), diagnostics=(amb,))
    status = PlanStatus(info=model.info, next="1.10", achievements=(
        status_of(a110, "executions_done", "review", f"{lp}/execution/feedbacks/"),
        status_of(a11_0, "no_subplan", "create_subplan", None)))
    return model, status


def test_null_target_is_an_explicit_blocking_error():
    model, status = lantern()
    st = status.achievements[1]
    assert prompts.template_for(st, False) == "error"
    text = prompts.render_prompt(model, status, "11.0")
    assert "11.0 — Catalogue sunset review" in text
    assert "no safe file name" in text
    assert "resolve the ambiguity" in text.lower()
    assert "`plans/LANTERN-INDEX/subplans/SUBPLAN_LANTERN-INDEX_110.md`" in text  # the colliding file
    assert "belongs to achievement 1.10" in text
    assert "R-ID-3" in text and "ambiguous-id" in text
    assert "APPROVED_110.md" in text
    for word in WORK_WORDS:
        assert word not in text


def test_review_warns_about_unattached_output_file():
    model, status = lantern()
    text = prompts.render_prompt(model, status, "1.10")
    assert "`plans/LANTERN-INDEX/execution/feedbacks/APPROVED_110.md` already exists and is attached to no " \
           "achievement" in text
    assert "**Achievement**: 1.10" in text


def test_flat_plan_paths():
    fi = PlanInfo(name="QUILL-MIGRATION", plan_file="plans/a_paused/PLAN_QUILL-MIGRATION.md",
                  plan_dir="plans/a_paused", layout="flat", category="a_paused")
    titles = {"0.2": "Dual-write shim", "1.1": "Cut-over rehearsal"}
    a02 = AchievementFiles(id="0.2", code="02", title=titles["0.2"],
                           subplan=subplan("0.2", feature="QUILL-MIGRATION", sdir="subplans"),
                           executions=(execution("0.2", "01", feature="QUILL-MIGRATION", edir="execution"),))
    a11 = AchievementFiles(id="1.1", code="11", title=titles["1.1"])
    model = PlanModel(info=fi, plan=plan_doc(["0.2", "1.1"], plan_file=fi.plan_file, feature=fi.name,
                                             titles=titles), achievements=(a02, a11))
    status = PlanStatus(info=fi, next="0.2", achievements=(
        status_of(a02, "executions_done", "review", "plans/a_paused/execution/feedbacks/"),
        status_of(a11, "no_subplan", "create_subplan", "subplans/SUBPLAN_QUILL-MIGRATION_11.md")))
    text = prompts.render_prompt(model, status, None)
    assert "`plans/a_paused/execution/feedbacks/APPROVED_02.md`" in text
    assert "**Subplan**" not in text  # review outputs are feedback files
    text = prompts.render_prompt(model, status, "1.1")
    assert "`subplans/SUBPLAN_QUILL-MIGRATION_11.md`" in text
    assert "`execution/EXECUTION_TASK_QUILL-MIGRATION_11_01.md`" in text  # R-LAYOUT-4 for flat plans


# ---------------------------------------------------------------------------- determinism, paths


def every_prompt(model, status):
    ids = [a.id for a in status.achievements]
    return [prompts.render_prompt(model, status, aid) for aid in ids + [None, "9.9"]]


def test_deterministic_and_template_argument(plan):
    model, status = plan
    first = every_prompt(model, status)
    again = every_prompt(*orbit())
    assert first == again
    for a in status.achievements:
        name = prompts.template_for(a, status.complete)
        assert prompts.render_prompt(model, status, a.id, template=prompts.template_text(name)) == \
            prompts.render_prompt(model, status, a.id)
    custom = prompts.render_prompt(model, status, "0.1", template="X ${achievement_id} ${deciding_file}\n")
    assert custom == f"X 0.1 `{FB}APPROVED_01.md`\n"


def test_no_absolute_paths_or_cwd(plan, tmp_path, monkeypatch):
    model, status = plan
    texts = every_prompt(model, status)
    monkeypatch.chdir(tmp_path)
    assert every_prompt(model, status) == texts
    cwd = os.getcwd()
    for text in texts + every_prompt(*lantern()):
        assert cwd not in text and str(Path.home()) not in text
        assert not re.search(r"(?<![\w.`/<-])/(?:work|tmp|home|Users|usr|var)\b", text)
        assert "\r" not in text and text.endswith("\n") and not text.endswith("\n\n")


# --------------------------------------------------------------------------- fixture workspace


FIXTURE = Path(__file__).resolve().parents[1] / "data" / "methodology-workspace"


def _fixture_models():
    """(model, status) of every fixture plan via the other modules; skipped when they are not usable."""
    try:
        from promptgen import discover, resolve, workflow
        from promptgen.parse import parse_document
    except Exception as exc:  # pragma: no cover - depends on concurrent work
        pytest.skip(f"parsers/discovery/workflow not available: {exc}")
    try:
        paths = sorted(p.relative_to(FIXTURE).as_posix() for p in FIXTURE.rglob("*") if p.is_file())
        containers = tuple(c for c in discover.CONTAINERS if (FIXTURE / c).is_dir())
        disc = discover.discover_paths(paths, containers)

        def parse(ref):
            i = ref.info
            kind = i.feedback if ref.kind == "feedback" else ref.kind
            return parse_document(kind, (FIXTURE / ref.path).read_bytes(), ref.path, feature=i.feature,
                                  code=i.code, mm=i.mm, suffix=i.suffix, revision=i.revision,
                                  archived=ref.archived)

        out = []
        for entry in disc.plans:
            plan = parse(entry.documents()[0])
            model = resolve.resolve_plan(
                resolve.plan_info(entry), plan, [parse(r) for r in entry.subplans],
                [parse(r) for r in entry.archived], [parse(r) for r in entry.executions],
                [parse(r) for r in entry.feedback], parse(entry.parallel) if entry.parallel else None,
                discovery_diagnostics=entry.diagnostics)
            out.append((model, workflow.plan_status(model)))
    except Exception as exc:  # pragma: no cover - depends on concurrent work
        pytest.skip(f"fixture workspace could not be built: {exc!r}")
    return out


def test_fixture_workspace_renders_every_achievement():
    pairs = _fixture_models()
    assert pairs
    for model, status in pairs:
        texts = every_prompt(model, status)
        assert texts == every_prompt(model, status)
        for ach, text in zip(status.achievements, texts):
            assert text.strip() and str(FIXTURE) not in text and os.getcwd() not in text
            assert ach.id in text and ach.title in text
            name = prompts.template_for(ach, status.complete)
            if name in prompts.WORK_TEMPLATES:
                assert ach.target in text and "Do NOT read the whole PLAN" in text
                assert f"**Achievement**: {ach.id}" in text
            elif name == "error":
                assert "no safe file name" in text
            else:
                assert text.count("\n") == 1
        assert "unknown-achievement" in texts[-1]
        if not status.achievements:
            assert "no-achievements" in texts[-2]


def _reference_achievement_diagnostics(model, status, files):
    """The former linear scan of every plan diagnostic per achievement (quadratic for big plans)."""
    paths = {files.subplan.path} if files.subplan else set()
    paths |= {d.path for d in (*files.archived_subplans, *files.executions, *files.feedback)}
    pool = list(model.diagnostics) + list(status.diagnostics)
    docs = ([files.subplan] if files.subplan else []) + [*files.archived_subplans, *files.executions, *files.feedback]
    for doc in docs:
        pool.extend(doc.diagnostics)
    seen = {}
    for d in pool:
        if d.severity in ("error", "warning") and (d.achievement == files.id or d.achievement is None and d.path in paths):
            seen.setdefault(B._diag_key(d), d)
    return [seen[k] for k in sorted(seen)]


def test_indexed_lookups_match_the_linear_scans_across_interleaved_plans():
    """`_find`, `_files_of` and `achievement_diagnostics` index the last plan they saw: interleaving the
    fixture's plans (and an unknown id) must give what the linear scans gave."""
    pairs = _fixture_models()
    assert any(m.diagnostics for m, _ in pairs)
    for _ in range(2):
        for model, status in pairs + pairs[::-1]:
            for a in model.achievements:
                assert B.achievement_diagnostics(model, status, a) == _reference_achievement_diagnostics(model, status, a)
                assert prompts._files_of(model, a.id) is next(x for x in model.achievements if x.id == a.id)
            for a in status.achievements:
                assert prompts._find(status, f" {a.id} ") is next(x for x in status.achievements if x.id == a.id)
            assert prompts._find(status, "999.999") is None

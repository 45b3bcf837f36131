"""EXECUTION_TASK parser: R-STATUS-1/2, R-PARENT for executions, excerpts, fixture statuses."""
from __future__ import annotations

import pytest

from promptgen.parse.execution import parse_execution
from promptgen.parse.ids import classify_status

from .conftest import EXEC_NAME, WS, expected_diags, files, md, rel, warnings_and_errors

EXECUTIONS = files("EXECUTION_TASK_*.md")

# Effective statuses implied by expected.json's states and notes.
NOT_COMPLETE = {
    "execution/EXECUTION_TASK_QUILL-MIGRATON_02_02.md": "open",
    "plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_02_01.md": "open",  # approved, header never updated
    "plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_21_02.md": "open",  # superseded base file
    "plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_32_01.md": "open",  # "complete" only in the log
    "plans/a_paused/HARBOR-LEDGER/execution/EXECUTION_TASK_HARBOR-LEDGER_02_01.md": "open",
    "plans/a_paused/HARBOR-LEDGER/execution/EXECUTION_TASK_HARBOR-LEDGER_11_01.md": "blocked",  # Final Status
    "plans/a_real-use-cases/CINDER-FORGE/execution/EXECUTION_TASK_CINDER-FORGE_351_01.md": "open",  # empty
}


def parse_file(path):
    m = EXEC_NAME.search(path.name)
    return parse_execution(path.read_bytes(), rel(path), m[1], m[2], m[3], m[4])


def ex(text: str, code: str = "21", feature: str = "F"):
    return parse_execution(md(text), f"plans/{feature}/execution/EXECUTION_TASK_{feature}_{code}_01.md",
                           feature, code, "01")


PARENT = "**Subplan**: SUBPLAN_F_21.md\n"


@pytest.mark.parametrize("path", EXECUTIONS, ids=lambda p: p.name)
def test_fixture_statuses_and_diagnostics(path):
    doc = parse_file(path)
    assert doc.status == NOT_COMPLETE.get(rel(path), "complete")
    assert warnings_and_errors(doc) == expected_diags(rel(path))


def test_fixture_details():
    doc = parse_file(WS / "plans/a_paused/HARBOR-LEDGER/execution/EXECUTION_TASK_HARBOR-LEDGER_01_01.md")
    assert (doc.header_status, doc.status, doc.status_line) == ("In Progress", "complete", 29)
    assert doc.closing_status == "**Status**: \u2705 Complete\n**Completed**: 2025-01-30"
    assert doc.last_iteration.startswith("### Iteration 1\n\n- Wrote the test")
    assert doc.learning_summary == "- Small steps kept the change easy to review."
    conflict = [d for d in doc.diagnostics if d.code == "status-conflict"][0]
    assert conflict.line == 8
    empty = parse_file(WS / "plans/a_real-use-cases/CINDER-FORGE/execution/EXECUTION_TASK_CINDER-FORGE_351_01.md")
    assert empty.empty and empty.status == "open"
    v2 = parse_file(WS / "plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_21_02_V2.md")
    assert (v2.suffix, v2.own_id, v2.title) == ("V2", "2.1", "EXECUTION_TASK: Relay Fan-out, part 2 (revision 2)")


# ----------------------------------------------------------------------------------- R-STATUS-1

@pytest.mark.parametrize("value, status", [
    ("\u2705 Complete", "complete"), ("\u2705 COMPLETE", "complete"), ("Complete", "complete"),
    ("\u2705 **COMPLETE**", "complete"), ("\u2705 COMPLETE - parser delivered", "complete"),
    ("\u2705 COMPLETE (after review)", "complete"), ("Completed", "complete"), ("done", "complete"),
    ("`success`", "complete"), ("Successful", "complete"), ("\u2705 APPROVED", "complete"),
    ("Finished.", "complete"), ("\u2705COMPLETE", "complete"),
    ("\u23f8\ufe0f BLOCKED - vendor", "blocked"), ("Paused", "blocked"), ("waiting on review", "blocked"),
    ("Abandoned", "abandoned"), ("cancelled", "abandoned"), ("Canceled", "abandoned"), ("_superseded_", "abandoned"),
    ("In Progress", "open"), ("\U0001f504 In Progress", "open"), ("\U0001f3af Executing", "open"),
    ("\U0001f4cb Ready for Execution", "open"), ("\U0001f680 Starting Execution", "open"), ("Planning", "open"),
    ("\U0001f3af DESIGN PHASE COMPLETE", "open"), ("Design Complete, Ready for Execution", "open"),
    ("\U0001f6a7 In Progress", "open"), ("Not Started", "open"), ("", "open"), ("\u2705", "open"),
    (None, "open"),
])
def test_classify_status(value, status):
    assert classify_status(value) == status


# ----------------------------------------------------------------------------------- R-STATUS-2

def test_header_decides_without_closing_lines():
    doc = ex(f"# E\n{PARENT}**Status**: \u2705 Complete\n## Log\n**Status**: In Progress\n")
    assert (doc.status, doc.status_line, doc.diagnostics) == ("complete", 3, ())


def test_last_final_status_decides():
    doc = ex(f"# E\n{PARENT}**Status**: In Progress\n## Notes\n**Final Status**: \u2705 COMPLETE\n"
             "## Later\n**Final Status**: \u23f8\ufe0f Blocked - waiting\n```\n**Final Status**: Complete\n```\n")
    assert (doc.status, doc.status_line) == ("blocked", 7)
    assert [d.code for d in doc.diagnostics] == []  # neither header nor effective is complete


def test_final_status_beats_completion_section():
    doc = ex(f"# E\n{PARENT}**Status**: \u2705 Complete\n## \u2705 Completion Status\n**Status**: \u2705 Complete\n"
             "## \U0001f6a7 Blockers\n**Final Status**: \u23f8\ufe0f Blocked\n")
    assert doc.status == "blocked"
    (d,) = doc.diagnostics
    assert (d.code, d.line) == ("status-conflict", 3)


@pytest.mark.parametrize("heading", ["\u2705 Completion Status", "Completion Summary", "Final Notes", "COMPLETED"])
def test_completion_section_upgrades(heading):
    doc = ex(f"# E\n{PARENT}**Status**: \U0001f504 In Progress\n## {heading}\n### Result\n**Status**: \u2705 Complete\n")
    assert (doc.status, doc.status_line) == ("complete", 6)
    assert [d.code for d in doc.diagnostics] == ["status-conflict"]


def test_completion_section_never_downgrades_and_log_lines_do_not_count():
    doc = ex(f"# E\n{PARENT}**Status**: \u2705 Complete\n## Completion Status\n**Status**: \U0001f4cb Ready to Execute\n")
    assert doc.status == "complete" and doc.diagnostics == ()
    doc = ex(f"# E\n{PARENT}**Status**: In Progress\n## Iteration Log\n**Status**: \u2705 Complete for shard 1\n")
    assert doc.status == "open" and doc.diagnostics == ()


def test_missing_status():
    doc = ex(f"# E\n{PARENT}## Log\n**Status**: In Progress\n")
    assert doc.status == "open" and doc.header_status is None
    (d,) = doc.diagnostics
    assert (d.code, d.severity, d.line) == ("missing-status", "warning", None)


def test_upgrade_without_header_has_no_conflict():
    doc = ex(f"# E\n{PARENT}## Completion\n**Status**: Done\n")
    assert doc.status == "complete" and doc.diagnostics == ()


def test_header_status_is_first_status_before_first_level2_heading():
    doc = ex(f"# E\n{PARENT}**Status**: Planning\n**Status**: Complete\n")
    assert doc.header_status == "Planning" and doc.status == "open"


@pytest.mark.parametrize("data", [b"", b" \n \n", b"\r\n\t"])
def test_empty_execution(data):
    doc = parse_execution(data, "e.md", "F", "21", "01")
    assert doc.empty and doc.status == "open" and [d.code for d in doc.diagnostics] == ["empty-file"]


# ----------------------------------------------------------------------------------------- parent

@pytest.mark.parametrize("header, code", [
    ("**Subplan**: SUBPLAN_F_21.md", "21"),
    ("**SUBPLAN**: SUBPLAN_F_21", "21"),
    ("**SUBPLAN**: `SUBPLAN_F_21.md`", "21"),
    ("**Parent SUBPLAN**: `plans/a/F/subplans/SUBPLAN_F_21.md`", "21"),
    ("**Subplan**: SUBPLAN_F_21.md (full strategy)", "21"),
    ("**Subplan**: SUBPLAN\\_F\\_21.md", "21"),
    ("**Subplan**: [SUBPLAN_F_21](../subplans/SUBPLAN_F_21.md)", "21"),
    ("**Parent SUBPLAN**: SUBPLAN_F_352.md", "352"),
    ("**Parent SUBPLAN**: Achievement 2.1\n**Subplan**: SUBPLAN_F_21.md", "21"),
])
def test_execution_parent_accepted(header, code):
    doc = ex(f"# E\n{header}\n**Status**: In Progress\n", code=code)
    assert doc.diagnostics == ()


@pytest.mark.parametrize("header, code", [
    ("**Parent SUBPLAN**: `SUBPLAN_F_35.md`", "352"),  # shortened code
    ("**Subplan**: SUBPLAN_F_351.md", "35"),  # followed by another digit
    ("**Subplan**: SUBPLAN_G_21.md", "21"),
    ("**Subplan**: Achievement 7.1", "21"),
    ("**SUBPLAN**: SUBPLAN_F-OLD_21.md", "21"),
])
def test_execution_parent_unknown(header, code):
    (d,) = ex(f"# E\n{header}\n**Status**: In Progress\n", code=code).diagnostics
    assert (d.code, d.line) == ("unknown-parent", 2)


def test_execution_parent_missing():
    doc = ex("# E\n**Mother Plan**: PLAN_F.md\n**Status**: In Progress\n")
    assert [d.code for d in doc.diagnostics] == ["missing-parent"]


# --------------------------------------------------------------------------------------- excerpts

def test_excerpts():
    doc = ex(f"# E\n{PARENT}**Status**: Done\n## Iteration Log\n### Iteration 1\nfirst\n### Iteration 2\nsecond\n"
             "## \U0001f4da Learning Summary\n- lesson\n## \u2705 Completion Status\n**Status**: \u2705 Complete\n")
    assert doc.last_iteration == "### Iteration 2\nsecond"
    assert doc.learning_summary == "- lesson"
    assert doc.closing_status == "**Status**: \u2705 Complete"
    doc = ex(f"# E\n{PARENT}**Status**: Done\n## Iteration Log\n- one\n- two\n## End\n")
    assert doc.last_iteration == "- one\n- two"

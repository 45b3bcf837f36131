"""File-name classification (section 2, R-NAME-1/2)."""
import pytest

from promptgen.names import classify, execution_name, is_candidate, resolution_name, revision_rank, subplan_name


@pytest.mark.parametrize("name, kind, feature, code", [
    ("PLAN_ORBIT-SYNC.md", "plan", "ORBIT-SYNC", None),
    ("PLAN_NOTES.md", "plan", "NOTES", None),
    ("PLAN_A1.md", "plan", "A1", None),
    ("SUBPLAN_ORBIT-SYNC_21.md", "subplan", "ORBIT-SYNC", "21"),
    ("SUBPLAN_LANTERN-INDEX_110.md", "subplan", "LANTERN-INDEX", "110"),
    ("EXECUTION_TASK_CINDER-FORGE_351_01.md", "execution", "CINDER-FORGE", "351"),
    ("APPROVED_01.md", "feedback", None, "01"),
    ("FIX_21.md", "feedback", None, "21"),
    ("FIX_21_RESOLUTION.md", "feedback", None, "21"),
    ("SKIPPED_22.md", "feedback", None, "22"),
    ("parallel.json", "parallel", None, None),
    ("GRAMMAPLAN_BEACON-PROGRAM.md", "grammaplan", "BEACON-PROGRAM", None),
])
def test_node_names(name, kind, feature, code):
    info = classify(name)
    assert (info.kind, info.feature, info.code) == (kind, feature, code)
    assert info.name == name


@pytest.mark.parametrize("name", [
    "APPROVED_1.1.md", "SUBPLAN_F_7.md", "EXECUTION_TASK_F_11_01_FOO.md", "EXECUTION_TASK_F_11_1.md",
    "PLAN_lower.md", "PLAN_F_V2.md", "SUBPLAN_F_11_V2.md", "FIX_RESOLUTION_11.md", "APPROVED_F_11.md",
    "SKIPPED_11_old.md", "PLAN_.md", "SUBPLAN_F-_x.md", "PLAN_F_G.md",
])
def test_unrecognized(name):
    assert classify(name).kind == "unrecognized"
    assert is_candidate(name)


@pytest.mark.parametrize("name", [
    "README.md", "NORTH_STAR_BEACON.md", "EXECUTION_ANALYSIS_X.md", "EXECUTION_CASE-STUDY_X.md",
    "COMPLETION_REPORT_X.md", "ACHIEVEMENT-2.1-FINAL-SUMMARY.md", "paused.txt", "end.txt", "INDEX.md",
])
def test_not_nodes(name):
    assert classify(name) is None
    assert not is_candidate(name)


def test_prefixes_are_anchored():
    """R-NAME-1: SUBPLAN_ / GRAMMAPLAN_ are not PLAN_."""
    assert classify("SUBPLAN_F_11.md").kind == "subplan"
    assert classify("GRAMMAPLAN_F.md").kind == "grammaplan"
    assert not is_candidate("GRAMMAPLAN_F.md")
    assert not is_candidate("MY_PLAN_F.md")
    assert not is_candidate("PLAN_F.md.bak")


def test_feedback_kinds():
    assert classify("APPROVED_11.md").feedback == "approved"
    assert classify("FIX_11.md").feedback == "fix"
    assert classify("FIX_11_RESOLUTION.md").feedback == "resolution"
    assert classify("SKIPPED_11.md").feedback == "skipped"


def test_execution_suffixes_and_revisions():
    base = classify("EXECUTION_TASK_F_21_02.md")
    rec = classify("EXECUTION_TASK_F_21_02_RECOVERY.md")
    v2 = classify("EXECUTION_TASK_F_21_02_V2.md")
    v3 = classify("EXECUTION_TASK_F_21_02_V3.md")
    assert (base.mm, base.suffix, base.revision) == ("02", None, 0)
    assert base.revision < rec.revision < v2.revision < v3.revision
    assert (v2.suffix, v2.revision) == ("V2", 2)
    for suffix in ("ARCHIVED", "NESTED_ARCHIVED"):
        info = classify(f"EXECUTION_TASK_F_21_02_{suffix}.md")
        assert info.kind == "execution" and info.archived and info.suffix == suffix
    assert revision_rank("V1") == 0
    assert revision_rank("V10") == 10


def test_archived_subplans():
    info = classify("SUBPLAN_ORBIT-SYNC_22_ARCHIVED.md")
    assert (info.kind, info.code, info.archived, info.suffix) == ("subplan", "22", True, "ARCHIVED")
    assert classify("SUBPLAN_ORBIT-SYNC_22_NESTED_ARCHIVED.md").archived
    assert not classify("SUBPLAN_ORBIT-SYNC_22.md").archived


def test_is_node():
    assert classify("PLAN_F.md").is_node
    assert not classify("GRAMMAPLAN_F.md").is_node
    assert not classify("APPROVED_1.1.md").is_node


def test_canonical_names():
    assert subplan_name("F", "110") == "SUBPLAN_F_110.md"
    assert execution_name("F", "351", "02") == "EXECUTION_TASK_F_351_02.md"
    assert resolution_name("12") == "FIX_12_RESOLUTION.md"
    for n in (subplan_name("F", "110"), execution_name("F", "351", "02"), resolution_name("12")):
        assert classify(n).is_node

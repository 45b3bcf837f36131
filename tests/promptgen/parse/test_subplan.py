"""SUBPLAN parser: fixture files (own ids, planned slots, parent checks, encoding) and inline variants."""
from __future__ import annotations

import pytest

from promptgen.parse.subplan import parse_subplan

from .conftest import SUBPLAN_NAME, WS, expected_diags, files, md, rel, warnings_and_errors

SUBPLANS = files("SUBPLAN_*.md")


def parse_file(path):
    m = SUBPLAN_NAME.search(path.name)
    return parse_subplan(path.read_bytes(), rel(path), m[1], m[2], archived=bool(m[3]))


def sub(text: str, feature: str = "F", code: str = "21"):
    return parse_subplan(md(text), f"plans/{feature}/subplans/SUBPLAN_{feature}_{code}.md", feature, code)


@pytest.mark.parametrize("path", SUBPLANS, ids=lambda p: p.name)
def test_fixture_diagnostics_match_expected(path):
    doc = parse_file(path)
    assert warnings_and_errors(doc) == expected_diags(rel(path))
    assert all(d.path == rel(path) for d in doc.diagnostics)


def test_fixture_own_ids_and_details():
    own = {p.name: parse_file(p).own_id for p in SUBPLANS}
    assert own["SUBPLAN_LANTERN-INDEX_110.md"] == "1.10"
    assert own["SUBPLAN_LANTERN-INDEX_12.md"] == "1.2"  # Achievement Addressed: Achievement 1.2 (...)
    assert own["SUBPLAN_LANTERN-INDEX_21.md"] == "2.1"  # Achievement Number
    assert own["SUBPLAN_QUILL-MIGRATION_09.md"] == "1.2"
    assert own["SUBPLAN_CINDER-FORGE_351.md"] == "3.5.1"
    doc = parse_file(WS / "plans/LANTERN-INDEX/subplans/SUBPLAN_LANTERN-INDEX_12.md")
    assert doc.planned_slots == ("12_01", "12_02")
    assert doc.title == "SUBPLAN: Shard Crawler" and doc.status == "\U0001f3af Executing"
    assert doc.objective == "Visit every shard once per hour and update its catalogue row."
    assert doc.deliverables.startswith("- One module change")
    assert doc.approach.startswith("1. Write the failing test first.")
    assert parse_file(WS / "plans/ORBIT-SYNC/subplans/SUBPLAN_ORBIT-SYNC_32.md").planned_slots == ("32_01", "32_02")
    assert parse_file(WS / "plans/ORBIT-SYNC/subplans/SUBPLAN_ORBIT-SYNC_21.md").planned_slots == ()
    archived = parse_file(WS / "archive/SUBPLAN_ORBIT-SYNC_22_ARCHIVED.md")
    assert archived.archived and archived.own_id == "2.2"


def test_fixture_cp1252_subplan():
    doc = parse_file(WS / "plans/a_real-use-cases/CINDER-FORGE/subplans/SUBPLAN_CINDER-FORGE_31.md")
    assert [d.code for d in doc.diagnostics] == ["encoding"]
    assert "na\u00efve" in doc.objective and doc.own_id == "3.1"


# ------------------------------------------------------------------------------------------ parent

@pytest.mark.parametrize("header", [
    "**Mother Plan**: PLAN_F.md",
    "**Mother Plan**: `PLAN_F.md`",
    "**Mother Plan**: PLAN\\_F.md",
    "**Mother Plan**: work-space/plans/F/PLAN_F.md",
    "**Mother Plan**: [PLAN_F.md](../PLAN_F.md)",
    "**Mother Plan**: PLAN_F.md (full strategy, ~400 lines)",
    "**Parent PLAN**: PLAN_F.md (Achievement 2.1)",
    "**PLAN**: F",
    "**PLAN**: F (Achievement 2.1)",
    "**Plan**: F",
    "**Mother Plan:** PLAN_F.md",
    "**Mother Plan**: Achievement 7.1\n**PLAN**: F",  # one accepted field is enough
])
def test_parent_accepted(header):
    assert sub(f"# SUBPLAN: X\n\n{header}\n**Achievement**: 2.1\n").diagnostics == ()


@pytest.mark.parametrize("header, named", [
    ("**Mother Plan**: PLAN_G.md", "PLAN_G.md"),
    ("**Mother Plan**: Achievement 7.1", "Achievement 7.1"),
    ("**Mother Plan**: GRAMMAPLAN_F.md", "GRAMMAPLAN_F.md"),
    ("**Mother Plan**: PLAN_F", "PLAN_F"),
    ("**PLAN**: FF", "FF"),
    ("**Parent PLAN**: `PLAN_F-OLD.md` (old)", "PLAN_F-OLD.md"),
])
def test_parent_unknown(header, named):
    (d,) = sub(f"# SUBPLAN: X\n\n**Type**: SUBPLAN\n{header}\n").diagnostics
    assert (d.code, d.severity, d.line, d.detail) == ("unknown-parent", "warning", 4, f"names {named}")


def test_parent_missing():
    (d,) = sub("# SUBPLAN: X\n**Achievement**: 2.1\n## Body\n**Mother Plan**: PLAN_F.md\n").diagnostics
    assert (d.code, d.severity, d.line) == ("missing-parent", "warning", None)


# ---------------------------------------------------------------------------------- planned slots

def test_planned_slots_variants():
    doc = sub("# S\n**PLAN**: F\n## \U0001f4da Active EXECUTION_TASKs\n\n| Execution | Status |\n|---|---|\n"
              "| 21_01 | done |\n| `21_02` | next |\n| 21_01 | duplicate row |\n| notes | x |\n"
              "## Other\n| 21_09 | not in the section |\n")
    assert doc.planned_slots == ("21_01", "21_02")
    assert sub("# S\n**PLAN**: F\n## Execution Strategy\n| 21_01 | x |\n").planned_slots == ()
    assert sub("# S\n**PLAN**: F\n### Active EXECUTION_TASKs\n| 21_01 | x |\n").planned_slots == ()


# ---------------------------------------------------------------------------------------- empties

@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n", b"\xef\xbb\xbf\n"])
def test_empty_subplan_has_only_empty_file(data):
    doc = parse_subplan(data, "s.md", "F", "21")
    assert doc.empty and [d.code for d in doc.diagnostics] == ["empty-file"]
    assert doc.own_id is None and doc.planned_slots == ()


def test_own_id_limits():
    assert sub("# S\n" + "x\n" * 14 + "**Achievement**: 2.1\n").own_id is None
    assert sub("# S\n```\n**Achievement**: 9.9\n```\n**Achievement**: 2.1\n").own_id == "2.1"
    doc = sub("# S\n**PLAN**: F\n**Achievement**: 2.1 - Title\n")
    assert (doc.own_id, doc.own_id_line) == ("2.1", 3)

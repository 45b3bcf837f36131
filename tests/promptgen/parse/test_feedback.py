"""Feedback parser: own id (R-ID-4) and date (R-FEEDBACK-DATE) of every fixture feedback file."""
from __future__ import annotations

import pytest

from promptgen.parse.feedback import parse_feedback

from .conftest import FEEDBACK_NAME, WS, files, md, rel

FEEDBACK = [p for p in files("*.md") if FEEDBACK_NAME.match(p.name)]

# path -> (own id, date); dates from expected.json notes and the files' headers.
EXPECTED = {
    "plans/LANTERN-INDEX/execution/feedbacks/APPROVED_11.md": ("1.1", "2025-01-15"),
    "plans/LANTERN-INDEX/execution/feedbacks/APPROVED_110.md": (None, "2025-02-11"),
    "plans/LANTERN-INDEX/execution/feedbacks/FIX_21.md": ("2.1", "2025-02-10"),
    "plans/LANTERN-INDEX/execution/feedbacks/FIX_21_RESOLUTION.md": ("2.1", "2025-02-12"),
    "plans/ORBIT-SYNC/ORBIT-SYNC-old/execution/feedbacks/APPROVED_31.md": ("3.1", "2025-03-09"),
    "plans/ORBIT-SYNC/execution/feedbacks/APPROVED_01.md": ("0.1", "2025-02-27"),
    "plans/ORBIT-SYNC/execution/feedbacks/APPROVED_02.md": ("0.2", "2025-03-01"),
    "plans/ORBIT-SYNC/execution/feedbacks/APPROVED_11.md": ("1.1", "2025-03-05"),
    "plans/ORBIT-SYNC/execution/feedbacks/FIX_11.md": ("1.1", "2025-03-03"),
    "plans/ORBIT-SYNC/execution/feedbacks/FIX_11_RESOLUTION.md": ("1.1", "2025-03-04"),
    "plans/ORBIT-SYNC/execution/feedbacks/FIX_12.md": ("1.2", "2025-03-06"),
    "plans/ORBIT-SYNC/execution/feedbacks/SKIPPED_13.md": ("1.3", "2025-03-02"),
    "plans/a_paused/HARBOR-LEDGER/execution/SKIPPED_22.md": ("2.2", "2025-02-18"),
    "plans/a_paused/HARBOR-LEDGER/execution/feedbacks/APPROVED_12.md": ("1.2", "2025-02-06"),
    "plans/a_paused/execution/feedbacks/APPROVED_01.md": ("1.1", "2025-02-04"),  # title names another id
    "plans/a_real-use-cases/CINDER-FORGE/execution/feedbacks/APPROVED_01.md": ("0.1", "2025-04-02"),
    "plans/a_real-use-cases/CINDER-FORGE/execution/feedbacks/APPROVED_352.md": ("3.5.2", "2025-04-05"),
    "plans/a_real-use-cases/CINDER-FORGE/execution/feedbacks/FIX_01.md": ("0.1", "2025-04-09"),
    "plans/a_real-use-cases/CINDER-FORGE/execution/feedbacks/FIX_352.md": ("3.5.2", "2025-04-05"),
}


def kind_of(name: str) -> str:
    m = FEEDBACK_NAME.match(name)
    return "resolution" if m[3] else m[1].lower()


def test_every_fixture_feedback_file_is_covered():
    assert sorted(rel(p) for p in FEEDBACK) == sorted(EXPECTED)


@pytest.mark.parametrize("path", FEEDBACK, ids=lambda p: rel(p))
def test_fixture_feedback(path):
    m = FEEDBACK_NAME.match(path.name)
    kind = kind_of(path.name)
    doc = parse_feedback(path.read_bytes(), rel(path), kind, m[2])
    assert (doc.own_id, doc.date) == EXPECTED[rel(path)]
    assert (doc.kind, doc.code, doc.diagnostics) == (kind, m[2], ())
    assert (doc.fix is not None) == (kind == "fix")


def fb(text: str, kind: str = "approved"):
    return parse_feedback(md(text), "plans/F/execution/feedbacks/APPROVED_21.md", kind, "21")


@pytest.mark.parametrize("header, date", [
    ("**Review Date**: 2025-03-03", "2025-03-03"),
    ("**Date**: 2025-03-03 14:05 UTC", "2025-03-03"),
    ("**Resolution Date**: 2025-03-03T09:00:00Z", "2025-03-03"),
    ("**Approved**: \u2705 on 2025-03-03", "2025-03-03"),
    ("**Reviewer**: R (2024-01-01)\n**Review Date**: 2025-03-03", "2025-03-03"),  # only the date fields
    ("**Review Date**: pending\n**Date**: 2025-03-04", "2025-03-04"),
    ("**Review Date**: 2025-13-40, then 2025-02-28", "2025-02-28"),  # invalid calendar dates are skipped
    ("**Review Date**: March 3rd", None),
    ("**Created**: 2025-03-03", None),
])
def test_feedback_dates(header, date):
    assert fb(f"# APPROVED: Achievement 2.1\n\n{header}\n").date == date


def test_date_fields_after_the_header_do_not_count():
    assert fb("# APPROVED: Achievement 2.1\n## Summary\n**Review Date**: 2025-03-03\n").date is None


@pytest.mark.parametrize("text, own", [
    ("# APPROVED: Achievement 2.1", "2.1"),
    ("# \u2705 APPROVED: Achievement 2.1 - Title", "2.1"),
    ("# APPROVED\n**Achievement**: 2.1", "2.1"),
    ("# FIX\n**Achievement Addressed**: Achievement 2.1 (Title)", "2.1"),
    ("# FIX\n**Achievement Number**: 3.5.1", "3.5.1"),
    ("# EXECUTION_ANALYSIS: Achievement 0.1 Implementation Review", "0.1"),
    ("# APPROVED\nachievement 2.1 (lower case does not count)", None),
    ("# APPROVED\n```\n**Achievement**: 9.9\n```", None),
])
def test_own_id(text, own):
    assert fb(text + "\n").own_id == own


@pytest.mark.parametrize("kind", ["approved", "fix", "resolution", "skipped"])
def test_empty_feedback_files(kind):
    doc = parse_feedback(b"\n", "f.md", kind, "21")
    assert doc.empty and [d.code for d in doc.diagnostics] == ["empty-file"]
    assert (doc.fix is not None) == (kind == "fix")

"""FIX parser (R-FIX-PARSE): expected.json `fix_files` exactly, plus each critical / minor shape."""
from __future__ import annotations

import pytest

from promptgen.parse.feedback import parse_feedback

from .conftest import EXPECTED, WS, md


def fix(text: str):
    doc = parse_feedback(md(text), "plans/F/execution/feedbacks/FIX_21.md", "fix", "21")
    assert doc.fix is not None
    return doc.fix


@pytest.mark.parametrize("exp", EXPECTED["fix_files"], ids=lambda e: e["file"])
def test_fixture_fix_files(exp):
    doc = parse_feedback((WS / exp["file"]).read_bytes(), exp["file"], "fix", "x")
    f = doc.fix
    assert f.reviewer == exp["reviewer"]
    assert doc.date == exp["review_date"]
    assert [i.title for i in f.critical] == exp["critical_issues"]
    assert [i.title for i in f.minor] == exp["minor_issues"]
    assert list(f.code_refs) == exp["code_references"]
    assert len(f.what_worked) == exp["what_worked_count"]
    assert f.summary and f.action_plan or exp["file"].endswith("FIX_352.md")


def test_fixture_fix_11_bodies_and_sections():
    path = "plans/ORBIT-SYNC/execution/feedbacks/FIX_11.md"
    f = parse_feedback((WS / path).read_bytes(), path, "fix", "11").fix
    first, second = f.critical
    assert first.line == 17 and first.body.startswith("**Issue**: a reconnecting client")
    assert "**Fix Required**: negotiate on every connect" in first.body
    assert second.body.startswith("**Issue**: the relay reads the flag")
    assert f.summary == "The handshake works for new clients but breaks reconnecting ones."
    assert f.action_plan == "1. Fix both critical issues.\n2. Write FIX_11_RESOLUTION.md and ask for a re-review."
    assert f.what_worked == ("Clear tests for the happy path.", "Version numbers are validated.")


HEAD = "# FIX REQUIRED: Achievement 2.1\n\n**Reviewer**: Ann\n**Review Date**: 2025-01-01\n\n## Issues Found\n\n"


@pytest.mark.parametrize("critical", [
    "1. **First problem**\n   - body line\n\n2. **Second problem** \u26a0\ufe0f BLOCKER\n   - more\n",
    "#### 1. **First problem** \u26a0\ufe0f BLOCKER\n\nbody line\n\n#### 2. **Second problem**\nmore\n",
    "#### 1. First problem\nbody line\n#### 2. Second problem \u26a0\ufe0f BLOCKER\nmore\n",
    "**1. First problem**\n\n- body line\n\n**2. Second problem**\n- more\n",
    "#### 1. First problem:\nbody line\n#### 2) Second problem\nmore\n",
])
def test_four_critical_shapes(critical):
    f = fix(HEAD + "### Critical Issues (must fix)\n\n" + critical + "\n### Minor Issues (should fix)\n\n- Tiny\n")
    assert [i.title for i in f.critical] == ["First problem", "Second problem"]
    assert "body line" in f.critical[0].body and "more" in f.critical[1].body
    assert [i.title for i in f.minor] == ["Tiny"]


def test_bullets_and_bold_labels_belong_to_the_preceding_critical_item():
    f = fix(HEAD + "### Critical Issues\n\nIntro text before any item.\n\n#### 1. **Only issue**\n\n"
            "**Issue**: x\n- unnumbered bullet\n**Evidence**: y\n#### Details\nz\n")
    (item,) = f.critical
    assert item.title == "Only issue"
    assert item.body == "**Issue**: x\n- unnumbered bullet\n**Evidence**: y\n#### Details\nz"


@pytest.mark.parametrize("minor, titles", [
    ("- First minor.\n- Second minor -\n", ["First minor.", "Second minor -"]),  # trailing dashes kept
    ("1. **Bold minor**\n   - indented body\n2. Plain minor\n", ["Bold minor", "Plain minor"]),
    ("#### 3. Heading minor\ntext\n#### 4. **Bold heading minor**\n", ["Heading minor", "Bold heading minor"]),
    ("#### Unnumbered heading\n  - indented\n", ["Unnumbered heading"]),
    ("Just prose, no items.\n", []),
])
def test_minor_shapes(minor, titles):
    f = fix(HEAD + "### Critical Issues (must fix)\n\n1. **C**\n\n### Minor Issues (nice to fix)\n\n" + minor +
            "\n## What Worked Well\n\n- good\n")
    assert [i.title for i in f.minor] == titles
    assert [i.title for i in f.critical] == ["C"]
    if titles and titles[0] == "Bold minor":
        assert f.minor[0].body == "- indented body"


def test_missing_sections_never_fail():
    f = fix("# FIX REQUIRED: Achievement 2.1\n\nSome text only.\n")
    assert (f.reviewer, f.summary, f.critical, f.minor, f.code_refs, f.what_worked, f.action_plan) == \
        (None, "", (), (), (), (), "")


def test_code_references():
    f = fix("# FIX\nsee @Python (40-58) and @Go(1 - 2), `relay/flow.py:88`, `a/b.test.ts:10-20`\n"
            "repeat `relay/flow.py:88`; not refs: Lines 339-365, relay/x.py:3, `noext:5`, `file.py`\n")
    assert f.code_refs == ("@Python (40-58)", "@Go (1-2)", "relay/flow.py:88", "a/b.test.ts:10-20")


def test_what_worked_variants_and_action_plan():
    f = fix(HEAD + "## \u2705 What Worked Exceptionally Well\n\n- a\n  - nested is not counted\n2. b\n\n"
            "## What Worked Well\n- ignored second section\n\n## \U0001f4cb Next Steps\n\n### Step 1: Fix\nDo it.\n")
    assert f.what_worked == ("a", "b")
    assert f.action_plan == "### Step 1: Fix\nDo it."
    assert f.reviewer == "Ann"

"""Reading rules (decode, size cap, empty files), Markdown helpers and the `parse_document` dispatcher."""
from __future__ import annotations

import pytest

from promptgen.documents import ExecutionDoc, FeedbackDoc, ParallelDoc, PlanDoc, SubplanDoc
from promptgen.parse import KINDS, parse_document
from promptgen.parse.common import prepare
from promptgen.parse.text import (Markdown, decode, fence_mask, is_blank, norm_heading, parse_heading,
                                  too_large)

from .conftest import WS

# ------------------------------------------------------------------------------------------- decode


def test_decode_strips_bom_and_normalises_line_ends():
    text, diags = decode(b"\xef\xbb\xbf# T\r\nA\rB\nC\r\n", "p")
    assert text == "# T\nA\nB\nC\n"
    assert diags == []


def test_decode_cp1252_fallback_warns_with_line():
    data = "line one\nna\u00efve \u2013 r\u00e9sum\u00e9\n".encode("cp1252")
    text, diags = decode(data, "some/path.md")
    assert "na\u00efve \u2013 r\u00e9sum\u00e9" in text
    assert [(d.code, d.severity, d.path, d.line) for d in diags] == [("encoding", "warning", "some/path.md", 2)]


def test_decode_cp1252_undefined_bytes_are_replaced():
    text, diags = decode(b"a\x81b\x8dc\xe9", "p")
    assert text == "a\ufffdb\ufffdc\u00e9"
    assert diags[0].code == "encoding"


def test_decode_keeps_nul_bytes():
    text, diags = decode(b"a\x00b\n", "p")
    assert text == "a\x00b\n" and diags == []


def test_size_cap_and_blank_detection():
    assert too_large(b"x" * 10, "p", 10) is None
    d = too_large(b"x" * 11, "p", 10)
    assert d.code == "too-large" and d.severity == "warning" and d.path == "p"
    assert is_blank("") and is_blank(" \n\t\n") and not is_blank(" x ")


def test_prepare_pipeline_states():
    assert prepare(b"x" * 20, "p", 10).state == "too-large"
    assert prepare(b"\xef\xbb\xbf \r\n", "p").state == "empty"
    ok = prepare(b"# T\xe9", "p")
    assert ok.state == "ok" and [d.code for d in ok.diagnostics] == ["encoding"]


def test_fixture_encodings():
    crlf = decode((WS / "plans/a_paused/HARBOR-LEDGER/PLAN_HARBOR-LEDGER.md").read_bytes(), "p")[0]
    assert "\r" not in crlf and crlf.startswith("# PLAN: Harbor")
    bom = decode((WS / "plans/LANTERN-INDEX/PLAN_LANTERN-INDEX.md").read_bytes(), "p")[0]
    assert bom.startswith("# PLAN: Lantern")
    text, diags = decode((WS / "plans/a_real-use-cases/CINDER-FORGE/subplans/SUBPLAN_CINDER-FORGE_31.md")
                         .read_bytes(), "p")
    assert "na\u00efve" in text and "r\u00e9sum\u00e9" in text and "\u2013" in text and "Owner\u2019s" in text
    assert [d.code for d in diags] == ["encoding"]


# ------------------------------------------------------------------------------------------- fences

@pytest.mark.parametrize("lines, mask", [
    (["a", "```", "b", "```", "c"], [False, True, True, True, False]),
    (["a", "~~~md", "```", "~~~", "y"], [False, True, True, True, False]),
    (["````", "```", "x", "````", "y"], [True, True, True, True, False]),
    (["```", "x", "~~~", "y"], [True, True, True, True]),  # other char does not close; unclosed runs to EOF
    (["```a`b", "x"], [False, False]),  # backtick info string containing a backtick: not a fence
    (["  ```python", "  x", "  ```", "y"], [True, True, True, False]),
    (["```", "``` trailing", "```"], [True, True, True]),  # closing fence allows nothing after it
])
def test_fence_mask(lines, mask):
    assert fence_mask(lines) == mask


# ----------------------------------------------------------------------------------------- headings

@pytest.mark.parametrize("line, expected", [
    ("# Title", (1, "Title")),
    ("## \U0001f4cb Achievement Index", (2, "\U0001f4cb Achievement Index")),
    ("### Sub ###", (3, "Sub")),
    ("##", (2, "")),
    ("   #### Four", (4, "Four")),
    ("#hashtag", None),
    ("    # indented code", None),
    ("####### seven", None),
    ("## C# ", (2, "C#")),
])
def test_parse_heading(line, expected):
    assert parse_heading(line) == expected


@pytest.mark.parametrize("text, norm", [
    ("\U0001f4dd Current Status & Handoff (For Pause/Resume)", "current status & handoff (for pause/resume)"),
    ("\U0001f504 Active EXECUTION_TASKs", "active execution_tasks"),
    ("\u2705 **Completion** Status", "completion status"),
    ("\u23f8\ufe0f  Paused   Work", "paused work"),
])
def test_norm_heading(text, norm):
    assert norm_heading(text) == norm


def test_header_fields_stop_at_first_level2_heading_and_skip_fences():
    doc = Markdown("# T\n**Status**: \U0001f680 In Progress\n**Created:** 2025-01-01\n```\n**Fake**: x\n```\n"
                   "- **Listed**: y\n## Body\n**Late**: z\n")
    fields = [(f.name, f.value, f.line) for f in doc.header_fields()]
    assert fields == [("Status", "\U0001f680 In Progress", 2), ("Created", "2025-01-01", 3), ("Listed", "y", 7)]
    assert doc.field("status").value == "\U0001f680 In Progress"
    assert doc.field("Late") is None


def test_header_region_is_at_most_40_lines():
    doc = Markdown("# T\n" + "text\n" * 45 + "**Status**: Complete\n")
    assert doc.header_fields() == []


def test_sections_include_subsections_and_ignore_fenced_headings():
    doc = Markdown("# T\n## A\n### a1\nx\n```\n## not a heading\n```\n## B\ny\n")
    (a,) = doc.sections(lambda n: n == "a")
    assert (a.start, a.end, a.level) == (1, 7, 2)
    assert doc.body(a, 100) == "### a1\nx\n```\n## not a heading\n```"
    assert doc.body(a, 2) == "### a1\nx"
    assert doc.title() == "T"


# -------------------------------------------------------------------------------------- dispatcher

NAME_FIELDS = dict(feature="F", code="11", mm="01")


@pytest.mark.parametrize("kind", KINDS)
def test_dispatcher_unreadable(kind):
    doc = parse_document(kind, None, "a/b.md", read_error=PermissionError(13, "Permission denied"), **NAME_FIELDS)
    (d,) = doc.diagnostics
    assert (d.code, d.severity, d.path) == ("unreadable", "error", "a/b.md")
    assert "Permission denied" in d.message
    if kind == "parallel":
        assert doc.valid is False


@pytest.mark.parametrize("kind", KINDS)
def test_dispatcher_too_large(kind):
    doc = parse_document(kind, b"# big\n" * 100, "a/b.md", size_cap=50, **NAME_FIELDS)
    assert [d.code for d in doc.diagnostics] == ["too-large"]


def test_dispatcher_routes_to_models():
    assert isinstance(parse_document("plan", b"# P\n", "p", feature="F"), PlanDoc)
    assert isinstance(parse_document("subplan", b"# S\n", "p", feature="F", code="11", archived=True), SubplanDoc)
    ex = parse_document("execution", b"# E\n**Status**: Done\n", "p", feature="F", code="11", mm="02",
                        suffix="V2", revision=2)
    assert isinstance(ex, ExecutionDoc) and (ex.mm, ex.suffix, ex.revision, ex.status) == ("02", "V2", 2, "complete")
    fb = parse_document("fix", b"# FIX REQUIRED: Achievement 1.1\n", "p", code="11")
    assert isinstance(fb, FeedbackDoc) and fb.kind == "fix" and fb.fix is not None and fb.own_id == "1.1"
    assert isinstance(parse_document("parallel", b"{}", "p", feature="F"), ParallelDoc)
    with pytest.raises(ValueError):
        parse_document("readme", b"", "p")

"""Totality: every parser returns its model for any input (strict mode: a bug raises), fast enough."""
from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptgen.parse import parse_document
from promptgen.parse.execution import parse_execution
from promptgen.parse.feedback import parse_feedback
from promptgen.parse.ids import ID_FULL_RE
from promptgen.parse.parallel import parse_parallel
from promptgen.parse.plan import parse_plan
from promptgen.parse.subplan import parse_subplan

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PATH = "plans/F/doc.md"

FRAGMENTS = [
    "# PLAN: T", "## \U0001f4cb Achievement Index", "## \U0001f3af Desirable Achievements", "## Achievements",
    "## \U0001f4dd Current Status & Handoff", "### Next Steps", "#### 1. **Issue**", "**1. Bold**",
    "- Achievement 1.1: A", "- \u2705 Achievement 2.10: B \u2705", "**Achievement 3.5.1**: C (3h) **HIGH**",
    "**Achievement 1.2: D** \u23f1\ufe0f 2h", "### Achievement 4.1: E \u2705 COMPLETE", "- **Achievement 1.1**: 3h",
    "**\u23f3 Next: Achievement 2.1**", "**Next Achievement**: 3.4", "\u23f3 **Achievement 1.10: X** \u2190 **NEXT**",
    "```", "~~~", "````md", "**Status**: \u2705 Complete", "**Final Status**: \u23f8\ufe0f Blocked",
    "## \u2705 Completion Status", "## \U0001f504 Active EXECUTION_TASKs", "| 21_01 | x |", "|", "| |",
    "**Mother Plan**: PLAN_F.md", "**Subplan**: `SUBPLAN_F_21.md` (x)", "**PLAN**: [F](PLAN_F.md)",
    "**Review Date**: 2025-02-30", "**Date**: 2025-01-01", "### Critical Issues", "### Minor Issues", "1. **T**",
    "- bullet", "   - indented", "## What Worked Well", "## Next Steps", "@Py (1-2) `a.py:3-4`", "(", ")", "**",
    "", " ", "\t", "\x00", "\ufeff", "\u2028", "#", "##", "###### h", "---", "[x](y", "\\", "`",
]

line = st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=60),
                 st.lists(st.sampled_from(FRAGMENTS), max_size=4).map(" ".join))
markdown = st.tuples(st.lists(line, max_size=60), st.sampled_from(["\n", "\r\n", "\r"])).map(lambda t: t[1].join(t[0]))
encoded = st.one_of(
    markdown.map(lambda s: s.encode("utf-8", "surrogatepass")),
    markdown.map(lambda s: s.encode("cp1252", "replace")),
    markdown.map(lambda s: b"\xef\xbb\xbf" + s.encode("utf-8", "surrogatepass")),
    st.binary(max_size=3000),
)

JSON_ATOMS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                       st.sampled_from(["1.1", "1.2", "2.1", "1", "x", "level_1", "level_9", "F", "4-6"]))
json_values = st.recursive(JSON_ATOMS, lambda kids: st.one_of(
    st.lists(kids, max_size=5),
    st.dictionaries(st.sampled_from(["plan_name", "parallelization_level", "achievements", "achievement_id",
                                     "dependencies", "title", "estimated_hours", "actual_hours", "status", "x"]),
                    kids, max_size=6)), max_leaves=30)


def check_common(doc, text_lines: int | None = None):
    for d in doc.diagnostics:
        assert d.path == PATH and d.message
        assert d.line is None or d.line >= 1
        assert d.severity in ("error", "warning", "info")
    assert not any(d.code == "unreadable" for d in doc.diagnostics)  # strict mode would have raised


def parse_all(data: bytes):
    p = parse_plan(data, PATH, "F")
    for d in p.declarations:
        assert ID_FULL_RE.match(d.id) and d.title == d.title.strip()
    assert [d.line for d in p.declarations] == sorted(d.line for d in p.declarations)
    assert p.handoff_pointer is None or ID_FULL_RE.match(p.handoff_pointer)
    assert len(p.handoff_excerpt.split("\n")) <= 41
    s = parse_subplan(data, PATH, "F", "21")
    e = parse_execution(data, PATH, "F", "21", "01")
    assert e.status in ("complete", "blocked", "abandoned", "open")
    fb = [parse_feedback(data, PATH, kind, "21") for kind in ("approved", "fix", "resolution", "skipped")]
    par = parse_parallel(data, PATH, "F")
    assert par.valid == (not any(d.severity == "error" for d in par.diagnostics))
    for doc in (p, s, e, *fb, par):
        check_common(doc)


@SETTINGS
@given(encoded)
def test_parsers_are_total_on_markdownish_bytes(data):
    parse_all(data)


@SETTINGS
@given(st.binary(max_size=5000))
def test_parsers_are_total_on_random_bytes(data):
    parse_all(data)


@SETTINGS
@given(json_values, st.booleans())
def test_parallel_is_total_on_json_values(value, bom):
    import json
    data = json.dumps(value).encode()
    doc = parse_parallel((b"\xef\xbb\xbf" if bom else b"") + data, PATH, "F")
    check_common(doc)
    assert doc.valid == (not any(d.severity == "error" for d in doc.diagnostics))
    if doc.valid:
        assert len({i.id for i in doc.items}) == len(doc.items)


@SETTINGS
@given(st.sampled_from(["plan", "subplan", "execution", "approved", "fix", "resolution", "skipped", "parallel"]),
       encoded, st.integers(min_value=0, max_value=4000))
def test_dispatcher_is_total(kind, data, cap):
    doc = parse_document(kind, data, PATH, size_cap=cap, feature="F", code="21", mm="01")
    check_common(doc)
    if len(data) > cap:
        assert [d.code for d in doc.diagnostics] == ["too-large"]


# ------------------------------------------------------------------------- pathological inputs / speed

N = 150_000
PATHOLOGICAL = {
    "giant line": b"x" * 2_000_000,
    "whitespace after Achievement": b"# T\n**Achievement" + b" " * N + b"x\n",
    "many pointer candidates": b"## Current Status & Handoff\nNEXT " + b"Achievement 1.1 " * (N // 16),
    "whitespace in pointer": b"## Current Status & Handoff\nNext:" + b" " * N + b"x\nNext Achievement" + b" " * N,
    "whitespace in heading": b"## a" + b" " * N + b"b\n## Current Status & Handoff" + b"\t" * N + b"#\n",
    "whitespace in header field": b"**Status**:" + b" " * N + b"x\n**Subplan**: a" + b" " * N + b"(b\n",
    "brackets in parent": b"**Mother Plan**: " + b"[" * N + b"](\n**Subplan**: " + b"(" * N + b")\n",
    "backticks and at-signs": b"### Critical Issues\n" + b"`a.py:" * (N // 6) + b"\n" + b"@W (1-" * (N // 6),
    "many headings": b"## Achievements\n### Achievement 1.1: x\n" * 20_000,
    "many fences": b"```\n~~~\n" * 50_000,
    "many declarations": b"## Achievements\n" + b"- Achievement 1.1: t (3h) **B**\n" * 20_000,
    "bold runs in title": b"**Achievement 1.1**: " + b"** " * N + b"\n",
    "parentheses in title": b"**Achievement 1.1**: " + b"(1h) " * (N // 5) + b"\n",
    "status lines": b"## Completion\n" + b"**Status**: Done\n" * 20_000 + b"## A\n## B\n" * 10_000,
    "deep json": b"{\"a\":" * 50_000,
    "many json items": (b'{"plan_name":"F","parallelization_level":"level_1","achievements":['
                        + b",".join(b'{"achievement_id":"1.%d","dependencies":["1.%d"]}' % (i, i + 1)
                                    for i in range(20_000)) + b"]}"),
}


@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_pathological_inputs_parse_without_hanging(name):
    # A hang guard, not a speed goal (speed is measured by benchmarks/parse_speed.py): super-linear
    # backtracking on these 150k-character runs takes hours; linear parsing, well under a second.
    data = PATHOLOGICAL[name]
    start = time.perf_counter()
    parse_all(data)
    assert time.perf_counter() - start < 120, name

"""PLAN parser: fixture plans against expected.json, plus one inline example per spec variant."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptgen.documents import id_key
from promptgen.parse.plan import normalize_title, parse_plan

from .conftest import EXPECTED, WS, md


def plan(text: str, feature: str = "F"):
    return parse_plan(md(text), "plans/F/PLAN_F.md", feature)


def declared(doc) -> dict[str, str]:
    """id -> title of the first declaring line (R-DECL-5)."""
    out: dict[str, str] = {}
    for d in doc.declarations:
        out.setdefault(d.id, d.title)
    return out


# ------------------------------------------------------------------------------------------ id order

_COMPONENT = st.integers(0, 10**30).map(str) | st.sampled_from(["0", "00", "01", "007", "10", "010"])


@given(st.lists(st.lists(_COMPONENT, min_size=2, max_size=4).map(".".join), max_size=12))
def test_id_key_orders_like_int_tuples(ids):
    """Same order and equality as the old `tuple(int(c) ...)` key (1.2 < 1.10, 2 < 10, 01 == 1)."""
    as_ints = lambda i: tuple(int(c) for c in i.split("."))  # noqa: E731
    assert [as_ints(i) for i in sorted(ids, key=id_key)] == sorted(as_ints(i) for i in ids)
    assert all((id_key(a) == id_key(b)) == (as_ints(a) == as_ints(b)) for a in ids for b in ids)


def test_id_key_has_no_length_limit_and_rejects_non_numbers():
    huge, bigger = "1." + "7" * 5000, "1.1" + "0" * 5000
    assert sorted([bigger, "1.10", huge, "1.2"], key=id_key) == ["1.2", "1.10", huge, bigger]
    assert id_key("1.\u0662") == id_key("1.2")  # Unicode decimals count like int() counts them
    for bad in ("1.x", "1..2", "", "1.-2", "1.\u00b2"):
        with pytest.raises(ValueError):
            id_key(bad)


# ------------------------------------------------------------------------------------------ fixture

@pytest.mark.parametrize("exp", EXPECTED["plans"], ids=lambda p: p["name"])
def test_fixture_plan(exp):
    doc = parse_plan((WS / exp["plan_file"]).read_bytes(), exp["plan_file"], exp["name"])
    titles = declared(doc)
    assert sorted(titles, key=id_key) == [a["id"] for a in exp["achievements"]]
    assert {a["id"]: a["title"] for a in exp["achievements"]} == titles
    assert doc.title == exp["title"]
    assert doc.handoff_pointer == exp["handoff_pointer"]
    assert doc.has_handoff
    assert [d for d in doc.diagnostics if d.severity != "info"] == []
    for a in exp["achievements"]:
        if "title_length" in a:
            assert len(titles[a["id"]]) == a["title_length"]
        assert a["id"] in doc.achievement_blocks


def test_fixture_details_orbit():
    path = "plans/ORBIT-SYNC/PLAN_ORBIT-SYNC.md"
    doc = parse_plan((WS / path).read_bytes(), path, "ORBIT-SYNC")
    assert doc.status == "\U0001f680 In Progress"
    assert "9.9" not in declared(doc)  # inside a code fence
    assert doc.handoff_pointer_line == 121
    assert doc.handoff_excerpt.startswith("## \U0001f504 Current Status & Handoff")
    assert "**\u23f3 Next: Achievement 2.1** (Relay fan-out)" in doc.handoff_excerpt
    assert "Archive Location" not in doc.handoff_excerpt
    assert doc.achievement_blocks["1.2"] == ("**Achievement 1.2**: Backpressure for slow consumers \u26a0\ufe0f **HIGH**\n\n"
                                             "- **Goal**: a slow consumer never blocks the others.")
    shapes = {(d.id, d.shape) for d in doc.declarations}
    assert ("0.1", "D3") in shapes and ("0.1", "D1") in shapes
    assert not any(d.shape == "D4" for d in doc.declarations)  # tracking headings are mentions


def test_fixture_lantern_d2_only_and_mentions():
    path = "plans/LANTERN-INDEX/PLAN_LANTERN-INDEX.md"
    doc = parse_plan((WS / path).read_bytes(), path, "LANTERN-INDEX")
    assert {d.shape for d in doc.declarations} == {"D2"}
    assert "4.4" not in declared(doc)
    assert [d.id for d in doc.declarations] == ["1.1", "1.2", "2.1", "11.0", "1.10"]
    assert doc.achievement_blocks["1.10"].startswith("**Achievement 1.10: Crawler retry budget**")


def test_fixture_look_alikes_parse_as_documents():
    # The parser does not decide what is a plan; it reads what it is given.
    doc = parse_plan((WS / "plans/LANTERN-INDEX/PLAN_NOTES.md").read_bytes(), "p", "NOTES")
    assert list(declared(doc)) == ["5.1"] and not doc.has_handoff


# ------------------------------------------------------------------------------------- declarations

@pytest.mark.parametrize("line, section, expected", [
    ("**Achievement 2.1**: Title", "Goal", ("2.1", "Title", "D1")),
    ("**Achievement 2.1: Title** \u23f1\ufe0f 4 hours", "Goal", ("2.1", "Title", "D2")),
    ("**Achievement 2.1:** Title after the bold", "Goal", ("2.1", "Title after the bold", "D2")),
    ("- Achievement 2.1: Title", "Achievement Index", ("2.1", "Title", "D3")),
    ("- \u2705 Achievement 2.1: Title", "\U0001f4cb Achievement Index", ("2.1", "Title", "D3")),
    ("* Achievement 3.5.1: Deep id", "Achievements", ("3.5.1", "Deep id", "D3")),
    ("### Achievement 2.1: Title \u2705 COMPLETE", "\U0001f3af Desirable Achievements", ("2.1", "Title", "D4")),
    ("#### Achievement 1.10: Ten", "Achievements (Priority Order)", ("1.10", "Ten", "D4")),
    # D1 / D2 declare anywhere (outside fences and handoff)
    ("**Achievement 2.1**: Risk note", "\U0001f6a8 Risk Notes", ("2.1", "Risk note", "D1")),
])
def test_declaring_shapes(line, section, expected):
    doc = plan(f"# PLAN: X\n\n## {section}\n\n{line}\n")
    assert [(d.id, d.title, d.shape) for d in doc.declarations] == [expected]
    assert doc.declarations[0].line == 5


@pytest.mark.parametrize("line, section", [
    ("- **Achievement 2.1**: 3-4 hours", "Achievements"),  # D3b
    ("**Achievement 2.2/2.3**: combined", "Achievements"),
    ("As in Achievement 2.1: prose is a mention", "Achievements"),
    ("| Achievement 2.1: Title | done |", "Achievements"),  # table row
    ("- Achievement 2.1: Title", "\u23f1\ufe0f Time Estimates"),  # D3 outside an achievement section
    ("- Achievement 2.1: Title", "\U0001f4cb Achievement Addition Log"),
    ("### Achievement 2.1: Title \u2705 COMPLETE", "\U0001f4ca Subplan Tracking"),  # D4 outside
    ("  - Achievement 2.1: Title", "Achievements"),  # not at column 0
    ("##### Achievement 2.1: Title", "Achievements"),  # level 5 is not D4
    ("**Achievement 2**: no dotted id", "Achievements"),
    ("**Achievement A: Letters**", "Achievements"),
    ("**Milestone 1.1**: other word", "Achievements"),
    ("- Achievement 2.1 - no colon", "Achievements"),
])
def test_mentions_do_not_declare(line, section):
    assert plan(f"# PLAN: X\n\n## {section}\n\n{line}\n").declarations == ()


def test_fenced_and_handoff_lines_never_declare():
    doc = plan("# P\n## Achievements\n```markdown\n**Achievement 9.9**: fenced\n```\n~~~\n- Achievement 9.8: x\n"
               "## \U0001f4dd Current Status & Handoff\n**Achievement 9.7**: in handoff\n### Sub\n"
               "- Achievement 9.6: still handoff\n## Next section\n**Achievement 1.1**: ok\n")
    assert declared(doc) == {}  # the unclosed ~~~ fence runs to the end of the file
    doc = plan("# P\n## Achievements\n```\n**Achievement 9.9**: fenced\n```\n"
               "## Current Status & Handoff\n**Achievement 9.7**: in handoff\n### Sub\n"
               "## Later\n**Achievement 1.1**: ok\n")
    assert declared(doc) == {"1.1": "ok"}


def test_first_declaring_line_gives_the_title():
    doc = plan("# P\n## Achievement Index\n- Achievement 1.1: Index title\n## Details\n"
               "**Achievement 1.1**: Detail title (2h)\n")
    assert declared(doc) == {"1.1": "Index title"}
    assert [d.line for d in doc.declarations] == [3, 5]


@pytest.mark.parametrize("raw, title", [
    ("Wire the heartbeat channel \u2705 **DONE**", "Wire the heartbeat channel"),
    ("Persist relay cursors (3h)", "Persist relay cursors"),
    ("Relay handshake (v2 protocol) (4-6h)", "Relay handshake (v2 protocol)"),
    ("Backpressure \u26a0\ufe0f **HIGH**", "Backpressure"),
    ("Alert routing (2 hours)", "Alert routing"),
    ("Tune (0.5-1.5h) **HIGH** (1 hour)", "Tune"),
    ("Title **COMPLETE** **HIGH**", "Title"),
    ("  Spaced    out\ttitle  - ", "Spaced out title"),
    ("Ends with colon:", "Ends with colon"),
    ("Ends with en dash \u2013", "Ends with en dash"),
    ("No\u2705space before emoji", "No\u2705space before emoji"),
    ("Keep \u23f1\ufe0f other emoji", "Keep \u23f1\ufe0f other emoji"),
    ("Keep (v2 protocol)", "Keep (v2 protocol)"),
    ("Blocked \u23f8\ufe0f paused", "Blocked"),
    ("Stop \U0001f6a7 wip", "Stop"),
    ("**ALL BOLD**", "**ALL BOLD**"),
    ("", ""),
])
def test_title_normalisation(raw, title):
    assert normalize_title(raw) == title


def test_titles_are_never_truncated():
    long = " ".join(f"word{i}" for i in range(2000))
    doc = plan(f"# P\n## Achievements\n**Achievement 4.1**: {long} (3h)\n")
    assert declared(doc) == {"4.1": long}


def test_d2_title_drops_what_follows_the_bold():
    doc = plan("# P\n**Achievement 1.1: Catalogue schema** \u23f1\ufe0f 2 hours \u2705\n")
    assert declared(doc) == {"1.1": "Catalogue schema"}


# ----------------------------------------------------------------------------------------- handoff

HANDOFF = "# P\n## Achievements\n**Achievement 1.1**: A\n## \U0001f4dd Current Status & Handoff\n"


@pytest.mark.parametrize("line, pointer", [
    ("**Next Achievement**: 3.1 (Title)", "3.1"),  # rule 1
    ("NEXT Achievement: **1.10**", "1.10"),  # "next" in any case; "Achievement" as written
    ("- \u23f3 Next: Achievement 0.1 (Title)", "0.1"),  # rule 2
    ("**\u23f3 Next: Achievement 1.1** (Title)", "1.1"),
    ("What's Next: Achievement 2.1", "2.1"),
    ("**Next**: **Achievement 3.5.1**", "3.5.1"),
    ("NEXT: Achievement 2.2", "2.2"),
    ("\u23f3 **Achievement 2.1: Title** \u2190 **NEXT**", "2.1"),  # rule 3
    ("1. **Achievement 0.1: Title** - \u23f3 NEXT", "0.1"),
    ("Achievement 1.10 is NEXT", "1.10"),
    # not pointers
    ("**What's Next**:", None),
    ("**Next**: Create first SUBPLAN (Achievement 1.1 - Title)", None),
    ("Select next achievement: **Achievement 1.1**", None),
    ("Next: Complete migration", None),
    ("run `promptgen --next` for Achievement 1.1", None),
    ("Achievement 1.1 comes next", None),  # rule 3 needs the upper-case word
    ("Achievement 1.1 NEXTSTEP", None),
    ("Next: Achievement 1", None),
    ("next achievement: 1.2", None),
])
def test_pointer_rules(line, pointer):
    doc = plan(HANDOFF + "\n" + line + "\n")
    assert doc.handoff_pointer == pointer
    assert doc.handoff_pointer_line == (6 if pointer else None)


def test_pointer_first_match_in_file_order_across_handoff_sections():
    doc = plan("# P\n## Current Status & Handoff\n### Resume\n**What's Next**:\n- Achievement 1.1: x\n"
               "```\nNext: Achievement 9.9\n```\n## Other\nNext: Achievement 8.8\n"
               "## \U0001f4cb Current Status & Handoff (For Pause/Resume)\n### Next Steps\n"
               "\u23f3 Next: Achievement 3.5.1\n\u23f3 Next: Achievement 1.2\n")
    assert (doc.handoff_pointer, doc.handoff_pointer_line) == ("3.5.1", 13)


def test_pointer_never_searched_outside_handoff():
    doc = plan("# P\n## Notes\nNext: Achievement 1.1\n**Next Achievement**: 1.2\n")
    assert doc.handoff_pointer is None and not doc.has_handoff and doc.handoff_excerpt == ""


def test_handoff_runs_to_next_level_2_heading_and_includes_subsections():
    doc = plan("# P\n## Current Status & Handoff\n### First sub\ntext\n#### deeper\n"
               "Next: Achievement 4.2\n# New top\nNext: Achievement 5.5\n")
    assert doc.handoff_pointer == "4.2"
    assert doc.handoff_excerpt == "## Current Status & Handoff\n### First sub\ntext\n#### deeper\nNext: Achievement 4.2"


def test_heading_needs_both_words_and_level_2():
    assert not plan("# P\n## Current Status\nNext: Achievement 1.1\n").has_handoff
    assert not plan("# P\n## Handoff\nNext: Achievement 1.1\n").has_handoff
    assert not plan("# P\n### Current Status & Handoff\nNext: Achievement 1.1\n").has_handoff
    assert plan("# P\n## current status and HANDOFF notes\nNext: Achievement 1.1\n").handoff_pointer == "1.1"


def test_handoff_excerpt_is_capped():
    body = "".join(f"line {i}\n" for i in range(100))
    doc = plan("# P\n## Current Status & Handoff\n" + body + "## Current Status & Handoff 2\n" + body)
    assert len(doc.handoff_excerpt.split("\n")) <= 41
    assert doc.handoff_excerpt.startswith("## Current Status & Handoff\nline 0")


# ------------------------------------------------------------------------------------------ blocks

def test_achievement_blocks():
    doc = plan("# P\n## Achievement Index\n- Achievement 1.1: A\n- Achievement 1.2: B\n**Priority 2**\n"
               "- Achievement 2.1: C\n## Desirable Achievements\n**Achievement 1.1**: A (2h)\n\n**Goal**: g\n\n"
               "**Achievement 1.2: B** \u23f1\ufe0f 1 hour\n**Goal**: h\n### Achievement 3.1: D\nbody d\n"
               "#### detail\nmore d\n### Achievement 3.2: E\n---\n## Other\ntext\n")
    blocks = doc.achievement_blocks
    assert blocks["1.1"] == "**Achievement 1.1**: A (2h)\n\n**Goal**: g"
    assert blocks["1.2"] == "**Achievement 1.2: B** \u23f1\ufe0f 1 hour\n**Goal**: h"
    assert blocks["2.1"] == "- Achievement 2.1: C"  # D3 fallback: the line alone
    assert blocks["3.1"] == "### Achievement 3.1: D\nbody d\n#### detail\nmore d"  # D4 fallback
    assert blocks["3.2"] == "### Achievement 3.2: E"


# ---------------------------------------------------------------------------------------- reading

def test_header_status_and_title():
    doc = plan("\ufeff# PLAN: Thing\n\n**Status**: \U0001f3af Active (Design Phase)\n## S\n**Status**: Late\n")
    assert doc.title == "PLAN: Thing" and doc.status == "\U0001f3af Active (Design Phase)"


def test_empty_and_too_large_plans():
    doc = parse_plan(b" \n\n", "p", "F")
    assert [d.code for d in doc.diagnostics] == ["empty-file"] and doc.declarations == ()
    doc = parse_plan(b"**Achievement 1.1**: A\n" * 10, "p", "F", size_cap=20)
    assert [d.code for d in doc.diagnostics] == ["too-large"] and doc.declarations == ()


def test_cp1252_plan_still_parses():
    doc = parse_plan("# PLAN: Caf\u00e9\n**Achievement 1.1**: Men\u00fc \u2013 draft\n".encode("cp1252"), "p", "F")
    assert declared(doc) == {"1.1": "Men\u00fc \u2013 draft"}
    assert [d.code for d in doc.diagnostics] == ["encoding"]

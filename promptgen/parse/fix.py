"""FIX file sections (R-FIX-PARSE): critical and minor issues, what worked, code references, summary,
action plan and reviewer. Every section may be missing; nothing here fails on odd input."""
from __future__ import annotations

import re
import textwrap
from typing import Optional

from promptgen.documents import FixDetails, FixIssue

from .text import Heading, Markdown, clip

SUMMARY_LINES = 20
ACTION_PLAN_LINES = 60
BODY_LINES = 40

# The four critical shapes: `1. **T**`, `#### 1. **T** ⚠️ X`, `#### 1. T`, `**1. T**`.
_NUM_BOLD = re.compile(r"\d+[.)][ \t]+\*\*(?P<t>[^*]+?)\*\*(?P<rest>.*)")
_BOLD_NUM = re.compile(r"\*\*\d+[.)][ \t]+(?P<t>[^*]+?)\*\*(?P<rest>.*)")
_NUMBERED = re.compile(r"\d+[.)][ \t]+(?P<t>.*)")
_BULLET = re.compile(r"[-*+][ \t]+(?P<t>.*)")
_HEAD_NUM = re.compile(r"\d+[.)]?[ \t]+")
_LEAD_BOLD = re.compile(r"\*\*(?P<t>[^*]+?)\*\*(?P<rest>.*)")
_MARKER = re.compile("\\s[\u2705\u26a0\u23f3\U0001f504\u274c\u23f8\u23ed\U0001f6a7\U0001f534\U0001f7e0\U0001f7e1]")
_CODE_REF = re.compile(r"@(?P<w>[A-Za-z][\w+#-]*)[ \t]*\((?P<a>\d+)[ \t]*-[ \t]*(?P<b>\d+)\)"
                       r"|`(?P<p>[^`\s:]*\.[A-Za-z0-9]+:\d+(?:-\d+)?)`")


def tidy_title(text: str) -> str:
    """Issue title: cut at a space-preceded marker emoji, drop a trailing bold marker, trim spaces and `:`."""
    m = _MARKER.search(text)
    s = (text[:m.start()] if m else text).strip()
    if s.endswith("**") and s.count("**") >= 2 and not s.startswith("**"):
        s = s[:s.rfind("**", 0, len(s) - 2)].rstrip()
    return " ".join(s.split()).rstrip(":").rstrip()


def _heading_title(text: str) -> str:
    """`1. **T** ⚠️ BLOCKER` / `1. T` (a heading's text) -> `T`."""
    s = _HEAD_NUM.sub("", text, count=1) if _HEAD_NUM.match(text) else text
    m = _LEAD_BOLD.match(s)
    return tidy_title(m.group("t") if m else s)


def _item_title(text: str) -> str:
    """A list item's text: the leading bold segment when there is one, else the text."""
    m = _LEAD_BOLD.match(text)
    return tidy_title(m.group("t") if m else text)


def _issue_section(md: Markdown, word: str) -> Optional[tuple[Heading, int]]:
    """First heading of level 2-3 whose normalised text contains `word`, with its end line index."""
    for k, h in enumerate(md.headings):
        if 2 <= h.level <= 3 and word in h.norm:
            return h, md.section_end(k)
    return None


def _collect(md: Markdown, sec: Optional[tuple[Heading, int]], critical: bool) -> tuple[FixIssue, ...]:
    """Items of an issue section; every other line is body of the preceding item."""
    if sec is None:
        return ()
    head, end = sec
    items: list[tuple[str, int, list[str]]] = []
    for i in range(head.index + 1, end):
        line = md.lines[i]
        title = None
        if not md.fenced[i]:
            if line.startswith("#") and line.lstrip("#")[:1] in (" ", "\t"):
                text = line.lstrip("#").strip()
                if not critical or _HEAD_NUM.match(text):
                    title = _heading_title(text)
            elif critical:
                m = _NUM_BOLD.match(line) or _BOLD_NUM.match(line)
                title = tidy_title(m.group("t")) if m else None
            else:
                m = _NUMBERED.match(line) or _BULLET.match(line)
                title = _item_title(m.group("t")) if m else None
        if title:
            items.append((title, i + 1, []))
        elif items:
            items[-1][2].append(line)
    return tuple(FixIssue(title=t, line=n, body=textwrap.dedent(clip(b[:BODY_LINES]))) for t, n, b in items)


def _bullets(md: Markdown, pred) -> tuple[str, ...]:
    """Top-level bullet / numbered items of the first `##` section matching `pred`."""
    sec = md.first_section(pred)
    if sec is None:
        return ()
    out = []
    for i in range(sec.start + 1, sec.end):
        if md.fenced[i]:
            continue
        m = _BULLET.match(md.lines[i]) or _NUMBERED.match(md.lines[i])
        if m and m.group("t").strip():
            out.append(m.group("t").strip())
    return tuple(out)


def code_refs(lines: list[str]) -> tuple[str, ...]:
    """`@Word (N-M)` and back-ticked `path.ext:N[-M]` anywhere in the file, distinct, in file order."""
    seen: dict[str, None] = {}
    for line in lines:
        if "@" not in line and "`" not in line:
            continue
        for m in _CODE_REF.finditer(line):
            ref = m.group("p") or f"@{m.group('w')} ({m.group('a')}-{m.group('b')})"
            seen.setdefault(ref, None)
    return tuple(seen)


def parse_fix(md: Markdown) -> FixDetails:
    """FixDetails of a decoded FIX file."""
    reviewer = md.field("Reviewer")
    return FixDetails(
        reviewer=reviewer.value if reviewer and reviewer.value else None,
        summary=md.body(md.first_section(lambda n: "summary" in n), SUMMARY_LINES),
        critical=_collect(md, _issue_section(md, "critical"), critical=True),
        minor=_collect(md, _issue_section(md, "minor"), critical=False),
        code_refs=code_refs(md.lines),
        what_worked=_bullets(md, lambda n: n.startswith("what worked")),
        action_plan=md.body(md.first_section(lambda n: n.startswith("next step")), ACTION_PLAN_LINES),
    )

"""PLAN parser: title, header status, declarations (4.1), handoff sections and pointer (4.3), blocks.

Reading diagnostics only: `too-large`, `encoding`, `empty-file` (and `unreadable` from the dispatcher or
a parser failure). `no-achievements` and the handoff diagnostics belong to resolution / workflow.
"""
from __future__ import annotations

import bisect
import re
from typing import Optional

from promptgen.documents import Declaration, PlanDoc

from . import common
from .ids import ID
from .text import Markdown, clip

HANDOFF_EXCERPT_LINES = 40
BLOCK_MAX_LINES = 200

# Declaration shapes (column 0). `[^\w\s*]` = emoji / symbols before "Achievement" (never `**`).
_D1 = re.compile(rf"\*\*Achievement[ \t]+({ID})\*\*[ \t]*:(.*)")
_D2 = re.compile(rf"\*\*Achievement[ \t]+({ID})[ \t]*:(.*?)\*\*(.*)")
_D3 = re.compile(rf"[-*+][ \t]+(?:[^\w\s*]+[ \t]*)?Achievement[ \t]+({ID})[ \t]*:(.*)")
_D4 = re.compile(rf"#{{3,4}}[ \t]+(?:[^\w\s*]+[ \t]*)?Achievement[ \t]+({ID})[ \t]*:(.*)")
# R-NEXT-PTR; "next" in any case, everything else as written.
_PTR1 = re.compile(rf"(?<![A-Za-z])(?i:next)[ \t]+Achievement(?:\*\*)?\s*:\s*(?:\*\*)?({ID})")
_PTR2 = re.compile(rf"(?<![A-Za-z])(?i:next)(?:\*\*)?\s*:\s*(?:\*\*\s*)?Achievement\s+({ID})")
_PTR3 = re.compile(rf"Achievement\s+({ID})")
_NEXT_WORD = re.compile(r"\bNEXT\b")
# R-DECL-6
_STATUS_EMOJI = re.compile("\\s[\u2705\u26a0\u23f3\U0001f504\u274c\u23f8\u23ed\U0001f6a7]")
_EFFORT = re.compile(r"\(\s*~?\d+(?:\.\d+)?\s*(?:[-\u2013]\s*~?\d+(?:\.\d+)?\s*)?(?:h|hrs?|hours?)\s*\)", re.I)
_WS = re.compile(r"\s+")

_NORMAL, _ACHIEVEMENTS, _HANDOFF = 0, 1, 2
_ACH_WORD = re.compile(r"\bachievements\b")


def normalize_title(raw: str) -> str:
    """R-DECL-6: cut at a space-preceded status emoji, drop trailing bold / effort parts, tidy; no limit."""
    m = _STATUS_EMOJI.search(raw)
    s = raw[:m.start()] if m else raw
    first = len(s) - len(s.lstrip())  # index of the first non-space character
    end = len(s.rstrip())  # work on s[:end] without copying (linear on adversarial titles)
    while end > first:
        if s.startswith("**", end - 2) and end - first > 4:
            k = s.rfind("**", 0, end - 2)
            if k > first and s.find("*", k + 2, end - 2) < 0 and not s[k + 2:end - 2].isspace() and k + 2 < end - 2:
                end = _rstrip_at(s, k)
                continue
        if s.startswith(")", end - 1):
            k = s.rfind("(", 0, end)
            if k > first and _EFFORT.fullmatch(s, k, end):
                end = _rstrip_at(s, k)
                continue
        break
    return _WS.sub(" ", s[first:end]).strip().rstrip(" -\u2013:")


def _rstrip_at(s: str, end: int) -> int:
    """`len(s[:end].rstrip())` without the copy."""
    while end > 0 and s[end - 1].isspace():
        end -= 1
    return end


def section_kind(norm: str) -> int:
    """Kind of a `##` section from its normalised heading: handoff, achievement section or normal."""
    if "current status" in norm and "handoff" in norm:
        return _HANDOFF
    if "achievement index" in norm or _ACH_WORD.search(norm):
        return _ACHIEVEMENTS
    return _NORMAL


def _context(md: Markdown) -> list[int]:
    """Per line: the kind of the enclosing level-1/2 section (a `#` heading resets to normal)."""
    ctx = [_NORMAL] * len(md.lines)
    current, start = _NORMAL, 0
    for h in md.headings:
        if h.level > 2:
            continue
        ctx[start:h.index] = [current] * (h.index - start)
        current, start = (section_kind(h.norm) if h.level == 2 else _NORMAL), h.index
    ctx[start:] = [current] * (len(ctx) - start)
    return ctx


def _declaration(line: str, kind: int) -> Optional[tuple[str, str, str]]:
    """`(id, raw title, shape)` when the line declares in a section of `kind`, else None.

    D2 whose bold part holds no title (`**Achievement 2.1:** Title`) takes the text after the bold.
    """
    c = line[:1]
    if c == "*" and line.startswith("**Achievement"):
        m = _D1.match(line)
        if m:
            return m.group(1), m.group(2), "D1"
        m = _D2.match(line)
        if m:
            return m.group(1), m.group(2) if m.group(2).strip() else m.group(3), "D2"
    if kind != _ACHIEVEMENTS:
        return None
    if c and c in "-*+":
        m = _D3.match(line)
        if m:
            return m.group(1), m.group(2), "D3"
    elif c == "#":
        m = _D4.match(line)
        if m:
            return m.group(1), m.group(2), "D4"
    return None


def find_pointer(line: str) -> Optional[str]:
    """R-NEXT-PTR rules 1-3 on one handoff line (rule order decides within a line)."""
    if "chievement" not in line:
        return None
    m = _PTR1.search(line) or _PTR2.search(line)
    if m:
        return m.group(1)
    if "NEXT" in line:
        last = -1
        for w in _NEXT_WORD.finditer(line):
            last = w.start()
        m = _PTR3.search(line)
        if m and m.end() <= last:  # the first "Achievement <id>" with a NEXT word after it
            return m.group(1)
    return None


def _parse(text: str, path: str, feature: str, diags: list) -> PlanDoc:
    md = Markdown(text)
    lines, fenced = md.lines, md.fenced
    ctx = _context(md)
    decls: list[Declaration] = []
    pointer: Optional[tuple[str, int]] = None
    has_handoff = False
    for i, line in enumerate(lines):
        if fenced[i]:
            continue
        kind = ctx[i]
        if kind == _HANDOFF:
            has_handoff = True
            if pointer is None:
                p = find_pointer(line)
                if p is not None:
                    pointer = (p, i + 1)
            continue
        if "Achievement" in line:
            d = _declaration(line, kind)
            if d is not None:
                decls.append(Declaration(id=d[0], title=normalize_title(d[1]), line=i + 1, shape=d[2]))
    excerpt = _handoff_excerpt(md) if has_handoff else ""
    status = md.field("Status")
    return PlanDoc(
        path=path, feature=feature, title=md.title(), status=status.value if status else None,
        declarations=tuple(decls), handoff_pointer=pointer[0] if pointer else None,
        handoff_pointer_line=pointer[1] if pointer else None, has_handoff=has_handoff,
        handoff_excerpt=excerpt, achievement_blocks=_blocks(md, decls), diagnostics=tuple(diags))


def _handoff_excerpt(md: Markdown) -> str:
    """All handoff sections (headings included), at most 40 lines together."""
    chunks: list[str] = []
    budget = HANDOFF_EXCERPT_LINES
    for sec in md.sections(lambda norm: section_kind(norm) == _HANDOFF):
        if budget <= 0:
            break
        part = clip(md.lines[sec.start:min(sec.end, sec.start + budget)])
        if part:
            chunks.append(part)
            budget -= part.count("\n") + 1
    return "\n\n".join(chunks)


def _blocks(md: Markdown, decls: list[Declaration]) -> dict[str, str]:
    """id -> PLAN text from its first D1/D2 line to the next declaring line or level-1/2 heading.

    Without a D1/D2 line: the first D4 heading with its sub-section, or the first D3 line alone.
    """
    first: dict[str, Declaration] = {}
    for d in decls:
        cur = first.get(d.id)
        if cur is None or (cur.shape in ("D3", "D4") and d.shape in ("D1", "D2")):
            first[d.id] = d
    head_index = [h.index for h in md.headings]
    bounds = sorted({d.line - 1 for d in decls} | {h.index for h in md.headings if h.level <= 2})
    out: dict[str, str] = {}
    for ident, d in first.items():
        start = d.line - 1
        if d.shape == "D3":
            out[ident] = md.lines[start].rstrip()
            continue
        k = bisect.bisect_right(bounds, start)
        end = bounds[k] if k < len(bounds) else len(md.lines)
        if d.shape == "D4":  # its own sub-section ends it too
            k = bisect.bisect_left(head_index, start)
            if k < len(head_index) and head_index[k] == start:
                end = min(end, md.section_end(k))
        out[ident] = clip(md.lines[start:min(end, start + BLOCK_MAX_LINES)])
    return out


def parse_plan(data: bytes, path: str, feature: str, size_cap: int = common.DEFAULT_SIZE_CAP) -> PlanDoc:
    """Parse a `PLAN_<F>.md`. Total: any bytes give a `PlanDoc` (problems are diagnostics)."""
    def body() -> PlanDoc:
        prep = common.prepare(data, path, size_cap)
        if prep.text is None:
            return PlanDoc(path=path, feature=feature, diagnostics=tuple(prep.diagnostics))
        return _parse(prep.text, path, feature, prep.diagnostics)

    return common.guarded(body, lambda d: PlanDoc(path=path, feature=feature, diagnostics=(d,)), path)

"""EXECUTION_TASK parser: effective status (R-STATUS-2), R-PARENT, own id and prompt excerpts.

Diagnostics: `too-large`, `encoding`, `empty-file` (alone; the file is open), `missing-parent` /
`unknown-parent`, `missing-status`, `status-conflict`.
"""
from __future__ import annotations

import bisect
import re
from functools import lru_cache
from typing import Optional

from promptgen.documents import ExecutionDoc
from promptgen.usertext import quote

from . import common
from .ids import classify_status, find_own_id
from .parent import execution_parent
from .text import Markdown, Section

EXCERPT_LINES = 30
_STATUS_LINE = re.compile(
    r"[ \t]*(?:[-*+][ \t]+)?\*\*(?P<name>(?i:final[ \t]+status|status))(?:\*\*[ \t]*:|[ \t]*:[ \t]*\*\*)[ \t]*(?P<value>.*)")


def _closing_kind(norm: str) -> bool:
    return "complet" in norm or "final" in norm


def _match_status(line: str) -> Optional[tuple[bool, str]]:
    m = _STATUS_LINE.match(line)
    return (m.group("name")[0] in "fF", m.group("value").strip()) if m else None


_status_of = lru_cache(maxsize=4096)(_match_status)  # status lines repeat across a workspace


def _status_lines(md: Markdown) -> list[tuple[int, bool, str]]:
    """Every `**Status**:` / `**Final Status**:` line outside fences: (index, is_final, value)."""
    out = []
    lines, fenced = md.lines, md.fenced
    for i in [i for i, line in enumerate(lines) if "tatus" in line]:
        line = lines[i]
        if "**" in line and not fenced[i]:
            found = _status_of(line) if len(line) <= 300 else _match_status(line)
            if found is not None:
                out.append((i, found[0], found[1]))
    return out


def _section_of(sections: list[Section], starts: list[int], index: int) -> Optional[Section]:
    """The `##` section (sorted, disjoint) whose body holds line `index`."""
    k = bisect.bisect_left(starts, index) - 1
    if k >= 0 and sections[k].start < index < sections[k].end:
        return sections[k]
    return None


def effective_status(md: Markdown, path: str):
    """R-STATUS-2 -> (header value, effective status, deciding 1-based line, closing section, diagnostics)."""
    header = md.field("Status")
    level2 = md.level_sections(2)
    starts = [sec.start for sec in level2]
    lines = _status_lines(md)
    finals = [x for x in lines if x[1]]
    closing: Optional[Section] = None
    if finals:
        index, _, value = finals[-1]
        status, line = classify_status(value), index + 1
        closing = _section_of(level2, starts, index)
    else:
        status, line = None, None
        for index, is_final, value in lines:
            sec = _section_of(level2, starts, index)
            if sec is not None and _closing_kind(sec.norm) and classify_status(value) == "complete":
                status, line, closing = "complete", index + 1, sec
                break
        if status is None and header is not None:
            status, line = classify_status(header.value), header.line
    diags = []
    if status is None:
        status = "open"
        diags.append(common.diag("missing-status", "warning", path,
                                 "no header **Status**: line and no closing status; treated as open (R-STATUS-2)"))
    elif header is not None and (status == "complete") != (classify_status(header.value) == "complete"):
        diags.append(common.diag(
            "status-conflict", "warning", path, line=header.line,
            message=f"header status {quote(header.value)} (line {header.line}) disagrees with the effective status "
                    f"{status!r} decided by line {line} (R-STATUS-2)"))
    if closing is None:
        found = [s for s in level2 if _closing_kind(s.norm)]
        closing = found[-1] if found else None
    return (header.value if header else None), status, line, closing, diags


def last_iteration(md: Markdown) -> str:
    """The last heading (level >= 3) that starts with "Iteration", with its text; else the end of an
    "Iteration" `##` section."""
    for k in range(len(md.headings) - 1, -1, -1):
        h = md.headings[k]
        if h.level >= 3 and h.norm.startswith("iteration"):
            return md.excerpt(h.index, md.section_end(k), EXCERPT_LINES)
    sec = md.first_section(lambda n: "iteration" in n)
    if sec is None:
        return ""
    return md.excerpt(max(sec.start + 1, sec.end - EXCERPT_LINES), sec.end, EXCERPT_LINES)


def _parse(text: str, path: str, base: dict, feature: str, code: str, diags: list) -> ExecutionDoc:
    md = Markdown(text)
    own_id, own_line = find_own_id(md.lines, md.fenced)
    header, status, line, closing, status_diags = effective_status(md, path)
    return ExecutionDoc(
        **base, title=md.title(), own_id=own_id, own_id_line=own_line, header_status=header,
        status=status, status_line=line, last_iteration=last_iteration(md),
        closing_status=md.body(closing, EXCERPT_LINES),
        learning_summary=md.body(md.first_section(lambda n: "learning" in n), EXCERPT_LINES),
        diagnostics=tuple(diags + execution_parent(md, path, feature, code) + status_diags))


def parse_execution(data: bytes, path: str, feature: str, code: str, mm: str, suffix: Optional[str] = None,
                    revision: int = 0, size_cap: int = common.DEFAULT_SIZE_CAP) -> ExecutionDoc:
    """Parse `EXECUTION_TASK_<F>_<NN>_<MM>[_<SUFFIX>].md` (name parts given by the caller). Total."""
    base = dict(path=path, feature=feature, code=code, mm=mm, suffix=suffix, revision=revision)

    def body() -> ExecutionDoc:
        prep = common.prepare(data, path, size_cap)
        if prep.text is None:
            return ExecutionDoc(**base, empty=prep.state == "empty", diagnostics=tuple(prep.diagnostics))
        return _parse(prep.text, path, base, feature, code, prep.diagnostics)

    return common.guarded(body, lambda d: ExecutionDoc(**base, diagnostics=(d,)), path)

"""SUBPLAN parser: title, own id (R-ID-4), header status, planned slots (5.4), excerpts, R-PARENT.

Diagnostics: `too-large`, `encoding`, `empty-file` (alone), `missing-parent` / `unknown-parent`.
"""
from __future__ import annotations

import re

from promptgen.documents import SubplanDoc

from . import common
from .ids import find_own_id
from .parent import subplan_parent
from .text import Markdown

EXCERPT_LINES = 30
_SLOT = re.compile(r"\d+_\d+")


def planned_slots(md: Markdown) -> tuple[str, ...]:
    """Distinct `NN_MM` first cells of table rows in `##` sections titled "Active EXECUTION_TASKs"."""
    seen: dict[str, None] = {}
    for sec in md.sections(lambda norm: "active execution_tasks" in norm):
        for i in range(sec.start + 1, sec.end):
            line = md.lines[i].strip()
            if not line.startswith("|") or md.fenced[i]:
                continue
            cell = line[1:].split("|", 1)[0].strip().strip("*`").strip()
            if _SLOT.fullmatch(cell):
                seen.setdefault(cell, None)
    return tuple(seen)


def _parse(text: str, path: str, feature: str, code: str, archived: bool, diags: list) -> SubplanDoc:
    md = Markdown(text)
    own_id, own_line = find_own_id(md.lines, md.fenced)
    status = md.field("Status")
    return SubplanDoc(
        path=path, feature=feature, code=code, archived=archived, title=md.title(),
        own_id=own_id, own_id_line=own_line, status=status.value if status else None,
        planned_slots=planned_slots(md),
        objective=md.body(md.first_section(lambda n: "objective" in n), EXCERPT_LINES),
        approach=md.body(md.first_section(lambda n: "approach" in n), EXCERPT_LINES),
        deliverables=md.body(md.first_section(lambda n: "what needs to be created" in n), EXCERPT_LINES),
        diagnostics=tuple(diags + subplan_parent(md, path, feature)))


def parse_subplan(data: bytes, path: str, feature: str, code: str, archived: bool = False,
                  size_cap: int = common.DEFAULT_SIZE_CAP) -> SubplanDoc:
    """Parse a `SUBPLAN_<F>_<NN>.md` (`feature`, `code` from its file name). Total."""
    def body() -> SubplanDoc:
        prep = common.prepare(data, path, size_cap)
        if prep.state == "empty":
            return SubplanDoc(path=path, feature=feature, code=code, archived=archived, empty=True,
                              diagnostics=tuple(prep.diagnostics))
        if prep.text is None:
            return SubplanDoc(path=path, feature=feature, code=code, archived=archived,
                              diagnostics=tuple(prep.diagnostics))
        return _parse(prep.text, path, feature, code, archived, prep.diagnostics)

    return common.guarded(body, lambda d: SubplanDoc(path=path, feature=feature, code=code, archived=archived,
                                                     diagnostics=(d,)), path)

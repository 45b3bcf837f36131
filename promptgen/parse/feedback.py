"""Feedback parser (APPROVED / FIX / FIX_…_RESOLUTION / SKIPPED): own id, date, FIX details.

Diagnostics: `too-large`, `encoding`, `empty-file`. Existence of the file is what counts for state; the
content gives the date (R-FEEDBACK-DATE), the id cross-check (R-ID-4) and, for FIX files, the sections
a prompt quotes (R-FIX-PARSE).
"""
from __future__ import annotations

from typing import Optional

from promptgen.documents import FeedbackDoc, FixDetails

from . import common
from .fix import parse_fix
from .ids import find_own_id, iso_date
from .text import Markdown

DATE_FIELDS = frozenset({"review date", "date", "resolution date", "approved"})


def feedback_date(md: Markdown) -> Optional[str]:
    """R-FEEDBACK-DATE: first ISO date in a `Review Date` / `Date` / `Resolution Date` / `Approved` field."""
    for f in md.fields_named(DATE_FIELDS):
        found = iso_date(f.value)
        if found:
            return found
    return None


def _parse(text: str, path: str, kind: str, code: str, diags: list) -> FeedbackDoc:
    md = Markdown(text)
    own_id, own_line = find_own_id(md.lines, md.fenced)
    return FeedbackDoc(path=path, kind=kind, code=code, own_id=own_id, own_id_line=own_line,
                       date=feedback_date(md), fix=parse_fix(md) if kind == "fix" else None,
                       diagnostics=tuple(diags))


def parse_feedback(data: bytes, path: str, kind: str, code: str,
                   size_cap: int = common.DEFAULT_SIZE_CAP) -> FeedbackDoc:
    """Parse a feedback file; `kind` is `approved`, `fix`, `resolution` or `skipped`. Total.

    A FIX file always gets a `FixDetails` (empty when the file is empty, too large or unparsable).
    """
    def fallback_fix():
        return FixDetails() if kind == "fix" else None

    def body() -> FeedbackDoc:
        prep = common.prepare(data, path, size_cap)
        if prep.text is None:
            return FeedbackDoc(path=path, kind=kind, code=code, empty=prep.state == "empty", fix=fallback_fix(),
                               diagnostics=tuple(prep.diagnostics))
        return _parse(prep.text, path, kind, code, prep.diagnostics)

    return common.guarded(body, lambda d: FeedbackDoc(path=path, kind=kind, code=code, fix=fallback_fix(),
                                                      diagnostics=(d,)), path)

"""Achievement ids (section 3), a file's own id (R-ID-4), status words (R-STATUS-1) and ISO dates."""
from __future__ import annotations

import datetime
import re
import unicodedata
from functools import lru_cache
from typing import Optional

ID = r"\d+(?:\.\d+)+"
ID_RE = re.compile(ID)
ID_FULL_RE = re.compile(rf"{ID}\Z")
# R-ID-4 (case-sensitive). `\s*:?\s*` is written `\s*(?::\s*)?` (same language, no quadratic backtracking).
OWN_ID_RE = re.compile(rf"Achievement(?:\s+(?:Number|Addressed))?(?:\*\*)?\s*(?::\s*)?(?:Achievement\s+)?({ID})")
OWN_ID_MAX_LINES = 15
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_WORD = re.compile(r"[^\W_]+")

COMPLETE_WORDS = frozenset({"complete", "completed", "done", "success", "successful", "approved", "finished"})
BLOCKED_WORDS = frozenset({"blocked", "paused", "waiting"})
ABANDONED_WORDS = frozenset({"abandoned", "cancelled", "canceled", "superseded"})
_STRIP = str.maketrans("", "", "*`_")


def is_id(value: object) -> bool:
    """True when `value` is a string in the dotted-id grammar (`1.10`, `3.5.1`)."""
    return isinstance(value, str) and ID_FULL_RE.match(value) is not None


def find_own_id(lines: list[str], fenced: list[bool]) -> tuple[Optional[str], Optional[int]]:
    """R-ID-4: `(id, 1-based line)` of the first match in the first 15 lines outside fences."""
    for i in range(min(len(lines), OWN_ID_MAX_LINES)):
        line = lines[i]
        if fenced[i] or "Achievement" not in line:
            continue
        m = OWN_ID_RE.search(line)
        if m:
            return m.group(1), i + 1
    return None, None


def status_word(value: str) -> str:
    """R-STATUS-1 preprocessing: emoji, `*`, backticks and `_` removed, lower-cased, first word."""
    s = value.translate(_STRIP)
    if not s.isascii():
        s = "".join(c for c in s if not unicodedata.category(c).startswith(("S", "C", "M")) or c.isspace())
    m = _WORD.search(s.lower())
    return m.group(0) if m else ""


def classify_status(value: Optional[str]) -> str:
    """R-STATUS-1: `complete`, `blocked`, `abandoned` or `open` for a free-text status value."""
    if not value:
        return "open"
    if len(value) > 200:
        return _classify(value)
    return _classify_cached(value)  # a workspace repeats a few dozen status values


def _classify(value: str) -> str:
    word = status_word(value)
    if word in COMPLETE_WORDS:
        return "complete"
    if word in BLOCKED_WORDS:
        return "blocked"
    if word in ABANDONED_WORDS:
        return "abandoned"
    return "open"


_classify_cached = lru_cache(maxsize=2048)(_classify)


def iso_date(value: str) -> Optional[str]:
    """The first valid ISO calendar date (`YYYY-MM-DD`, a time may follow) in `value`, as `YYYY-MM-DD`."""
    for m in _ISO_DATE.finditer(value):
        try:
            datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            continue
        return m.group(0)
    return None

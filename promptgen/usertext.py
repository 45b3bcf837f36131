"""User text inside messages, bounded: a document may hold a 4 MB `plan_name` or a 5000-digit id, and
a diagnostic quoting it whole would be as large. Stdlib only."""
from __future__ import annotations

LIMIT = 80  # characters of user text kept in a message


def clip(text: str, limit: int = LIMIT) -> str:
    """`text` cut to `limit` characters, `…` marking a cut (for unquoted values such as ids)."""
    return text if len(text) <= limit else text[:limit] + "…"


def quote(value: object, limit: int = LIMIT) -> str:
    """`repr(value)` with user text cut to `limit` characters (`'aaaa…'`): how messages quote values."""
    if isinstance(value, str):
        return repr(clip(value, limit))
    import reprlib  # bounded work for huge or deeply nested JSON values too

    try:
        return clip(reprlib.repr(value), limit)
    except ValueError:  # an int over the int-to-string limit (4300 digits)
        return f"<{type(value).__name__}>"

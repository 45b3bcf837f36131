"""Shared plumbing of the parsers: diagnostics, the read pipeline (size cap, decode, empty check) and
the totality guard.

Every public `parse_*` function is *total*: for any input it returns its model. Problems with the input
are diagnostics; an unexpected exception inside a parser (a bug) is turned into error `unreadable`
with `detail="parser-error"` so that one bad file never stops a scan. Tests set `STRICT = True` (or the
environment variable `PROMPTGEN_PARSE_STRICT=1`) to make such bugs raise instead.
"""
from __future__ import annotations

import os
from typing import Callable, NamedTuple, Optional, TypeVar

from promptgen.documents import Diagnostic

from . import text as _text

DEFAULT_SIZE_CAP = 5 * 2**20  # 5 MiB (R-READ-SIZE)
STRICT = os.environ.get("PROMPTGEN_PARSE_STRICT", "") not in ("", "0")

T = TypeVar("T")


def diag(code: str, severity: str, path: str, message: str, *, line: Optional[int] = None,
         achievement: Optional[str] = None, detail: Optional[str] = None) -> Diagnostic:
    """Build a `Diagnostic` (keyword shortcut)."""
    return Diagnostic(code=code, severity=severity, path=path, line=line, achievement=achievement,
                      message=message, detail=detail)


def as_bytes(data) -> bytes:
    """Accept bytes-like input (and, leniently, str) and return bytes."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8", "surrogatepass")
    return bytes(data)


class Prepared(NamedTuple):
    """Outcome of the read pipeline. `state` is `ok`, `too-large` or `empty`; `text` is None unless ok."""

    state: str
    text: Optional[str]
    diagnostics: list


def prepare(data, path: str, size_cap: int = DEFAULT_SIZE_CAP) -> Prepared:
    """Size cap (`too-large`, nothing decoded), decode (`encoding`), then empty check (`empty-file`).

    An empty document gets only `empty-file` (R-STATUS-2 rule 6): the encoding warning cannot occur for
    white space, and nothing else is examined.
    """
    raw = as_bytes(data)
    big = _text.too_large(raw, path, size_cap)
    if big is not None:
        return Prepared("too-large", None, [big])
    text, diags = _text.decode(raw, path)
    if _text.is_blank(text):
        return Prepared("empty", None, [_text.empty_file(path)])
    return Prepared("ok", text, diags)


def unreadable(path: str, exc: BaseException, *, detail: Optional[str] = None) -> Diagnostic:
    """Error `unreadable` (R-READ-FAIL) for an OS error or a parser failure."""
    if isinstance(exc, OSError) and exc.strerror:  # never the absolute path an OSError carries
        what = f"{type(exc).__name__}: {exc.strerror}"
    else:
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    prefix = "internal parser error" if detail == "parser-error" else "cannot read the document"
    return diag("unreadable", "error", path, f"{prefix}: {what}", detail=detail)


def guarded(body: Callable[[], T], fallback: Callable[[Diagnostic], T], path: str) -> T:
    """Run `body()`; on an unexpected exception return `fallback(unreadable-diagnostic)` (unless STRICT)."""
    try:
        return body()
    except Exception as exc:  # noqa: BLE001 - totality is the contract; STRICT re-raises for tests
        if STRICT:
            raise
        return fallback(unreadable(path, exc, detail="parser-error"))

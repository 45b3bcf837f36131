"""Document parsers: bytes in, frozen models (`promptgen.documents`) out, never an exception.

Entry point `parse_document(kind, data, path, ...)`; one `parse_<kind>` function per document kind.
Reading diagnostics (section 10) and who makes them:
- `unreadable` (error): `parse_document` from the caller's `read_error`; any parser for its own bug
  (`detail="parser-error"`, re-raised instead when `common.STRICT`).
- `too-large` (warning): every `parse_<kind>` (its `size_cap` argument) before decoding; nothing parsed.
- `encoding` (warning): every `parse_<kind>` when the bytes are not UTF-8 (cp1252 fallback, still parsed).
- `empty-file` (warning): every Markdown `parse_<kind>` for 0 bytes / white space only, and then no other
  diagnostic; an empty parallel.json is `invalid-parallel-json` with detail `syntax` instead.
Diagnostics never carry `achievement` for per-document checks (parent, status): resolution knows the id.
"""
from __future__ import annotations

from typing import Optional, Union

from promptgen.documents import ExecutionDoc, FeedbackDoc, FixDetails, ParallelDoc, PlanDoc, SubplanDoc

from .common import DEFAULT_SIZE_CAP, unreadable
from .execution import parse_execution
from .feedback import parse_feedback
from .parallel import parse_parallel
from .plan import parse_plan
from .subplan import parse_subplan

__all__ = ["DEFAULT_SIZE_CAP", "KINDS", "parse_document", "parse_execution", "parse_feedback", "parse_parallel",
           "parse_plan", "parse_subplan"]

Document = Union[PlanDoc, SubplanDoc, ExecutionDoc, FeedbackDoc, ParallelDoc]
FEEDBACK_KINDS = ("approved", "fix", "resolution", "skipped")
KINDS = ("plan", "subplan", "execution", *FEEDBACK_KINDS, "parallel")


def _empty_model(kind: str, path: str, name_fields: dict, diagnostic) -> Document:
    """The kind's model with no parsed content and one diagnostic."""
    f = name_fields
    d = (diagnostic,)
    if kind == "plan":
        return PlanDoc(path=path, feature=f.get("feature", ""), diagnostics=d)
    if kind == "subplan":
        return SubplanDoc(path=path, feature=f.get("feature", ""), code=f.get("code", ""),
                          archived=f.get("archived", False), diagnostics=d)
    if kind == "execution":
        return ExecutionDoc(path=path, feature=f.get("feature", ""), code=f.get("code", ""), mm=f.get("mm", ""),
                            suffix=f.get("suffix"), revision=f.get("revision", 0), diagnostics=d)
    if kind in FEEDBACK_KINDS:
        return FeedbackDoc(path=path, kind=kind, code=f.get("code", ""), diagnostics=d,
                           fix=FixDetails() if kind == "fix" else None)
    return ParallelDoc(path=path, valid=False, diagnostics=d)


def parse_document(kind: str, data: Optional[bytes], path: str, *, read_error: Optional[OSError] = None,
                   size_cap: int = DEFAULT_SIZE_CAP, **name_fields) -> Document:
    """Parse one document of `kind` (one of `KINDS`) from its bytes.

    `name_fields` are the parts of the file name the parser needs: `feature` (plan, subplan, execution,
    parallel), `code` (subplan, execution, feedback), `archived` (subplan), `mm`, `suffix`, `revision`
    (execution). `read_error` (or `data=None`) gives the model with error `unreadable`; data over
    `size_cap` bytes gives warning `too-large` and no parsed content. Raises ValueError only for an
    unknown `kind` (a programming error, not a document problem).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown document kind {kind!r}; expected one of {', '.join(KINDS)}")
    if read_error is not None or data is None:
        exc = read_error if read_error is not None else OSError("no data was read")
        return _empty_model(kind, path, name_fields, unreadable(path, exc))
    f = name_fields
    if kind == "plan":
        return parse_plan(data, path, f.get("feature", ""), size_cap=size_cap)
    if kind == "subplan":
        return parse_subplan(data, path, f.get("feature", ""), f.get("code", ""), archived=f.get("archived", False),
                             size_cap=size_cap)
    if kind == "execution":
        return parse_execution(data, path, f.get("feature", ""), f.get("code", ""), f.get("mm", ""),
                               f.get("suffix"), f.get("revision", 0), size_cap=size_cap)
    if kind in FEEDBACK_KINDS:
        return parse_feedback(data, path, kind, f.get("code", ""), size_cap=size_cap)
    return parse_parallel(data, path, f.get("feature", ""), size_cap=size_cap)

"""R-PARENT: the header cross-check of a SUBPLAN's PLAN and an EXECUTION_TASK's SUBPLAN reference."""
from __future__ import annotations

import re

from promptgen.documents import Diagnostic
from promptgen.usertext import clip, quote

from .common import diag
from .text import HeaderField, Markdown

SUBPLAN_PARENT_FIELDS = ("mother plan", "parent plan", "plan")
EXECUTION_PARENT_FIELDS = ("subplan", "parent subplan")

_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)]*)\)")
_AUTOLINK = re.compile(r"<([^<>\s]+)>")
# One generic pattern each, compared by group: a pattern per feature/code would be compiled per document
# (more patterns than `re`'s cache holds on a large workspace).
_PLAN_REF = re.compile(r"(?<![A-Za-z0-9_-])PLAN_([^\s.]+)\.md")
_SUBPLAN_REF = re.compile(r"(?<![A-Za-z0-9])SUBPLAN_([A-Z0-9][A-Z0-9-]*)_(\d+)")
MAX_VALUE = 4096  # longer header values are cut before matching (keeps every regex linear)


def clean_reference(value: str) -> str:
    """Remove `\\`, back-ticks, link syntax (text and target are kept), bold markers, trailing parentheticals."""
    s = value[:MAX_VALUE].replace("\\", "").replace("`", "")
    if "](" in s:
        s = _LINK.sub(r"\1 \2", s)
    if "<" in s:
        s = _AUTOLINK.sub(r"\1", s)
    s = s.replace("**", "").strip()
    for _ in range(8):  # repeated trailing parentheticals; bounded on purpose
        s = s.rstrip()
        k = s.rfind("(")
        if not s.endswith(")") or k <= 0 or ")" in s[k + 1:-1]:
            break
        s = s[:k]
    return s.strip().strip("\"'").strip()


def _check(path: str, fields: list[HeaderField], wanted: str, accept, what: str) -> list[Diagnostic]:
    """`missing-parent` without a field; `unknown-parent` when no field is accepted."""
    if not fields:
        return [diag("missing-parent", "warning", path, f"no {what} field in the header (R-PARENT)")]
    cleaned = [(f, clean_reference(f.value)) for f in fields]
    if any(accept(v) for _, v in cleaned):
        return []
    f, v = cleaned[0]
    return [diag("unknown-parent", "warning", path,
                 f"header field '{f.name}' names {quote(v)}, expected {wanted} (R-PARENT)",
                 line=f.line, detail=f"names {clip(v)}")]


def subplan_parent(md: Markdown, path: str, feature: str) -> list[Diagnostic]:
    """SUBPLAN: a `Mother Plan` / `Parent PLAN` / `PLAN` (or `Plan`) value contains `PLAN_<F>.md` or equals F."""
    fields = md.fields_named(SUBPLAN_PARENT_FIELDS)

    def names_plan(value: str) -> bool:
        return any(m.group(1) == feature for m in _PLAN_REF.finditer(value))

    return _check(path, fields, f"PLAN_{feature}.md or {feature}",
                  lambda v: v == feature or names_plan(v), "Mother Plan / Parent PLAN / PLAN")


def execution_parent(md: Markdown, path: str, feature: str, code: str) -> list[Diagnostic]:
    """EXECUTION_TASK: a `Subplan` / `SUBPLAN` / `Parent SUBPLAN` value contains `SUBPLAN_<F>_<NN>` (no digit after)."""
    fields = md.fields_named(EXECUTION_PARENT_FIELDS)

    def names_subplan(value: str) -> bool:
        return any(m.group(1) == feature and m.group(2) == code for m in _SUBPLAN_REF.finditer(value))

    return _check(path, fields, f"SUBPLAN_{feature}_{code}",
                  names_subplan, "Subplan / SUBPLAN / Parent SUBPLAN")


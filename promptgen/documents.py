"""Frozen pydantic models of the parsed methodology documents (one per document kind).

Parsers (`promptgen.parse`) produce these from bytes; they never raise on bad input: every problem is a
`Diagnostic` inside the model. All paths are POSIX paths relative to the workspace root. Line numbers
are 1-based. Achievement ids are dotted strings (`"1.10"`, `"3.5.1"`); compare them with `id_key`.
"""

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict

from promptgen import pydantic_plugins

pydantic_plugins.install()  # before the first validator is built (they are deferred: defer_build=True)

Severity = Literal["error", "warning", "info"]
ExecStatus = Literal["complete", "blocked", "abandoned", "open"]
FeedbackKind = Literal["approved", "fix", "resolution", "skipped"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


def number_key(digits: str) -> tuple[int, str]:
    """Numeric sort key of a decimal string without `int()` (which refuses more than 4300 digits):
    `(length, digits)` once leading zeros are gone, so `2 < 10` and `01 == 1`. Unicode decimal digits
    count like `int()` counts them. ValueError when `digits` is not a (whitespace-padded) decimal."""
    s = digits.strip()
    if not s.isdecimal():
        raise ValueError("not a decimal number")
    if not s.isascii():
        import unicodedata

        s = "".join(str(unicodedata.decimal(c)) for c in s)
    s = s.lstrip("0")
    return (len(s), s)


def id_key(achievement_id: str) -> tuple[tuple[int, str], ...]:
    """Canonical sort key of a dotted id (R-ID-1): one `number_key` per component (`1.2 < 1.10`), never
    a float; any length. ValueError when a component is not a decimal number."""
    return tuple(number_key(p) for p in achievement_id.split("."))


def id_code(achievement_id: str) -> str:
    """The `NN` file-name code of an id (R-ID-2): components concatenated, dots removed."""
    return achievement_id.replace(".", "")


class Diagnostic(Frozen):
    """One finding, with the spec's code (section 10), on a workspace-relative path."""

    code: str
    severity: Severity
    path: str
    line: Optional[int] = None
    achievement: Optional[str] = None
    message: str
    detail: Optional[str] = None


class HeaderField(Frozen):
    """A `**Field**: value` line of a header block."""

    name: str
    value: str
    line: int


class Declaration(Frozen):
    """A line that declares an achievement (shapes D1, D2, D3, D4 of section 4.1)."""

    id: str
    title: str
    line: int
    shape: Literal["D1", "D2", "D3", "D4"]


class PlanDoc(Frozen):
    """A parsed `PLAN_<F>.md`."""

    path: str
    feature: str
    title: Optional[str] = None  # first `# ` heading without the `# `
    status: Optional[str] = None  # header `**Status**:` value (informational)
    declarations: tuple[Declaration, ...] = ()  # every declaring line, file order
    handoff_pointer: Optional[str] = None  # R-NEXT-PTR
    handoff_pointer_line: Optional[int] = None
    has_handoff: bool = False
    handoff_excerpt: str = ""  # the handoff section(s), at most ~40 lines
    achievement_blocks: dict[str, str] = {}  # id -> its section (first D1/D2 block), for prompts
    diagnostics: tuple[Diagnostic, ...] = ()


class SubplanDoc(Frozen):
    """A parsed `SUBPLAN_<F>_<NN>.md` (also archived copies)."""

    path: str
    feature: str
    code: str
    archived: bool = False
    title: Optional[str] = None
    own_id: Optional[str] = None  # R-ID-4
    own_id_line: Optional[int] = None
    status: Optional[str] = None  # header status, informational
    planned_slots: tuple[str, ...] = ()  # distinct `NN_MM` rows of the "Active EXECUTION_TASKs" table
    objective: str = ""  # excerpt of the Objective section
    approach: str = ""  # excerpt of the Approach section
    deliverables: str = ""  # excerpt of "What Needs to Be Created"
    empty: bool = False
    diagnostics: tuple[Diagnostic, ...] = ()  # encoding, empty-file, too-large, unreadable, *-parent


class ExecutionDoc(Frozen):
    """A parsed `EXECUTION_TASK_<F>_<NN>_<MM>[_<SUFFIX>].md`."""

    path: str
    feature: str
    code: str
    mm: str  # execution number as written (`01`)
    suffix: Optional[str] = None  # None, "RECOVERY", "V2", "V3", ...
    revision: int = 0  # rank within the slot: base 0 < RECOVERY 1 < V2 2 < V3 3 ...
    title: Optional[str] = None
    own_id: Optional[str] = None
    own_id_line: Optional[int] = None
    header_status: Optional[str] = None
    status: ExecStatus = "open"  # effective status, R-STATUS-2
    status_line: Optional[int] = None  # line that decided the effective status
    empty: bool = False
    last_iteration: str = ""  # excerpt of the last iteration entry
    closing_status: str = ""  # text of the closing/completion section
    learning_summary: str = ""  # excerpt of the learning summary
    diagnostics: tuple[Diagnostic, ...] = ()  # encoding, empty-file, *-parent, missing-status, status-conflict


class FixIssue(Frozen):
    title: str
    body: str = ""
    line: Optional[int] = None


class FixDetails(Frozen):
    """Sections of a FIX file (R-FIX-PARSE)."""

    reviewer: Optional[str] = None
    summary: str = ""
    critical: tuple[FixIssue, ...] = ()
    minor: tuple[FixIssue, ...] = ()
    code_refs: tuple[str, ...] = ()
    what_worked: tuple[str, ...] = ()
    action_plan: str = ""


class FeedbackDoc(Frozen):
    """A parsed APPROVED / FIX / FIX_..._RESOLUTION / SKIPPED file."""

    path: str
    kind: FeedbackKind
    code: str
    own_id: Optional[str] = None
    own_id_line: Optional[int] = None
    date: Optional[str] = None  # R-FEEDBACK-DATE: first ISO date (YYYY-MM-DD) of the date fields
    fix: Optional[FixDetails] = None  # only for kind == "fix"
    empty: bool = False
    diagnostics: tuple[Diagnostic, ...] = ()


class ParallelItem(Frozen):
    id: str
    dependencies: tuple[str, ...] = ()
    title: Optional[str] = None
    line: Optional[int] = None


class ParallelDoc(Frozen):
    """A parsed `parallel.json`. `valid` is False when any file-local R-PAR-VALID check failed."""

    path: str
    valid: bool
    plan_name: Optional[str] = None
    level: Optional[str] = None
    items: tuple[ParallelItem, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()

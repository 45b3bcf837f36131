"""Frozen models of derived results: a plan's resolved files, achievement states, plan status.

Produced by `promptgen.resolve` (files attached to achievements, R-ID-3) and `promptgen.workflow`
(R-STATE, R-NEXT, R-PLAN, R-PAR-*). Paths are workspace-relative POSIX paths.
"""

from typing import Literal, Optional

from promptgen.documents import (
    Diagnostic,
    ExecutionDoc,
    FeedbackDoc,
    Frozen,
    ParallelDoc,
    PlanDoc,
    SubplanDoc,
)

State = Literal[
    "approved",
    "skipped",
    "fix_pending",
    "no_subplan",
    "subplan_no_execution",
    "execution_active",
    "executions_done",
]
Action = Optional[
    Literal[
        "apply_fixes",
        "review_resolution",
        "create_subplan",
        "create_execution",
        "create_next_execution",
        "continue_execution",
        "review",
    ]
]


class PlanInfo(Frozen):
    """Where a plan lives (from discovery)."""

    name: str  # feature slug F
    plan_file: str
    plan_dir: str
    layout: Literal["nested", "flat"]
    category: Optional[str] = None
    feedback_usable: bool = True  # False when two flat plans share the folder (ambiguous-feedback-dir)


class AchievementFiles(Frozen):
    """Everything attached to one declared achievement after resolution."""

    id: str
    code: str
    title: str
    subplan: Optional[SubplanDoc] = None
    archived_subplans: tuple[SubplanDoc, ...] = ()
    executions: tuple[ExecutionDoc, ...] = ()  # all revisions, sorted by path
    feedback: tuple[FeedbackDoc, ...] = ()  # sorted by path


class PlanModel(Frozen):
    """A plan with its parsed PLAN document and every file resolved to an achievement."""

    info: PlanInfo
    plan: PlanDoc
    achievements: tuple[AchievementFiles, ...] = ()  # canonical order
    parallel: Optional[ParallelDoc] = None
    diagnostics: tuple[Diagnostic, ...] = ()  # resolution diagnostics + attached documents' diagnostics
    unattached: tuple[str, ...] = ()  # plan files attached to no achievement (orphan-file, ambiguous-id), sorted


class AchievementStatus(Frozen):
    """The state of one achievement and what to do next (R-STATE)."""

    id: str
    code: str
    title: str
    state: State
    action: Action = None
    target: Optional[str] = None  # file or feedback folder (ending in '/') the prompt names
    deciding_file: Optional[str] = None  # the file that decided a terminal state
    subplan: Optional[str] = None
    executions: tuple[str, ...] = ()
    feedback: tuple[str, ...] = ()
    next_mm: Optional[str] = None  # next execution number, two digits
    diagnostics: tuple[Diagnostic, ...] = ()  # state diagnostics (fix-after-approval, archived-only, ...)


class ParallelReport(Frozen):
    """parallel.json analysis (R-PAR-VALID/LEVEL/WAVES)."""

    file: str
    valid: bool
    parallelization_level: Optional[str] = None
    dependency_levels: Optional[dict[str, int]] = None
    waves: Optional[tuple[tuple[str, ...], ...]] = None
    dependencies: dict[str, tuple[str, ...]] = {}


class PlanStatus(Frozen):
    """A plan's achievements with states, its next achievement and completeness (R-NEXT, R-PLAN)."""

    info: PlanInfo
    title: Optional[str] = None
    achievements: tuple[AchievementStatus, ...] = ()
    handoff_pointer: Optional[str] = None
    next: Optional[str] = None
    next_reason: Optional[Literal["handoff", "first_open"]] = None
    complete: bool = False
    parallel: Optional[ParallelReport] = None
    diagnostics: tuple[Diagnostic, ...] = ()  # workflow diagnostics (stale-handoff, handoff-unknown-id, ...)
    model_diagnostics: tuple[Diagnostic, ...] = ()  # the PlanModel's, carried so reports need no model

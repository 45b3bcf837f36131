"""Classify methodology file base names (section 2, R-NAME-1/2). Stdlib only: used on the no-op path.

`classify(name)` returns a `NameInfo` for node files (PLAN, SUBPLAN, EXECUTION_TASK, feedback,
`parallel.json`), for `GRAMMAPLAN_<F>.md` (kind `grammaplan`, never a plan) and for names that start
with a node prefix but do not parse (kind `unrecognized`, warning `unrecognized-name`); `None` for
everything else (README, NORTH_STAR_*, EXECUTION_ANALYSIS_*, marker files, ...).

Grammar decisions: `F` is `[A-Z0-9][A-Z0-9-]*`; `NN` (achievement code) and `MM` (execution number)
are two or more digits (every id has >= 2 components, so `SUBPLAN_F_7.md` is unrecognized); SUBPLANs
accept only the `_ARCHIVED` / `_NESTED_ARCHIVED` suffixes; executions accept `_RECOVERY`, `_V<k>`
(k >= 1), `_ARCHIVED`, `_NESTED_ARCHIVED`.
"""
from __future__ import annotations

import re
from typing import NamedTuple, Optional

PLAN = "plan"
SUBPLAN = "subplan"
EXECUTION = "execution"
FEEDBACK = "feedback"
PARALLEL = "parallel"
GRAMMAPLAN = "grammaplan"
UNRECOGNIZED = "unrecognized"

_SLUG = r"[A-Z0-9][A-Z0-9-]*"
_NAME_RE = re.compile(
    rf"""^(?:
      PLAN_(?P<pf>{_SLUG})\.md
    | SUBPLAN_(?P<sf>{_SLUG})_(?P<sc>\d{{2,}})(?:_(?P<ss>ARCHIVED|NESTED_ARCHIVED))?\.md
    | EXECUTION_TASK_(?P<ef>{_SLUG})_(?P<ec>\d{{2,}})_(?P<em>\d{{2,}})
        (?:_(?P<es>RECOVERY|ARCHIVED|NESTED_ARCHIVED|V[1-9]\d*))?\.md
    | FIX_(?P<rc>\d{{2,}})_RESOLUTION\.md
    | (?P<fk>APPROVED|FIX|SKIPPED)_(?P<fc>\d{{2,}})\.md
    | (?P<par>parallel\.json)
    | GRAMMAPLAN_(?P<gf>{_SLUG})\.md
    )$""",
    re.X,
)
_CANDIDATE_RE = re.compile(r"^(?:(?:PLAN|SUBPLAN|EXECUTION_TASK|APPROVED|FIX|SKIPPED)_.*\.md|parallel\.json)$")
_NODE_PREFIX_RE = re.compile(r"^(?:PLAN|SUBPLAN|EXECUTION_TASK|APPROVED|FIX|SKIPPED)_")
_ARCHIVED_SUFFIXES = ("ARCHIVED", "NESTED_ARCHIVED")


class NameInfo(NamedTuple):
    """What a file name says. `revision` ranks revisions of one slot: base 0 < RECOVERY 1 < V2 2 < V3 3."""

    kind: str  # plan | subplan | execution | feedback | parallel | grammaplan | unrecognized
    name: str
    feature: Optional[str] = None
    code: Optional[str] = None
    mm: Optional[str] = None
    suffix: Optional[str] = None  # V2, RECOVERY, ARCHIVED, NESTED_ARCHIVED, ...
    revision: int = 0
    archived: bool = False
    feedback: Optional[str] = None  # approved | fix | resolution | skipped

    @property
    def is_node(self) -> bool:
        """True for the kinds that take part in discovery (not grammaplan / unrecognized)."""
        return self.kind in (PLAN, SUBPLAN, EXECUTION, FEEDBACK, PARALLEL)


def is_candidate(name: str) -> bool:
    """Cheap filter for the directory walk: a node-prefixed `.md` file or `parallel.json`."""
    return _CANDIDATE_RE.match(name) is not None


def revision_rank(suffix: Optional[str]) -> int:
    """Rank of an execution suffix within its slot (archived copies rank 0; they are ignored anyway)."""
    if suffix is None or suffix in _ARCHIVED_SUFFIXES:
        return 0
    if suffix == "RECOVERY":
        return 1
    k = int(suffix[1:])
    return k if k >= 2 else 0  # `_V1` is the unsuffixed revision


def classify(name: str) -> Optional[NameInfo]:
    """Classify a base name; `None` when it is neither a node file nor node-prefixed (see module doc)."""
    m = _NAME_RE.match(name)
    if m is None:
        if _NODE_PREFIX_RE.match(name):
            return NameInfo(UNRECOGNIZED, name)
        return None
    g = m.groupdict()
    if g["pf"] is not None:
        return NameInfo(PLAN, name, feature=g["pf"])
    if g["sf"] is not None:
        suffix = g["ss"]
        return NameInfo(SUBPLAN, name, feature=g["sf"], code=g["sc"], suffix=suffix, archived=suffix is not None)
    if g["ef"] is not None:
        suffix = g["es"]
        return NameInfo(
            EXECUTION, name, feature=g["ef"], code=g["ec"], mm=g["em"], suffix=suffix,
            revision=revision_rank(suffix), archived=suffix in _ARCHIVED_SUFFIXES,
        )
    if g["rc"] is not None:
        return NameInfo(FEEDBACK, name, code=g["rc"], feedback="resolution")
    if g["fk"] is not None:
        return NameInfo(FEEDBACK, name, code=g["fc"], feedback=g["fk"].lower())
    if g["par"] is not None:
        return NameInfo(PARALLEL, name)
    return NameInfo(GRAMMAPLAN, name, feature=g["gf"])


def subplan_name(feature: str, code: str) -> str:
    """Canonical SUBPLAN file name."""
    return f"SUBPLAN_{feature}_{code}.md"


def execution_name(feature: str, code: str, mm: str) -> str:
    """Canonical EXECUTION_TASK file name (base revision)."""
    return f"EXECUTION_TASK_{feature}_{code}_{mm}.md"


def resolution_name(code: str) -> str:
    """Canonical FIX resolution file name."""
    return f"FIX_{code}_RESOLUTION.md"

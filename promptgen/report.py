"""Documents built from node outputs: the `status --json` object, `check` reports, `ready` waves.

Node outputs are plain JSON (dicts), so these views need no pydantic validation.
"""
from __future__ import annotations

SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
DIAG_KEYS = ("code", "severity", "path", "line", "achievement", "message", "detail")


def norm_diag(d: dict) -> dict:
    """A diagnostic with every documented key present (line/achievement/detail may be null)."""
    return {k: d.get(k) for k in DIAG_KEYS}


def sort_diags(diags: list[dict]) -> list[dict]:
    seen, out = set(), []
    for d in diags:
        d = norm_diag(d)
        key = tuple(d[k] for k in DIAG_KEYS)
        if key not in seen:
            seen.add(key)
            out.append(d)
    out.sort(key=lambda d: (d["path"] or "", d["line"] or 0, SEVERITY_RANK.get(d["severity"], 3), d["code"]))
    return out


def _achievement(a: dict) -> dict:
    """One achievement of a plan entry: these keys, in this order (missing ones null)."""
    get = a.get
    return {"id": get("id"), "title": get("title"), "state": get("state"), "action": get("action"),
            "target": get("target"), "subplan": get("subplan"), "executions": get("executions"),
            "feedback": get("feedback"), "code": get("code")}


STATUS_SCHEMA = 1  # `schema_version` of `status --json`


def plan_entry(status: dict) -> dict:
    """One plan of `status --json` from a PlanStatus output."""
    info = status["info"]
    achs = [_achievement(a) for a in status["achievements"]]
    counts: dict[str, int] = {}
    for a in achs:
        state = a["state"]
        counts[state] = counts.get(state, 0) + 1
    approved = counts.get("approved", 0)
    skipped = counts.get("skipped", 0)
    return {
        "name": info["name"],
        "path": info["plan_file"],
        "plan_dir": info["plan_dir"],
        "layout": info["layout"],
        "category": info.get("category"),
        "title": status.get("title"),
        "achievements": achs,
        "handoff_pointer": status.get("handoff_pointer"),
        "next": status.get("next"),
        "next_reason": status.get("next_reason"),
        "complete": bool(status.get("complete")),
        "progress": {"approved": approved, "skipped": skipped, "total": len(achs)},
        "state_counts": counts,
        "parallel": status.get("parallel"),
    }


def status_document(statuses: list[dict], diagnostics: list[dict]) -> dict:
    plans = sorted((plan_entry(s) for s in statuses), key=lambda p: p["path"])
    return {"schema_version": STATUS_SCHEMA, "plans": plans, "diagnostics": sort_diags(diagnostics)}


class CheckReport:
    """`promptgen check`: the section-10 diagnostics, counted, with the documented exit code.

    `workspace_dir` (absolute), when given, lets `github()` name files relative to the repository
    checkout ($GITHUB_WORKSPACE, else the current directory), as GitHub expects for annotations.
    """

    def __init__(self, diagnostics: list[dict], strict: bool = False, workspace_dir: str | None = None) -> None:
        self.diagnostics, self.strict, self.workspace_dir = diagnostics, strict, workspace_dir

    @property
    def errors(self) -> int:
        return sum(1 for d in self.diagnostics if d["severity"] == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for d in self.diagnostics if d["severity"] == "warning")

    @property
    def exit_code(self) -> int:
        return 1 if self.errors or (self.strict and self.warnings) else 0

    def as_json(self) -> dict:
        return {"diagnostics": self.diagnostics, "errors": self.errors, "warnings": self.warnings,
                "strict": self.strict, "exit_code": self.exit_code}

    def text(self) -> str:
        """`path[:line]: severity code [achievement] message` per diagnostic, then the counts."""
        lines = []
        for d in self.diagnostics:
            where = d["path"] + (f":{d['line']}" if d["line"] else "")
            ach = f" [{d['achievement']}]" if d.get("achievement") else ""
            lines.append(f"{where}: {d['severity']} {d['code']}{ach} {d['message']}")
        lines.append(f"{self.errors} error(s), {self.warnings} warning(s)")
        return "\n".join(lines)

    def github(self) -> str:
        """GitHub Actions workflow commands, one per diagnostic: `::error file=PATH,line=N::code: message`."""
        level = {"error": "error", "warning": "warning", "info": "notice"}
        lines = []
        for d in self.diagnostics:
            sev = "error" if self.strict and d["severity"] == "warning" else level.get(d["severity"], "notice")
            loc = "file=" + _gh_property(self._repo_path(d["path"]))
            if d["line"]:
                loc += f",line={int(d['line'])}"
            lines.append(f"::{sev} {loc}::{_gh_data(d['code'] + ': ' + d['message'])}")
        return "\n".join(lines)

    def _repo_path(self, path: str) -> str:
        if not self.workspace_dir:
            return path
        import os

        base = os.environ.get("GITHUB_WORKSPACE") or os.getcwd()
        try:
            rel = os.path.relpath(os.path.join(self.workspace_dir, path), base).replace(os.sep, "/")
        except ValueError:  # another drive (Windows)
            return path
        return path if rel == ".." or rel.startswith("../") else rel


def _gh_data(text: str) -> str:
    """Escape a workflow-command message (GitHub's `escapeData`)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    """Escape a workflow-command property value (GitHub's `escapeProperty`)."""
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def ready_document(statuses: list[dict]) -> dict:
    """Per plan: the ready set (wave 0) and later waves (R-PAR-WAVES, or sequential without parallel.json)."""
    from promptgen.results import PlanStatus
    from promptgen.workflow import ready

    plans = []
    for s in sorted(statuses, key=lambda s: s["info"]["plan_file"]):
        par = s.get("parallel")
        waves = [list(w) for w in ready(PlanStatus.model_validate(s))]
        source = "parallel.json" if par and par.get("valid") else ("invalid parallel.json" if par else "sequential")
        plans.append({"name": s["info"]["name"], "path": s["info"]["plan_file"], "source": source,
                      "ready": waves[0] if waves else [], "waves": waves, "next": s.get("next"),
                      "complete": bool(s.get("complete"))})
    return {"plans": plans}

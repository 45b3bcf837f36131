"""The workspace summary: portfolio rows and `summary.md` (progress, next actions, diagnostics, mermaid).

`summary.md` is meant to be appended to `$GITHUB_STEP_SUMMARY`: GitHub renders the mermaid diagram of
achievement dependencies (from a valid parallel.json, else canonical order), coloured by state.
"""
from __future__ import annotations

import json
from typing import Iterable

from promptgen.results import PlanStatus

STATE_COLOURS = {
    "approved": "#2da44e",
    "skipped": "#8c959f",
    "fix_pending": "#cf222e",
    "no_subplan": "#ffffff",
    "subplan_no_execution": "#ddf4ff",
    "execution_active": "#fff8c5",
    "executions_done": "#fbefff",
}


def portfolio_row(s: PlanStatus) -> dict:
    counts: dict[str, int] = {}
    for a in s.achievements:
        counts[a.state] = counts.get(a.state, 0) + 1
    nxt = next((a for a in s.achievements if a.id == s.next), None)
    return {"name": s.info.name, "path": s.info.plan_file, "category": s.info.category,
            "approved": counts.get("approved", 0), "skipped": counts.get("skipped", 0),
            "total": len(s.achievements), "state_counts": counts, "next": s.next,
            "next_action": nxt.action if nxt else None, "next_target": nxt.target if nxt else None,
            "complete": s.complete}


def _node(plan: str, ach_id: str) -> str:
    return f"{plan.replace('-', '_')}_{ach_id.replace('.', '_')}"


def mermaid(s: PlanStatus) -> list[str]:
    """A `flowchart` of one plan's achievements, edges from parallel.json, nodes coloured by state."""
    lines = ["```mermaid", "flowchart LR"]
    deps = s.parallel.dependencies if s.parallel and s.parallel.valid else {}
    for a in s.achievements:
        label = a.title if len(a.title) <= 40 else a.title[:37] + "..."
        label = label.replace('"', "'")
        lines.append(f'  {_node(s.info.name, a.id)}["{a.id} {label}<br/>{a.state}"]')
    if deps:
        for a in s.achievements:
            for d in deps.get(a.id, ()):
                lines.append(f"  {_node(s.info.name, d)} --> {_node(s.info.name, a.id)}")
    else:
        for prev, cur in zip(s.achievements, s.achievements[1:]):
            lines.append(f"  {_node(s.info.name, prev.id)} -.-> {_node(s.info.name, cur.id)}")
    for state, colour in STATE_COLOURS.items():
        members = [_node(s.info.name, a.id) for a in s.achievements if a.state == state]
        if members:
            lines.append(f"  classDef {state} fill:{colour},stroke:#57606a")
            lines.append(f"  class {','.join(members)} {state}")
    lines.append("```")
    return lines


def plan_summary(s: PlanStatus) -> list:
    """One plan's share of the summary, `[plan file, row, mermaid lines or None]`: part of the plan's
    `answer:` fragment (answers.py), so a changed status re-renders only its own plan."""
    return [s.info.plan_file, portfolio_row(s), mermaid(s) if s.achievements else None]


def summarize_plans(plans: Iterable[bytes]) -> dict:
    """Rows and markdown from every plan's `plan_summary` (as JSON), consumed one at a time."""
    entries = sorted((tuple(json.loads(p)) for p in plans), key=lambda e: e[0])
    rows = [row for _, row, _ in entries]
    md = ["# promptgen summary", "", "| plan | progress | next | action | complete |", "|---|---|---|---|---|"]
    for r in rows:
        done = r["approved"] + r["skipped"]
        md.append(f"| {r['name']} | {done}/{r['total']} | {r['next'] or '-'} | {r['next_action'] or '-'} | "
                  f"{'yes' if r['complete'] else 'no'} |")
    md += ["", "## Next actions", ""]
    for r in rows:
        if r["next"]:
            md.append(f"- **{r['name']}** {r['next']}: `{r['next_action']}` -> `{r['next_target'] or 'n/a'}`")
        elif r["complete"]:
            md.append(f"- **{r['name']}**: complete")
        else:
            md.append(f"- **{r['name']}**: no next achievement (see diagnostics)")
    md += ["", "## Achievement graphs", ""]
    for _, row, graph in entries:
        if graph is not None:
            md += [f"### {row['name']}", ""] + graph + [""]
    return {"rows": rows, "markdown": "\n".join(md) + "\n"}

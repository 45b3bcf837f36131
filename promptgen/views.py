"""Human output of reading commands (rich tables); machines use `--json` instead."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

STATE_STYLE = {
    "approved": "green",
    "skipped": "dim",
    "fix_pending": "red",
    "no_subplan": "",
    "subplan_no_execution": "cyan",
    "execution_active": "yellow",
    "executions_done": "magenta",
}


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def print_status(doc: dict, single: bool) -> None:
    console = _console()
    if not single:
        table = Table(title="Plans")
        for col in ("plan", "path", "progress", "next", "action", "complete"):
            table.add_column(col)
        for p in doc["plans"]:
            nxt = next((a for a in p["achievements"] if a["id"] == p["next"]), None)
            done = p["progress"]["approved"] + p["progress"]["skipped"]
            table.add_row(p["name"], p["path"], f"{done}/{p['progress']['total']}", p["next"] or "-",
                          (nxt or {}).get("action") or "-", "yes" if p["complete"] else "no")
        console.print(table)
    else:
        for p in doc["plans"]:
            table = Table(title=f"{p['name']} ({p['path']})")
            for col in ("id", "title", "state", "action", "target"):
                table.add_column(col, overflow="fold")
            for a in p["achievements"]:
                style = STATE_STYLE.get(a["state"], "")
                marker = " <- next" if a["id"] == p["next"] else ""
                table.add_row(a["id"] + marker, a["title"][:80], f"[{style}]{a['state']}[/]" if style else a["state"],
                              a["action"] or "-", a["target"] or "-")
            console.print(table)
            console.print(f"next: {p['next'] or '-'}   complete: {'yes' if p['complete'] else 'no'}")
    errors = sum(1 for d in doc["diagnostics"] if d["severity"] == "error")
    warnings = sum(1 for d in doc["diagnostics"] if d["severity"] == "warning")
    console.print(f"diagnostics: {errors} error(s), {warnings} warning(s) (details: promptgen check)")


def print_ready(doc: dict) -> None:
    console = _console()
    for p in doc["plans"]:
        console.print(f"[bold]{p['name']}[/] ({p['source']})")
        if not p["waves"]:
            console.print("  nothing open" if p["complete"] else "  no achievement can start")
        for i, wave in enumerate(p["waves"]):
            label = "ready now" if i == 0 else f"wave {i}"
            console.print(f"  {label}: {', '.join(wave)}")


def print_explain(doc: dict) -> None:
    console = _console()
    if "nodes" in doc:
        if not doc["nodes"]:
            console.print("the last run recomputed nothing")
        for n in doc["nodes"]:
            r = n.get("reason") or {}
            console.print(f"{n['node']}: {n['decision']} ({r.get('code', '-')}{': ' + r['detail'] if r.get('detail') else ''})")
        return
    r = doc.get("reason") or {}
    console.print(f"[bold]{doc['node']}[/] ({doc['type']})")
    console.print(f"last decision: {doc['decision']}")
    if r:
        line = f"reason: {r.get('code')}"
        if r.get("detail"):
            line += f" - {r['detail']}"
        if r.get("old") or r.get("new"):
            line += f" (old {r.get('old')}, new {r.get('new')})"
        console.print(line)
    console.print("inputs:")
    for i in doc.get("inputs", []):
        console.print(f"  {i['input']}  {i.get('fingerprint', '')}")
    console.print("dependents:")
    for d in doc.get("dependents", []):
        console.print(f"  {d}")


def print_stats(doc: dict) -> None:
    console = _console()
    console.print(f"runs: {doc['runs']}   overall hit ratio: "
                  f"{'-' if doc['hit_ratio'] is None else format(doc['hit_ratio'], '.1%')}")
    table = Table(title="hit ratio per node type")
    for col in ("node type", "hit", "miss", "cutoff", "hit ratio"):
        table.add_column(col)
    for t, c in doc["by_type"].items():
        ratio = "-" if c["hit_ratio"] is None else format(c["hit_ratio"], ".1%")
        table.add_row(t, str(c["hit"]), str(c["miss"]), str(c["cutoff"]), ratio)
    console.print(table)
    if doc["slowest_phases"]:
        console.print("slowest phases (mean per run): " + ", ".join(
            f"{p['phase']} {p['mean_s'] * 1000:.1f} ms" for p in doc["slowest_phases"][:5]))

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


def _reason_text(r: dict | None) -> str:
    if not r:
        return "-"
    text = r.get("code", "-")
    if r.get("detail"):
        text += f": {r['detail']}"
    if r.get("old") is not None or r.get("new") is not None:
        text += f" (old {r.get('old') or '-'}, new {r.get('new') or '-'})"
    return text


def print_explain(doc: dict) -> None:
    """Plain lines (no rich markup or wrapping: node ids and paths are printed verbatim)."""
    import sys

    out: list[str] = []
    if "nodes" in doc:
        if not doc["nodes"]:
            why = " (served by the no-op fast path)" if doc.get("fast_path") else ""
            out.append(f"the last run recomputed nothing{why}")
        for n in doc["nodes"]:
            out.append(f"{n['node']}: {n['decision']} - {_reason_text(n.get('reason'))}")
    else:
        out.append(f"{doc['node']} ({doc['type']})")
        out.append(f"last run: {doc['decision']}" + (f" - {_reason_text(doc['reason'])}" if doc.get("reason") else ""))
        prev = doc.get("last_recomputed") or {}
        if doc["decision"] == "hit" and prev:
            out.append(f"last recomputed in run {prev.get('run_id')}: {prev.get('decision')} - "
                       f"{_reason_text(prev.get('reason'))}")
        out.append("inputs:")
        for i in doc.get("inputs", []):
            out.append(f"  {i.get('kind', '')} {i['input']}  {i.get('fingerprint', '')}")
        if not doc.get("inputs"):
            out.append("  (none)")
        out.append("dependents:")
        for d in doc.get("dependents", []):
            out.append(f"  {d}")
        if not doc.get("dependents"):
            out.append("  (none)")
    sys.stdout.write("\n".join(out) + "\n")


def print_stats(doc: dict) -> None:
    console = _console()
    ratio = "-" if doc["hit_ratio"] is None else format(doc["hit_ratio"], ".1%")
    fast = doc.get("fast_path_runs")
    console.print(f"runs: {doc['runs']}" + (f" ({fast} no-op fast path)" if fast else "")
                  + f"   overall hit ratio: {ratio}", markup=False)
    if doc.get("skipped_records"):
        console.print(f"skipped {doc['skipped_records']} invalid record(s) in .promptgen/history.jsonl",
                      markup=False)
    if not doc["runs"]:
        console.print("no run recorded yet (.promptgen/history.jsonl)", markup=False)
        return
    table = Table(title="hit ratio per node type")
    for col in ("node type", "hit", "miss", "cutoff", "hit ratio"):
        table.add_column(col)
    for t, c in doc["by_type"].items():
        r = "-" if c["hit_ratio"] is None else format(c["hit_ratio"], ".1%")
        table.add_row(t, str(c["hit"]), str(c["miss"]), str(c["cutoff"]), r)
    console.print(table)
    if doc["slowest_phases"]:
        console.print("slowest phases (mean per run): " + ", ".join(
            f"{p['phase']} {p['mean_s'] * 1000:.1f} ms" for p in doc["slowest_phases"][:5]), markup=False)
    if doc.get("mean_duration_s") is not None:
        console.print(f"mean build duration: {doc['mean_duration_s'] * 1000:.1f} ms", markup=False)

"""Run history: one JSON line per build in `.promptgen/history.jsonl`, bounded, and its summary.

Stdlib only, so the no-op fast path can append its record too (an `O_APPEND` write of one short line).
The file is trimmed to the last `history_keep` records by full builds, which hold the state lock.
"""
from __future__ import annotations

import os
import time

HISTORY = "history.jsonl"


class PhaseRecorder:
    """Event sink: sums `PhaseTimed` events per phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, event) -> None:
        phase = getattr(event, "phase", None)
        if phase is not None and hasattr(event, "seconds"):
            self.seconds[phase] = self.seconds.get(phase, 0.0) + float(event.seconds)


def record(by_type: dict, elapsed: float, phases: dict, version: str, fast: bool) -> dict:
    return {"time": round(time.time(), 3), "version": version, "fast_path": fast,
            "duration_s": round(elapsed, 6), "by_type": by_type,
            "phases": {k: round(v, 6) for k, v in phases.items()}}


def fast_record_line(counts_by_type: dict[str, int], elapsed: float, version: str) -> str:
    """The record of a no-op run served by the fast path (all hits), formatted without `json`."""
    from promptgen.buildreport import by_type_json

    by_type = by_type_json({t: {"hit": n} for t, n in counts_by_type.items()})
    return (f'{{"time":{time.time():.3f},"version":"{version}","fast_path":true,'
            f'"duration_s":{elapsed:.6f},"by_type":{by_type},"phases":{{}}}}')


def append_line(state_dir: str, rec: dict | str) -> None:
    """Append one record (a dict, or an already formatted JSON object) to the history file."""
    if isinstance(rec, str):
        text = rec
    else:
        import json

        text = json.dumps(rec, separators=(",", ":"))
    line = (text + "\n").encode()
    fd = os.open(os.path.join(state_dir, HISTORY), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def append(cfg, store, outcome) -> None:
    """Append the record of a full build and trim the log to `history_keep` records."""
    from promptgen import __version__

    append_line(cfg.state_dir, record(outcome.counts.by_type, outcome.elapsed, outcome.phases,
                                      __version__, fast=False))
    path = os.path.join(cfg.state_dir, HISTORY)
    try:
        with open(path, "rb") as fh:
            lines = fh.read().splitlines(keepends=True)
    except OSError:
        return
    if len(lines) > cfg.history_keep:
        tmp = path + ".tmp"
        with open(tmp, "wb") as fh:
            fh.writelines(lines[-cfg.history_keep:])
        os.replace(tmp, path)


def load(state_dir: str, limit: int) -> list[dict]:
    try:
        with open(os.path.join(state_dir, HISTORY), "rb") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return []
    import json

    out = []
    for raw in lines[-limit:] if limit > 0 else []:
        try:
            rec = json.loads(raw)
        except ValueError:
            continue  # a torn or foreign line: history is informational
        if isinstance(rec, dict) and isinstance(rec.get("by_type"), dict):
            out.append(rec)
    return out


def summarize(cfg, limit: int) -> dict:
    """Hit ratio per node type and the slowest phases over the last `limit` runs."""
    runs = load(cfg.state_dir, limit)
    totals: dict[str, dict[str, int]] = {}
    phase_sum: dict[str, float] = {}
    for rec in runs:
        for node_type, counts in rec["by_type"].items():
            agg = totals.setdefault(node_type, {"hit": 0, "miss": 0, "cutoff": 0})
            for k in agg:
                agg[k] += int(counts.get(k, 0))
        for phase, secs in (rec.get("phases") or {}).items():
            phase_sum[phase] = phase_sum.get(phase, 0.0) + float(secs)
    by_type = {}
    for node_type, c in sorted(totals.items()):
        n = sum(c.values())
        by_type[node_type] = {**c, "hit_ratio": round(c["hit"] / n, 4) if n else None}
    all_nodes = sum(sum(c[k] for k in ("hit", "miss", "cutoff")) for c in totals.values())
    all_hits = sum(c["hit"] for c in totals.values())
    phases = sorted(({"phase": p, "mean_s": round(s / len(runs), 6)} for p, s in phase_sum.items()),
                    key=lambda r: -r["mean_s"])
    durations = [r["duration_s"] for r in runs]
    return {"runs": len(runs), "hit_ratio": round(all_hits / all_nodes, 4) if all_nodes else None,
            "by_type": by_type, "slowest_phases": phases,
            "mean_duration_s": round(sum(durations) / len(durations), 6) if durations else None}

"""Run history: one JSON line per build in `.promptgen/history.jsonl`, bounded, and its summary.

Stdlib only (and no `json` import on the append path), so the no-op fast path can append its record too.

Bounding: every record carries `"keep": N` (config `history_keep`). A full build holds the state lock
and trims the file to its last N lines right after appending. The fast path does not parse the
configuration: it copies N from the newest record, appends, and when the file is longer than N it
trims under a *non-blocking* exclusive lock on `state.lock` (same flock and PID-line protocol as
`graph_cache.lock.StateLock`, without importing it: `socket` alone costs more than the rest of the
append). If another promptgen holds the lock the trim is left to the next run. Trimming writes a
temporary file and `os.replace`s it, so a reader never sees half a log.

Record: `{"time", "version", "fast_path", "duration_s", "by_type": {type: {hit, miss, cutoff}},
"phases": {phase: seconds}, "keep"}` plus, for full builds, `"run_id"`.
"""
from __future__ import annotations

import os
import time

HISTORY = "history.jsonl"
LOCK_NAME = "state.lock"  # graph_cache.lock.LOCK_NAME
KEEP_KEY = b'"keep":'


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


def _keep_of(data: bytes) -> int | None:
    """`keep` of the newest record that has one (records are our own compact JSON)."""
    i = data.rfind(KEEP_KEY)
    if i < 0:
        return None
    j = i + len(KEEP_KEY)
    k = j
    while k < len(data) and 48 <= data[k] <= 57:
        k += 1
    return int(data[j:k]) if k > j and int(data[j:k]) > 0 else None


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return b""


def _append_bytes(path: str, line: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _trim(path: str, keep: int) -> None:
    """Keep the last `keep` lines (caller holds the state lock)."""
    lines = _read(path).splitlines(keepends=True)
    if len(lines) <= keep:
        return
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.writelines(lines[-keep:])
    os.replace(tmp, path)


def _try_lock(state_dir: str) -> int | None:
    """A non-blocking exclusive flock on state.lock (None if busy or missing), PID line written."""
    import fcntl

    try:
        fd = os.open(os.path.join(state_dir, LOCK_NAME), os.O_RDWR)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    try:
        info = f"{os.getpid()} {os.uname().nodename} {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n".encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, info, 0)
    except OSError:
        pass
    return fd


def _unlock(fd: int) -> None:
    import fcntl

    try:
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def append_line(state_dir: str, rec: dict | str) -> None:
    """Append one record (a dict, or an already formatted JSON object) without holding the state lock
    (the fast path): `keep` is copied from the newest record, and if the file is then longer than
    `keep` it is trimmed under a non-blocking lock. Only the append itself may raise (OSError)."""
    path = os.path.join(state_dir, HISTORY)
    data = _read(path)
    keep = _keep_of(data)
    if isinstance(rec, str):
        text = rec
        if keep is not None and '"keep":' not in text and text.endswith("}"):
            text = f'{text[:-1]},"keep":{keep}}}'
    else:
        import json

        text = json.dumps(rec if keep is None or "keep" in rec else {**rec, "keep": keep}, separators=(",", ":"))
    _append_bytes(path, (text + "\n").encode())
    if keep is None:
        return
    try:
        if data.count(b"\n") + 1 <= keep:
            return
        fd = _try_lock(state_dir)
        if fd is None:
            return  # another promptgen holds the lock: a later run trims
        try:
            _trim(path, keep)
        finally:
            _unlock(fd)
    except Exception:  # history is informational: never fail (or re-run) a command because of it
        return


def append(cfg, store, outcome) -> None:
    """Append the record of a full build and trim the log to `history_keep` records.

    Called by the runner while it holds the state lock."""
    import json

    from promptgen import __version__

    rec = record(outcome.counts.by_type, outcome.elapsed, outcome.phases, __version__, fast=False)
    run_id = getattr(getattr(outcome, "result", None), "run_id", None)
    if isinstance(run_id, int):
        rec["run_id"] = run_id
    rec["keep"] = cfg.history_keep
    path = os.path.join(cfg.state_dir, HISTORY)
    _append_bytes(path, (json.dumps(rec, separators=(",", ":")) + "\n").encode())
    try:
        _trim(path, cfg.history_keep)
    except OSError:
        pass  # informational: the next build trims


def load(state_dir: str, limit: int) -> list[dict]:
    """The last `limit` well-formed records, oldest first (torn or foreign lines are skipped)."""
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
            continue
        if isinstance(rec, dict) and isinstance(rec.get("by_type"), dict):
            out.append(rec)
    return out


def summarize(cfg, limit: int) -> dict:
    """Hit ratio per node type and the slowest phases over the last `limit` runs.

    Counts are summed over the runs (fast-path runs count as all hits). A phase's mean is over the runs
    that timed it (fast-path runs time no phase), `max_s` is its slowest run."""
    from promptgen import errors

    if limit < 1:
        raise errors.UsageError(f"--runs must be at least 1, not {limit}")
    runs = load(cfg.state_dir, limit)
    totals: dict[str, dict[str, int]] = {}
    phase_secs: dict[str, list[float]] = {}
    for rec in runs:
        for node_type, counts in rec["by_type"].items():
            agg = totals.setdefault(node_type, {"hit": 0, "miss": 0, "cutoff": 0})
            for k in agg:
                agg[k] += int((counts or {}).get(k, 0))
        for phase, secs in (rec.get("phases") or {}).items():
            phase_secs.setdefault(phase, []).append(float(secs))
    by_type = {}
    for node_type, c in sorted(totals.items()):
        n = sum(c.values())
        by_type[node_type] = {**c, "hit_ratio": round(c["hit"] / n, 4) if n else None}
    all_nodes = sum(sum(c.values()) for c in totals.values())
    all_hits = sum(c["hit"] for c in totals.values())
    phases = sorted(({"phase": p, "mean_s": round(sum(v) / len(v), 6), "max_s": round(max(v), 6), "runs": len(v)}
                     for p, v in phase_secs.items()), key=lambda r: (-r["mean_s"], r["phase"]))
    durations = [float(r["duration_s"]) for r in runs if isinstance(r.get("duration_s"), (int, float))]
    return {"runs": len(runs), "fast_path_runs": sum(1 for r in runs if r.get("fast_path")),
            "hit_ratio": round(all_hits / all_nodes, 4) if all_nodes else None,
            "by_type": by_type, "slowest_phases": phases,
            "mean_duration_s": round(sum(durations) / len(durations), 6) if durations else None}

"""Run history: one JSON line per build in `.promptgen/history.jsonl`, bounded, and its summary.

Stdlib only (and no `json` import on the append path), so the no-op fast path can append its record too.

Bounding: every record carries `"keep": N` (config `history_keep`). A full build holds the state lock
and trims the file to its last N lines right after appending. The fast path does not parse the
configuration: it copies N from the newest record, appends, and when the file is longer than N it
trims under `graph_cache.lock.StateLock.try_acquire` (no waiting). If another promptgen holds the lock
the trim is left to the next run. Trimming writes a temporary file and `os.replace`s it, so a reader
never sees half a log.

Record: `{"time", "version", "fast_path", "duration_s", "by_type": {type: {hit, miss, cutoff}},
"phases": {phase: seconds}, "keep"}` plus, for full builds, `"run_id"` and `"ran_in"`: the process
that ran the build (`process`: the command's own; `head-start`: its head-start child, head_start.py;
`daemon`: a daemon's child, daemon_child.py). Readers (`stats`, `explain`)
skip and count records of another shape (`valid_record`): the file is disposable, never trusted.
"""
from __future__ import annotations

import os
import re
import time

HISTORY = "history.jsonl"
KEEP_KEY = b'"keep":'
RESULTS = ("hit", "miss", "cutoff")
MAX_KEEP = 10**18  # a longer `keep` (only hand-written; config.toml cannot hold one) counts as this
RAN_IN = "process"  # set by the head-start and daemon children before they run the command


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
    digits = data[j:k].lstrip(b"0")
    if not digits:
        return None
    return MAX_KEEP if len(digits) > 18 else int(digits)  # no int() of 5000 digits (ValueError)


def _read(path: str) -> bytes:
    from graph_cache.regular_files import read_regular

    try:
        return read_regular(path)
    except FileNotFoundError:
        return b""


def _append_bytes(path: str, line: bytes) -> None:
    from graph_cache.regular_files import open_regular  # a FIFO named history.jsonl raises instead of blocking

    fd = open_regular(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
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
        from graph_cache.lock import StateLock

        lock = StateLock(state_dir)
        if not lock.try_acquire():
            return  # another promptgen holds the lock: a later run trims
        try:
            _trim(path, keep)
        finally:
            lock.release()
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
    rec["ran_in"] = RAN_IN
    rec["keep"] = cfg.history_keep
    path = os.path.join(cfg.state_dir, HISTORY)
    _append_bytes(path, (json.dumps(rec, separators=(",", ":")) + "\n").encode())
    try:
        _trim(path, cfg.history_keep)
    except OSError:
        pass  # informational: the next build trims


def _number(value, *, count: bool = False) -> bool:
    """A finite JSON number (json.loads accepts NaN and Infinity); a count is a whole number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if count:
        return isinstance(value, int) and 0 <= value < 2**53
    return abs(value) < 1e15  # False for NaN and the infinities


def valid_record(rec: object) -> bool:
    """True for a record `stats` can sum: `by_type` {type: {hit, miss, cutoff: count}}, and numeric
    `phases` values / `duration_s` and a boolean `fast_path` when present."""
    if not isinstance(rec, dict) or not isinstance(rec.get("by_type"), dict):
        return False
    for counts in rec["by_type"].values():
        if not isinstance(counts, dict) or not all(_number(counts.get(k, 0), count=True) for k in RESULTS):
            return False
    phases = rec.get("phases")
    if phases is not None and not (isinstance(phases, dict) and all(_number(v) for v in phases.values())):
        return False
    if rec.get("duration_s") is not None and not _number(rec["duration_s"]):
        return False
    return isinstance(rec.get("fast_path", False), bool)


_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def read(state_dir: str, limit: int) -> tuple[list[dict], int]:
    """The last `limit` valid records, oldest first, and how many lines were skipped on the way to
    them (torn, not JSON, or of another shape; blank lines are not counted)."""
    from graph_cache.regular_files import read_regular

    try:
        lines = read_regular(os.path.join(state_dir, HISTORY)).splitlines()
    except OSError:
        return [], 0
    import json

    out: list[dict] = []
    skipped = 0
    for raw in reversed(lines):
        if len(out) >= limit:
            break
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
            if _ESCAPED_SURROGATE.search(raw):  # `\ud800`: a str that cannot be printed as UTF-8
                json.dumps(rec, ensure_ascii=False).encode("utf-8")
        except (ValueError, RecursionError):  # also Unicode errors and over-long integers
            rec = None
        if valid_record(rec):
            out.append(rec)
        else:
            skipped += 1
    out.reverse()
    return out, skipped


def load(state_dir: str, limit: int) -> list[dict]:
    """The last `limit` valid records, oldest first (see `read`)."""
    return read(state_dir, limit)[0]


def summarize(cfg, limit: int) -> dict:
    """Hit ratio per node type and the slowest phases over the last `limit` runs.

    Counts are summed over the runs (fast-path runs count as all hits). A phase's mean is over the runs
    that timed it (fast-path runs time no phase), `max_s` is its slowest run."""
    from promptgen import errors

    if limit < 1:
        raise errors.UsageError(f"--runs must be at least 1, not {limit}")
    runs, skipped = read(cfg.state_dir, limit)
    totals: dict[str, dict[str, int]] = {}
    phase_secs: dict[str, list[float]] = {}
    for rec in runs:
        for node_type, counts in rec["by_type"].items():
            agg = totals.setdefault(node_type, dict.fromkeys(RESULTS, 0))
            for k in agg:
                agg[k] += counts.get(k, 0)
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
    durations = [float(r["duration_s"]) for r in runs if r.get("duration_s") is not None]
    return {"runs": len(runs), "skipped_records": skipped,
            "fast_path_runs": sum(1 for r in runs if r.get("fast_path")),
            "hit_ratio": round(all_hits / all_nodes, 4) if all_nodes else None,
            "by_type": by_type, "slowest_phases": phases,
            "mean_duration_s": round(sum(durations) / len(durations), 6) if durations else None}

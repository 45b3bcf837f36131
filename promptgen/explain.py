"""`promptgen explain`: a node's last decision and reason, its inputs and dependents, from the traces.

The engine persists, per node, the trace of its last computation (inputs' fingerprints, output
fingerprint, decision, reason, run id). A node whose trace was written by the last full run was
recomputed by it; any other node was reused (hit). A no-op run served by the fast path recomputes
nothing, which `--last` reports from the run history.
"""
from __future__ import annotations

import difflib

from promptgen import errors, history


def _reason(trace) -> dict | None:
    return trace.reason.as_dict() if trace.reason is not None else None


def _last_run_was_fast(cfg) -> bool:
    runs = history.load(cfg.state_dir, 1)
    return bool(runs and runs[-1].get("fast_path"))


def explain(cfg, *, node: str | None, last: bool) -> dict:
    from graph_cache.store import Store

    store, _warning = Store.open(cfg.state_dir, read_only=True)
    try:
        traces = store.traces()
        last_id = store.last_run_id
    finally:
        store.close()
    fast = _last_run_was_fast(cfg)
    if last:
        nodes = [] if fast else [
            {"node": t.node_id, "type": t.type, "decision": t.decision, "reason": _reason(t)}
            for t in sorted(traces.values(), key=lambda t: t.node_id)
            if t.run_id == last_id and t.decision in ("miss", "cutoff")]
        return {"run_id": last_id, "fast_path": fast, "nodes": nodes}
    trace = traces.get(node)
    if trace is None:
        close = difflib.get_close_matches(node, list(traces), n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; ids are printed by `promptgen build --json`"
        raise errors.UsageError(f"unknown node {node!r}{hint}")
    recomputed_last = trace.run_id == last_id and not fast
    inputs = []
    for key, fp in trace.inputs:
        kind, _, name = key.partition(":")
        inputs.append({"input": name, "kind": kind, "fingerprint": fp})
    needle = "node:" + trace.node_id
    dependents = sorted(t.node_id for t in traces.values() if any(k == needle for k, _ in t.inputs))
    return {
        "node": trace.node_id,
        "type": trace.type,
        "decision": trace.decision if recomputed_last else "hit",
        "reason": _reason(trace) if recomputed_last else None,
        "last_recomputed": {"run_id": trace.run_id, "decision": trace.decision, "reason": _reason(trace)},
        "output_fingerprint": trace.output_fp,
        "inputs": inputs,
        "dependents": dependents,
    }

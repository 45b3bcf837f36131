"""`promptgen explain`: a node's last decision and reason, its inputs and dependents, from the traces.

The engine persists, per node, the trace of its last computation (inputs' fingerprints, output
fingerprint, decision, reason, run id). A node whose trace was written by the last full run was
recomputed by it; any other node was reused (hit). A no-op run served by the fast path recomputes
nothing, which `--last` reports from the run history.

Reason codes (graph_cache.model.ReasonCode): new, input-changed (detail: the file, or `param:<name>`),
dependency-changed (detail: the upstream node id), version-changed (detail: the node type),
state-reset (detail: why the stored state was discarded). See docs/OBSERVABILITY.md.
"""
from __future__ import annotations

import difflib
import sys

from promptgen import errors, history
from promptgen.usertext import quote


def _reason(trace) -> dict | None:
    return trace.reason.as_dict() if trace.reason is not None else None


def _last_run_was_fast(cfg) -> bool:
    runs = history.load(cfg.state_dir, 1)
    return bool(runs and runs[-1].get("fast_path"))


def _load(cfg):
    """(traces, last_run_id) of the stored state; an unusable state is rebuilt first (state-reset)."""
    from graph_cache.store import Store

    for attempt in (1, 2):
        store, warning = Store.open(cfg.state_dir, read_only=True)
        try:
            traces = store.traces()
            last_id = store.last_run_id
        finally:
            store.close()
        if warning is None or attempt == 2:
            return traces, last_id
        # The state was discarded (corrupt, truncated, other schema): like a never-built root, build
        # first; the build reports why, and every node's reason becomes `state-reset`.
        from promptgen import service

        outcome = service.build(cfg.root)
        for w in outcome.all_warnings():
            sys.stderr.write(f"promptgen: warning: {w}\n")
    raise AssertionError("unreachable")  # pragma: no cover


def suggestions(node: str, ids) -> list[str]:
    """Up to 5 known node ids close to `node`: same key (a bare path or feature), substring, fuzzy."""
    ids = sorted(ids)
    out = [i for i in ids if i.split(":", 1)[-1] == node]
    out += [i for i in ids if node and node in i and i not in out]
    out += [i for i in difflib.get_close_matches(node, ids, n=5, cutoff=0.5) if i not in out]
    return out[:5]


def explain(cfg, *, node: str | None, last: bool) -> dict:
    if node and last:
        raise errors.UsageError("give either a NODE id or --last, not both")
    traces, last_id = _load(cfg)
    fast = _last_run_was_fast(cfg)
    if last:
        nodes = [] if fast else [
            {"node": t.node_id, "type": t.type, "decision": t.decision, "reason": _reason(t)}
            for t in sorted(traces.values(), key=lambda t: t.node_id)
            if t.run_id == last_id and t.decision in ("miss", "cutoff")]
        return {"run_id": last_id, "fast_path": fast, "nodes": nodes}
    trace = traces.get(node)
    if trace is None:
        close = suggestions(node or "", traces)
        hint = (f"; did you mean {', '.join(close)}?" if close
                else "; node ids look like `plan:<path>` or `status:<FEATURE>` (see `promptgen build --json`)")
        raise errors.UsageError(f"unknown node {quote(node)}{hint}")
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

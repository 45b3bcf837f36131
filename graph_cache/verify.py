"""The rebuilder: decides whether a node's stored trace is still valid (verifying traces).

`verify` never computes anything; it compares the node's current version key and input fingerprints with
the trace. Input keys are `file:<path>`, `node:<id>` and `param:<name>` (model.file_input / node_input /
param_input); the first difference in sorted key order is reported, so reasons are deterministic.
A changed file is INPUT_CHANGED with detail = path; a changed param is INPUT_CHANGED with detail =
`param:<name>`; a changed dep is DEPENDENCY_CHANGED with detail = node id.
"""
from __future__ import annotations

from typing import Mapping

from .model import NodeSpec, Reason, ReasonCode, Trace

_FILE, _NODE = "file:", "node:"


def _reason_for(key: str, old: str | None, new: str | None) -> Reason:
    if key.startswith(_NODE):
        return Reason(ReasonCode.DEPENDENCY_CHANGED, key[len(_NODE):], old, new)
    detail = key[len(_FILE):] if key.startswith(_FILE) else key  # params keep their "param:" prefix
    return Reason(ReasonCode.INPUT_CHANGED, detail, old, new)


def verify(spec: NodeSpec, trace: Trace | None, version: str, current_inputs: Mapping[str, str]) -> Reason | None:
    """None if `trace` proves the node up to date, else the first reason it is not.

    Checks, in order: no trace (NEW); version key (VERSION_CHANGED, old/new); the set of input keys
    (an added or removed input: INPUT_CHANGED for files, DEPENDENCY_CHANGED for nodes; the missing
    side's fingerprint is None); then input fingerprints (files before nodes, sorted).
    """
    if trace is None:
        return Reason(ReasonCode.NEW)
    if trace.version != version:
        return Reason(ReasonCode.VERSION_CHANGED, spec.type, trace.version, version)
    if trace.inputs == tuple(sorted(current_inputs.items())):
        return None
    old = dict(trace.inputs)
    if old.keys() != current_inputs.keys():
        key = min(old.keys() ^ current_inputs.keys())
        return _reason_for(key, old.get(key), current_inputs.get(key))
    for key in sorted(current_inputs):
        if old[key] != current_inputs[key]:
            return _reason_for(key, old[key], current_inputs[key])
    return None

"""The printable answers of a build, computed by the `answers:workspace` node.

`status --json` (whole and per plan), `check` (text and JSON) and the diagnostics of `build --json` are
functions of the plans' statuses and the workspace diagnostics only. As a graph node they are computed
once, stored in `state.db` like any output, and reused while no status output fingerprint changed
(early cutoff): an edit that changes no plan's status re-renders nothing, and collecting the answers
costs one stored output instead of decoding every plan's status (docs/PERFORMANCE.md). Each plan's
share is rendered by its own `answer:<plan>` node (a *fragment*), which the answers node assembles: a
changed status re-renders one plan, then the assembly slices the others' rendered bytes.

The output is packed so that each answer can be sliced out as the exact bytes that get printed, without
decoding: a JSON array `[[len0, len1, ...], part0, part1, ...]` whose first element holds the byte
length of every part, every part being one JSON value (so the whole output is still valid JSON).
"""
from __future__ import annotations

import json
from typing import Iterable

from promptgen.report import STATUS_SCHEMA, CheckReport, plan_entry, sort_diags

ANSWERS_ID = "answers:workspace"
FRAGMENT = "answer:"  # + plan name: the node id of a plan's fragment
FRAGMENT_PARTS = 5  # name, path, entry, document, diagnostics; then the `more` parts
FIELDS = ("names", "diagnostics_json", "diag_summary", "status_json", "check_json", "check_text", "check_exit")


def _dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def pack(parts: list[bytes]) -> bytes:
    """`[[lengths...],part0,part1,...]`: parts must each be one JSON value."""
    header = _dumps([len(p) for p in parts])
    return b"".join((b"[", header, b",", b",".join(parts), b"]")) if parts else b"[" + header + b"]"


def unpack(data: bytes) -> list[bytes]:
    """The parts of `pack(parts)`, sliced (ValueError if `data` is not such a container)."""
    end = data.index(b"]", 1) + 1
    lengths = json.loads(data[1:end])
    if type(lengths) is not list or not all(type(n) is int and n >= 0 for n in lengths):
        raise ValueError("bad answers header")
    parts, pos = [], end
    for n in lengths:
        if data[pos:pos + 1] != b",":
            raise ValueError("bad answers separator")
        parts.append(data[pos + 1:pos + 1 + n])
        pos += 1 + n
    if data[pos:] != b"]" or any(len(p) != n for p, n in zip(parts, lengths)):
        raise ValueError("truncated answers")
    return parts


def fragment(status: dict, *more: object) -> bytes:
    """One plan's share of the answers, the output of its `answer:<plan>` node: its name, path,
    `status --json` entry, its own `status <plan> --json` document and its diagnostics (as in the status
    output), then the `more` values as JSON (the plan's summary, `summary.plan_summary`), packed. Only
    a plan whose status changed renders its fragment again."""
    mine = status.get("model_diagnostics", []) + status.get("diagnostics", [])
    entry = plan_entry(status)
    entry_json = _dumps(entry)
    return pack([_dumps(status["info"]["name"]), _dumps(entry["path"]), entry_json,
                 _document([entry_json], _dumps(sort_diags(mine))), _dumps(mine),
                 *(_dumps(m) for m in more)])


def fragment_status(fragment_data: bytes) -> dict:
    """A plan's status.json artifact from its fragment alone (the same bytes the assembled answers
    hold for it, `Answers.plan_status`): re-rendering one plan's files reads no other plan's."""
    return status_artifact(unpack(fragment_data)[3])


def status_artifact(document: bytes) -> dict:
    """`status <plan> --json`'s document as the plan's status.json: its entry, then its diagnostics."""
    doc = json.loads(document)
    return {**doc["plans"][0], "diagnostics": doc["diagnostics"]}


def extra_part(fragment_data: bytes) -> bytes:
    """The JSON of the first of a fragment's `more` values."""
    return unpack(fragment_data)[FRAGMENT_PARTS]


def assemble(fragments: Iterable[bytes], workspace_diagnostics: list[dict]) -> bytes:
    """The packed answers from every plan's fragment (sorted by plan name) and the workspace-level
    diagnostics of discovery. A fragment's rendered parts are sliced, not decoded; only the names, paths
    and diagnostics are (the diagnostics are sorted across plans). The whole `status --json` document is
    assembled from the entries, byte for byte what `status_document` dumps."""
    diags = list(workspace_diagnostics)
    names, per_plan, entries, plans = [], [], [], []
    for data in fragments:
        name, path, entry_json, document, mine = unpack(data)[:FRAGMENT_PARTS]
        diags.extend(json.loads(mine))
        names.append(json.loads(name))
        per_plan.append(document)
        entries.append((json.loads(path), len(plans)))
        plans.append(entry_json)
    diagnostics = sort_diags(diags)
    summary: dict[str, int] = {}
    for d in diagnostics:
        summary[d["severity"]] = summary.get(d["severity"], 0) + 1
    check = CheckReport([d for d in diagnostics if d["severity"] in ("error", "warning", "info")])
    diagnostics_json = _dumps(diagnostics)
    entries.sort(key=lambda e: e[0])  # status_document's order (a stable sort by path)
    whole = _document([plans[i] for _, i in entries], diagnostics_json)
    del plans, entries
    head = [_dumps(names), diagnostics_json, _dumps(summary), whole, _dumps(check.as_json()),
            _dumps(check.text()), _dumps(check.exit_code)]
    return pack(head + per_plan)


def render(statuses: Iterable[dict], workspace_diagnostics: list[dict]) -> bytes:
    """`assemble` of every status's `fragment` (what the answers and answer nodes compute together)."""
    return assemble((fragment(status) for status in statuses), workspace_diagnostics)


def _document(plans_json: list[bytes], diagnostics_json: bytes) -> bytes:
    """`_dumps(status_document(...))` from the JSON of its plan entries and sorted diagnostics."""
    return b"".join((b'{"schema_version":%d,"plans":[' % STATUS_SCHEMA, b",".join(plans_json),
                     b'],"diagnostics":', diagnostics_json, b"}"))


class Answers:
    """The unpacked answers: printable bytes per answer, and plain JSON decoded on demand."""

    def __init__(self, data: bytes) -> None:
        parts = unpack(data)
        if len(parts) < len(FIELDS):
            raise ValueError("truncated answers")
        self.raw = dict(zip(FIELDS, parts))
        names = json.loads(self.raw["names"])
        if len(parts) != len(FIELDS) + len(names):
            raise ValueError("answers: one status per plan expected")
        self.by_plan: dict[str, bytes] = dict(zip(names, parts[len(FIELDS):]))
        self._diagnostics: list[dict] | None = None

    @property
    def diagnostics(self) -> list[dict]:
        """Every diagnostic of the build, sorted (workspace-level and every plan's)."""
        if self._diagnostics is None:
            self._diagnostics = json.loads(self.raw["diagnostics_json"])
        return self._diagnostics

    def diag_summary(self) -> dict[str, int]:
        return json.loads(self.raw["diag_summary"])

    def plan_diagnostics(self, feature: str) -> list[dict]:
        """The sorted diagnostics of one plan ([] for an unknown plan)."""
        one = self.by_plan.get(feature)
        return [] if one is None else json.loads(one)["diagnostics"]

    def plan_status(self, feature: str) -> dict:
        """One plan's `status --json` entry followed by its sorted diagnostics (its status.json artifact),
        sliced from these answers: the plan's status output need not be read back."""
        return status_artifact(self.by_plan[feature])

    def payload(self) -> dict:
        """The manifest's answer fields: UTF-8 bytes printed as they are by the fast path."""
        raw = self.raw
        return {"diagnostics_json": raw["diagnostics_json"], "diag_summary": self.diag_summary(),
                "status_json": raw["status_json"], "status_by_plan": self.by_plan,
                "check_json": raw["check_json"], "check_text": json.loads(raw["check_text"]).encode(),
                "check_exit": json.loads(raw["check_exit"])}

"""`promptgen build --dry-run [--json]`: what would be recomputed and why, computing and writing nothing."""
from __future__ import annotations

import os
from pathlib import Path

EXEC_32 = "plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_32_01.md"
EXEC_NODE = "execution:" + EXEC_32


def build(cli, root: Path, *extra: str) -> dict:
    res = cli("build", "--root", str(root), "--json", *extra)
    assert res.code == 0, res.err
    return res.json()


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under .promptgen/ (bytes), lock files excepted."""
    state = root / ".promptgen"
    out = {}
    for dirpath, _dirs, files in os.walk(state):
        for name in files:
            if name.endswith(".lock"):
                continue
            path = Path(dirpath) / name
            out[str(path.relative_to(state))] = path.read_bytes()
    return out


def test_dry_run_after_an_edit_reports_reasons_and_writes_nothing(cli, workspace):
    cold = build(cli, workspace)
    with open(workspace / EXEC_32, "a", encoding="utf-8") as fh:
        fh.write("\n- One more note from the field.\n")
    before = snapshot(workspace)
    assert {"state.db", "manifest.bin", "history.jsonl"} <= set(before)

    doc = build(cli, workspace, "--dry-run")
    assert snapshot(workspace) == before  # byte-identical: no history record, no stats refresh, no state

    assert doc["dry_run"] is True
    assert set(doc) >= {"schema_version", "nodes_total", "by_type", "recomputed", "diagnostics", "elapsed_s",
                        "reasons"}
    assert doc["schema_version"] == cold["schema_version"]
    assert list(doc["reasons"]) == doc["recomputed"]  # same ids, same (decision) order
    assert doc["nodes_total"] == sum(sum(c.values()) for c in doc["by_type"].values()) == cold["nodes_total"]
    assert sum(c["miss"] + c["cutoff"] for c in doc["by_type"].values()) == len(doc["recomputed"])

    reasons = doc["reasons"]
    assert reasons[EXEC_NODE]["code"] == "input-changed" and reasons[EXEC_NODE]["detail"] == EXEC_32
    assert reasons[EXEC_NODE]["old"] != reasons[EXEC_NODE]["new"]
    assert reasons["model:ORBIT-SYNC"] == {**reasons["model:ORBIT-SYNC"], "code": "dependency-changed",
                                           "detail": EXEC_NODE}
    for node, r in reasons.items():
        if node != EXEC_NODE:
            assert r["code"] == "dependency-changed", (node, r)
            assert r["detail"] in reasons  # names an upstream would-be recompute
        assert "ORBIT-SYNC" in node or node in ("summary:workspace", "answers:workspace"), node
    for must in ("status:ORBIT-SYNC", "next:ORBIT-SYNC", "summary:workspace", "answers:workspace"):
        assert must in reasons

    # The real build recomputes a subset of what the dry run announced (cutoffs may spare the rest).
    real = build(cli, workspace)
    assert EXEC_NODE in real["recomputed"]
    assert set(real["recomputed"]) <= set(doc["recomputed"])


def test_dry_run_human_output_and_exit_code(cli, workspace):
    build(cli, workspace)
    (workspace / EXEC_32).write_text((workspace / EXEC_32).read_text(encoding="utf-8") + "\nmore\n",
                                     encoding="utf-8")
    before = snapshot(workspace)
    res = cli("build", "--root", str(workspace), "--dry-run")
    assert res.code == 0, res.err  # pending work is not a failure
    assert "dry run" in res.out
    assert f"would recompute {EXEC_NODE}: input-changed {EXEC_32}" in res.out
    assert "would recompute model:ORBIT-SYNC: dependency-changed " + EXEC_NODE in res.out
    assert snapshot(workspace) == before


def test_dry_run_with_nothing_pending(cli, workspace):
    build(cli, workspace)
    before = snapshot(workspace)
    doc = build(cli, workspace, "--dry-run")
    assert doc["recomputed"] == [] and doc["reasons"] == {}
    assert all(c["miss"] == c["cutoff"] == 0 for c in doc["by_type"].values())
    assert snapshot(workspace) == before


def test_dry_run_on_a_never_built_root(cli, workspace):
    doc = build(cli, workspace, "--dry-run")
    assert doc["dry_run"] is True and doc["recomputed"]
    assert {r["code"] for r in doc["reasons"].values()} == {"new"}
    assert list(doc["reasons"]) == doc["recomputed"]
    state = workspace / ".promptgen"
    assert not state.exists() or all(n.endswith(".lock") for n in os.listdir(state))
    # Nothing was persisted: the first real build still computes everything.
    real = build(cli, workspace)
    assert len(real["recomputed"]) == real["nodes_total"]
    assert set(doc["recomputed"]) <= set(real["recomputed"])


def test_dry_run_after_corrupt_state_says_state_reset_and_repairs_nothing(cli, workspace):
    build(cli, workspace)
    (workspace / ".promptgen" / "state.db").write_bytes(b"garbage" * 100)
    before = snapshot(workspace)
    res = cli("build", "--root", str(workspace), "--dry-run", "--json")
    assert res.code == 0 and "warning" in res.err
    assert {r["code"] for r in res.json()["reasons"].values()} == {"state-reset"}
    assert snapshot(workspace) == before

"""`promptgen explain NODE | --last [--json]`, through the CLI: every documented reason code.

new (never built), input-changed (an edited document, naming the file and both fingerprints),
dependency-changed (its downstream nodes, naming the upstream node), version-changed (a config value
that is part of every node's version key), state-reset (a corrupt state), plus the no-op fast path,
unknown nodes (exit 2 with suggestions) and the human output.
"""
from __future__ import annotations

import re
from pathlib import Path

EXEC_32 = "plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_32_01.md"
EXEC_NODE = "execution:" + EXEC_32
HEX = re.compile(r"^[0-9a-f]{32}$")


def build(cli, root: Path, *extra: str) -> dict:
    res = cli("build", "--root", str(root), "--json", *extra)
    assert res.code == 0, res.err
    return res.json()


def explain(cli, root: Path, *args: str) -> dict:
    res = cli("explain", *args, "--root", str(root), "--json")
    assert res.code == 0, res.err
    return res.json()


def edit_exec_32(root: Path) -> None:
    with open(root / EXEC_32, "a", encoding="utf-8") as fh:
        fh.write("\n- One more note from the field.\n")


def write_config(root: Path, text: str) -> None:
    (root / ".promptgen").mkdir(exist_ok=True)
    (root / ".promptgen" / "config.toml").write_text(text, encoding="utf-8")


def test_edited_document_is_input_changed_and_downstream_dependency_changed(cli, workspace):
    build(cli, workspace)
    edit_exec_32(workspace)
    doc = build(cli, workspace)
    assert EXEC_NODE in doc["recomputed"] and "model:ORBIT-SYNC" in doc["recomputed"]

    node = explain(cli, workspace, EXEC_NODE)
    assert set(node) >= {"node", "type", "decision", "reason", "inputs", "dependents"}
    assert node["node"] == EXEC_NODE and node["type"] == "execution"
    assert node["decision"] == "miss"
    reason = node["reason"]
    assert reason["code"] == "input-changed" and reason["detail"] == EXEC_32
    assert HEX.match(reason["old"]) and HEX.match(reason["new"]) and reason["old"] != reason["new"]
    assert any(i["input"] == EXEC_32 and i["kind"] == "file" and i["fingerprint"] == reason["new"]
               for i in node["inputs"])
    assert node["dependents"] == ["model:ORBIT-SYNC"]

    model = explain(cli, workspace, "model:ORBIT-SYNC")
    assert model["decision"] == "miss"
    assert model["reason"]["code"] == "dependency-changed" and model["reason"]["detail"] == EXEC_NODE
    assert {"input": EXEC_NODE, "kind": "node"}.items() <= next(
        i for i in model["inputs"] if i["input"] == EXEC_NODE).items()
    assert "status:ORBIT-SYNC" in model["dependents"] and "next:ORBIT-SYNC" in model["dependents"]

    status = explain(cli, workspace, "status:ORBIT-SYNC")
    assert status["reason"]["code"] == "dependency-changed" and status["reason"]["detail"] == "model:ORBIT-SYNC"
    assert status["decision"] in ("miss", "cutoff")

    last = explain(cli, workspace, "--last")
    assert set(last) >= {"nodes"}
    by_node = {n["node"]: n for n in last["nodes"]}
    assert set(by_node) == set(doc["recomputed"])  # exactly what the build recomputed
    for n in last["nodes"]:
        assert set(n) >= {"node", "decision", "reason"} and set(n["reason"]) >= {"code", "detail"}
        assert n["decision"] in ("miss", "cutoff")
        if n["node"] == EXEC_NODE:
            assert n["reason"]["code"] == "input-changed" and n["reason"]["detail"] == EXEC_32
        else:
            assert n["reason"]["code"] == "dependency-changed", n
            assert n["reason"]["detail"] in by_node  # names an upstream node that was recomputed too
    decided = {t: c["miss"] + c["cutoff"] for t, c in doc["by_type"].items()}
    for t, n in decided.items():
        assert n == sum(1 for x in last["nodes"] if x["node"].split(":", 1)[0] == t), t

    # A node the edit did not touch was a hit; its last computation (the cold build) was `new`.
    other = explain(cli, workspace, "status:EMBER-NOTES")
    assert other["decision"] == "hit" and other["reason"] is None
    assert other["last_recomputed"]["reason"]["code"] == "new"


def test_human_output_names_the_reason_file_and_dependents(cli, workspace):
    build(cli, workspace)
    edit_exec_32(workspace)
    build(cli, workspace)
    res = cli("explain", EXEC_NODE, "--root", str(workspace))
    assert res.code == 0, res.err
    assert "input-changed" in res.out and EXEC_32 in res.out and "model:ORBIT-SYNC" in res.out
    assert "miss" in res.out
    lines = res.out.splitlines()
    assert any(line.strip().startswith("file " + EXEC_32) for line in lines)  # never wrapped
    last = cli("explain", "--last", "--root", str(workspace))
    assert last.code == 0
    assert any(line.startswith(EXEC_NODE + ": miss - input-changed: " + EXEC_32) for line in last.out.splitlines())
    assert "dependency-changed: model:ORBIT-SYNC" in last.out


def test_version_change_from_config_recomputes_everything_as_version_changed(cli, workspace):
    write_config(workspace, "size_cap_mib = 5\n")
    first = build(cli, workspace)
    write_config(workspace, "size_cap_mib = 6\n")
    doc = build(cli, workspace)
    assert len(doc["recomputed"]) == doc["nodes_total"] == first["nodes_total"]
    last = explain(cli, workspace, "--last")["nodes"]
    assert len(last) == doc["nodes_total"]
    for n in last:
        assert n["reason"]["code"] == "version-changed", n
        assert n["reason"]["detail"] == n["node"].split(":", 1)[0]  # the node type
        assert n["reason"]["old"] != n["reason"]["new"]
    one = explain(cli, workspace, "plan:plans/ORBIT-SYNC/PLAN_ORBIT-SYNC.md")
    assert one["reason"]["code"] == "version-changed" and one["decision"] in ("miss", "cutoff")


def test_corrupt_state_gives_state_reset(cli, workspace):
    build(cli, workspace)
    state = workspace / ".promptgen"
    (state / "state.db").write_bytes(b"this is not an SQLite database at all\n" * 10)
    (state / "manifest.bin").write_bytes(b"garbage")  # no fast-path answer either
    res = cli("build", "--root", str(workspace), "--json")
    assert res.code == 0 and "warning" in res.err
    doc = res.json()
    assert len(doc["recomputed"]) == doc["nodes_total"]
    last = explain(cli, workspace, "--last")["nodes"]
    assert len(last) == doc["nodes_total"]
    assert {n["reason"]["code"] for n in last} == {"state-reset"}
    assert "state.db" in last[0]["reason"]["detail"]


def test_explain_on_a_corrupt_state_rebuilds_first(cli, workspace):
    """Only state.db is damaged (the fast path would still answer `build`): explain must not pretend
    the graph is empty -- it rebuilds, and the reasons say state-reset."""
    build(cli, workspace)
    (workspace / ".promptgen" / "state.db").write_bytes(b"\0" * 4096)
    res = cli("explain", "--last", "--root", str(workspace), "--json")
    assert res.code == 0, res.err
    assert "warning" in res.err
    nodes = res.json()["nodes"]
    assert nodes and {n["reason"]["code"] for n in nodes} == {"state-reset"}
    node = explain(cli, workspace, "status:ORBIT-SYNC")
    assert node["reason"]["code"] == "state-reset"


def test_never_built_root_builds_first_and_everything_is_new(cli, workspace):
    assert not (workspace / ".promptgen").exists()
    last = explain(cli, workspace, "--last")
    assert (workspace / ".promptgen" / "state.db").is_file()
    codes = {n["reason"]["code"] for n in last["nodes"]}
    assert codes == {"new"}
    assert all(n["decision"] == "miss" for n in last["nodes"])
    doc = build(cli, workspace)  # the explain's build was a real one: now everything hits
    assert doc["recomputed"] == [] and len(last["nodes"]) == doc["nodes_total"]


def test_never_built_root_explain_node(cli, workspace):
    node = explain(cli, workspace, "next:ORBIT-SYNC")
    assert node["decision"] == "miss" and node["reason"] == {"code": "new", "detail": ""}
    assert any(i["input"] == "model:ORBIT-SYNC" for i in node["inputs"])


def test_no_op_fast_path_run_recomputed_nothing(cli, workspace):
    build(cli, workspace)
    edit_exec_32(workspace)
    build(cli, workspace)
    noop = build(cli, workspace)  # served by the fast path (history says so)
    assert noop["recomputed"] == []
    last = explain(cli, workspace, "--last")
    assert last["nodes"] == []
    node = explain(cli, workspace, EXEC_NODE)
    assert node["decision"] == "hit" and node["reason"] is None
    assert node["last_recomputed"]["reason"]["code"] == "input-changed"  # the earlier computation is kept
    res = cli("explain", "--last", "--root", str(workspace))
    assert "recomputed nothing" in res.out


def test_full_no_op_build_recomputed_nothing(cli, workspace):
    build(cli, workspace)
    edit_exec_32(workspace)
    build(cli, workspace)
    assert cli("next", "ORBIT-SYNC", "--root", str(workspace)).code == 0  # a full-path no-op build
    assert explain(cli, workspace, "--last")["nodes"] == []


def test_unknown_node_is_a_usage_error_with_suggestions(cli, workspace):
    build(cli, workspace)
    res = cli("explain", "status:ORBIT-SYN", "--root", str(workspace), "--json")
    assert res.code == 2
    assert res.out == ""
    assert "unknown node" in res.err and "status:ORBIT-SYNC" in res.err
    bare = cli("explain", EXEC_32, "--root", str(workspace))  # a path without its type prefix
    assert bare.code == 2 and EXEC_NODE in bare.err
    nothing = cli("explain", "zzzz:qqqq", "--root", str(workspace))
    assert nothing.code == 2 and "unknown node" in nothing.err


def test_usage_errors(cli, workspace):
    build(cli, workspace)
    assert cli("explain", "--root", str(workspace)).code == 2  # neither NODE nor --last
    both = cli("explain", EXEC_NODE, "--last", "--root", str(workspace))
    assert both.code == 2 and "not both" in both.err

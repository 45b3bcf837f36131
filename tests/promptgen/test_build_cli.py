"""`promptgen build` end to end, as a separate process: cold, no-op, touch, edit, corrupt state, prune."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

EXEC_32 = "plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_32_01.md"


def build(cli, root: Path, *extra: str):
    res = cli("build", "--root", str(root), "--json", *extra)
    assert res.code == 0, res.err
    return res.json()


def totals(doc: dict) -> tuple[int, int, int]:
    t = doc["by_type"].values()
    return sum(c["hit"] for c in t), sum(c["miss"] for c in t), sum(c["cutoff"] for c in t)


def test_cold_build_counts_every_node_once(cli, workspace):
    doc = build(cli, workspace)
    hit, miss, cutoff = totals(doc)
    assert doc["schema_version"] == 1
    assert hit + miss + cutoff == doc["nodes_total"] > 0
    assert miss == doc["nodes_total"] and hit == 0
    assert sorted(doc["recomputed"]) == sorted(set(doc["recomputed"]))
    assert len(doc["recomputed"]) == doc["nodes_total"]
    for t in ("plan", "subplan", "execution", "feedback", "parallel", "model", "status", "prompt"):
        assert t in doc["by_type"], t
    assert f"execution:{EXEC_32}" in doc["recomputed"]
    assert isinstance(doc["elapsed_s"], float)
    for d in doc["diagnostics"]:
        assert set(d) >= {"code", "severity", "path", "line", "message"}
        assert not os.path.isabs(d["path"])


def test_second_build_is_all_hits(cli, workspace):
    first = build(cli, workspace)
    second = build(cli, workspace)
    assert second["recomputed"] == []
    assert totals(second) == (first["nodes_total"], 0, 0)
    assert second["diagnostics"] == first["diagnostics"]


def test_touch_only_changes_are_hits(cli, workspace):
    first = build(cli, workspace)
    later = time.time() + 100
    for path in workspace.rglob("*"):
        if path.is_file() and ".promptgen" not in path.parts:
            os.utime(path, (later, later))
    second = build(cli, workspace)
    assert totals(second) == (first["nodes_total"], 0, 0)
    third = build(cli, workspace)  # stats were refreshed: still all hits
    assert third["recomputed"] == []


def test_edit_one_execution_recomputes_only_its_plan(cli, workspace):
    build(cli, workspace)
    with open(workspace / EXEC_32, "a", encoding="utf-8") as fh:
        fh.write("\n- One more note from the field.\n")
    doc = build(cli, workspace)
    assert f"execution:{EXEC_32}" in doc["recomputed"]
    for node in doc["recomputed"]:
        assert "ORBIT-SYNC" in node or node in ("summary:workspace", "answers:workspace"), node
    hit, miss, cutoff = totals(doc)
    assert hit + miss + cutoff == doc["nodes_total"]


def test_truncated_state_warns_and_rebuilds_cleanly(cli, workspace, tmp_path):
    build(cli, workspace)
    clean_status = cli("status", "--root", str(workspace), "--json").json()
    for name in os.listdir(workspace / ".promptgen"):
        path = workspace / ".promptgen" / name
        if path.is_file() and name.endswith((".db", ".bin")):
            path.write_bytes(path.read_bytes()[:7])
    res = cli("build", "--root", str(workspace), "--json")
    assert res.code == 0
    assert "warning" in res.err.lower()
    assert cli("status", "--root", str(workspace), "--json").json() == clean_status


def test_deleted_document_is_pruned(cli, workspace):
    build(cli, workspace)
    (workspace / EXEC_32).unlink()
    doc = build(cli, workspace)
    graph = cli("graph", "--root", str(workspace), "--format", "json").json()
    ids = {n["id"] for n in graph["nodes"]}
    assert f"execution:{EXEC_32}" not in ids
    assert "status:ORBIT-SYNC" in doc["recomputed"]


def test_clean_keeps_config(cli, workspace):
    (workspace / ".promptgen").mkdir()
    (workspace / ".promptgen" / "config.toml").write_text('history_keep = 5\n', encoding="utf-8")
    build(cli, workspace)
    res = cli("clean", "--root", str(workspace))
    assert res.code == 0
    assert sorted(os.listdir(workspace / ".promptgen")) == ["config.toml"]


def test_human_output_has_a_table(cli, workspace):
    res = cli("build", "--root", str(workspace))
    assert res.code == 0
    assert "node type" in res.out and "hit" in res.out and "total" in res.out


def test_never_built_root_status_builds_first(cli, workspace, expected):
    doc = cli("status", "--root", str(workspace), "--json").json()
    assert {p["name"] for p in doc["plans"]} == {p["name"] for p in expected["plans"]}
    assert (workspace / ".promptgen").is_dir()


_CONSOLE = """import sys
class Marker:  # its __del__ runs only if the interpreter tears down (a global of __main__)
    def __del__(self, open=open, path=sys.argv[1]):  # builtins may be gone by then
        with open(path, "w") as f:
            f.write("torn down")
marker = Marker()
if sys.argv[3] == "atexit":
    import atexit
    atexit.register(lambda: None)  # a hook to honour: the normal exit
sys.argv = ["promptgen", "build", "--json", "--root", sys.argv[2]]
from promptgen.entry import main
main()
"""


def test_plain_build_skips_the_tear_down_after_closing_its_state(cli, workspace, tmp_path):
    """As the console script, a build with work to do leaves with os._exit once its output is flushed and
    its state file closed; with an atexit hook registered it takes the normal exit (the marker proves
    which one ran). Either way the next build is answered by the fast path, with nothing to recompute."""
    import json
    import subprocess
    import sys

    def history_of(root) -> list[dict]:
        lines = (root / ".promptgen" / "history.jsonl").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]

    def console(mode: str) -> tuple[dict, bool]:
        marker = tmp_path / f"marker-{mode}"
        res = subprocess.run([sys.executable, "-c", _CONSOLE, str(marker), str(workspace), mode],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        assert not list((workspace / ".promptgen").glob("state.db-*"))  # no journal left: committed
        return json.loads(res.stdout), marker.exists()

    cold = build(cli, workspace)
    execution = workspace / EXEC_32
    for n, mode in enumerate(("quick", "atexit")):  # edit builds: no worker pool (it registers atexit hooks)
        execution.write_text(execution.read_text(encoding="utf-8") + f"\n- note {n}\n", encoding="utf-8")
        edit, torn_down = console(mode)
        assert torn_down == (mode == "atexit")
        assert 0 < sum(totals(edit)[1:]) < cold["nodes_total"]
    again = build(cli, workspace)
    assert sum(totals(again)[1:]) == 0 and history_of(workspace)[-1]["fast_path"]


def test_closed_standard_streams_lose_the_output_not_the_run(workspace):
    """`promptgen build >&- 2>&- <&-`: Python starts with `sys.stdout` None; the command still builds
    (in-process or through a head start), exits 0 and prints no traceback anywhere."""
    import subprocess
    import sys

    for mode in ("0", "1"):
        env = {**os.environ, "PROMPTGEN_DAEMON": "0", "PROMPTGEN_HEAD_START": mode}
        for args, code in ((["build"], 0), (["build"], 0), (["status"], 0)):  # cold, no-op, a reader
            closed = "import os, sys; os.close(0); os.close(1); os.execv(sys.executable, sys.argv[1:])"
            proc = subprocess.run([sys.executable, "-c", closed, sys.executable, "-m", "promptgen", *args],
                                  cwd=workspace, env=env, stderr=subprocess.PIPE, text=True, timeout=120)
            assert (proc.returncode, proc.stderr) == (code, ""), (mode, args)
        assert (workspace / ".promptgen" / "manifest.bin").exists()
        assert json.loads((workspace / ".promptgen" / "history.jsonl").read_text().splitlines()[-1])
        import shutil

        shutil.rmtree(workspace / ".promptgen")

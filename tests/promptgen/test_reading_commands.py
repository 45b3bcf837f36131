"""status / next / ready through the CLI: shapes, plan references, errors, cached answers."""
from __future__ import annotations

import json


def test_status_json_shape_and_fast_path_agree(cli, workspace, expected):
    first = cli("status", "--root", str(workspace), "--json")  # never built: builds first
    assert first.code == 0
    doc = first.json()
    second = cli("status", "--root", str(workspace), "--json").json()  # served from the manifest
    assert second == doc
    by_name = {p["name"]: p for p in doc["plans"]}
    for plan in expected["plans"]:
        got = by_name[plan["name"]]
        assert got["path"] == plan["plan_file"]
        assert [a["id"] for a in got["achievements"]] == [a["id"] for a in plan["achievements"]]
        for want, have in zip(plan["achievements"], got["achievements"]):
            assert (have["state"], have["action"], have["target"]) == (want["state"], want["action"], want["target"])
        assert got["next"] == plan["next_achievement"] and got["complete"] == plan["complete"]
    for d in doc["diagnostics"]:
        assert {"code", "severity", "path", "line", "achievement", "message"} <= set(d)


def test_status_of_one_plan_by_name_path_or_folder(cli, workspace):
    by_name = cli("status", "ORBIT-SYNC", "--root", str(workspace), "--json").json()
    by_file = cli("status", "plans/ORBIT-SYNC/PLAN_ORBIT-SYNC.md", "--root", str(workspace), "--json").json()
    by_dir = cli("status", str(workspace / "plans" / "ORBIT-SYNC"), "--root", str(workspace), "--json").json()
    assert [p["name"] for p in by_name["plans"]] == ["ORBIT-SYNC"]
    assert by_name == by_file == by_dir
    assert all(d["path"].startswith(("plans/ORBIT-SYNC/", "archive/")) or "ORBIT" in d["path"]
               for d in by_name["diagnostics"])


def test_status_human_table(cli, workspace):
    res = cli("status", "--root", str(workspace))
    assert res.code == 0 and "ORBIT-SYNC" in res.out and "LANTERN-INDEX" in res.out
    one = cli("status", "LANTERN-INDEX", "--root", str(workspace))
    assert one.code == 0 and "1.10" in one.out and "next" in one.out


def test_unknown_plan_lists_valid_ones(cli, workspace):
    res = cli("next", "NOPE", "--root", str(workspace))
    assert res.code == 2
    assert "unknown plan" in res.err and "ORBIT-SYNC" in res.err and "CINDER-FORGE" in res.err


def test_next_prompt_for_the_next_achievement(cli, workspace):
    res = cli("next", "ORBIT-SYNC", "--root", str(workspace), "--json")
    assert res.code == 0
    doc = res.json()
    assert (doc["plan"], doc["achievement"], doc["state"], doc["action"]) == ("ORBIT-SYNC", "2.1", "executions_done", "review")
    assert "plans/ORBIT-SYNC/execution/feedbacks/" in doc["prompt"]
    plain = cli("next", "plans/ORBIT-SYNC", "--root", str(workspace))
    assert plain.code == 0 and plain.out.strip() == doc["prompt"].strip()


def test_next_named_achievement_and_queries(cli, workspace, expected):
    for q in expected["queries"]:
        res = cli("next", q["plan"], "--achievement", q["achievement"], "--root", str(workspace), "--json")
        if "error" in q["expect"]:
            assert res.code == 2, q
            assert q["expect"]["error"] in res.err
            assert res.out == ""
        else:
            assert res.code == 0, (q, res.err)
            doc = res.json()
            assert doc["state"] == q["expect"]["state"] and doc["action"] == q["expect"]["action"], q


def test_next_on_terminal_and_empty_plans(cli, workspace):
    approved = cli("next", "ORBIT-SYNC", "-a", "0.2", "--root", str(workspace), "--json").json()
    assert approved["state"] == "approved" and approved["action"] is None
    assert "APPROVED_02.md" in approved["prompt"]
    empty = cli("next", "EMBER-NOTES", "--root", str(workspace), "--json")
    assert empty.code == 0
    doc = empty.json()
    assert doc["achievement"] is None and "no-achievements" in doc["prompt"]


def test_ready_waves(cli, workspace):
    doc = cli("ready", "--root", str(workspace), "--json").json()
    orbit = next(p for p in doc["plans"] if p["name"] == "ORBIT-SYNC")
    assert orbit["ready"] == ["1.2", "2.1"]
    assert orbit["waves"] == [["1.2", "2.1"], ["2.2", "3.1", "3.2"]]
    one = cli("ready", "ORBIT-SYNC", "--root", str(workspace), "--json").json()
    assert [p["name"] for p in one["plans"]] == ["ORBIT-SYNC"]
    human = cli("ready", "--root", str(workspace))
    assert human.code == 0 and "ready now: 1.2, 2.1" in human.out


def test_results_do_not_depend_on_cwd(cli, workspace, tmp_path):
    a = cli("status", "--root", str(workspace), "--json", cwd=str(tmp_path)).json()
    b = cli("status", "--root", ".", "--json", cwd=str(workspace)).json()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)

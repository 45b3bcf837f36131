"""The answers node: packed printable answers, equal to rendering them from the statuses, reused on edits."""
from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graph_cache.fs import RealFileSystem
from promptgen import answers, service
from promptgen.discover import discover
from promptgen.report import CheckReport, plan_entry, sort_diags, status_document

EXEC_21 = "plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_21_02_V2.md"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12)


@given(st.lists(json_values, max_size=8))
def test_pack_slices_back_every_part_and_stays_valid_json(values):
    parts = [json.dumps(v, ensure_ascii=False).encode() for v in values]
    packed = answers.pack(parts)
    assert answers.unpack(packed) == parts
    assert json.loads(packed) == [[len(p) for p in parts], *values]


@pytest.mark.parametrize("damage", [lambda d: d[:-1], lambda d: d[:len(d) // 2], lambda d: d.replace(b",", b";", 1),
                                    lambda d: b"[[-1]," + d[1:]])
def test_unpack_refuses_a_damaged_container(damage):
    packed = answers.pack([b'"abc"', b"[1,2]", b"{}"])
    with pytest.raises(ValueError):
        answers.unpack(damage(packed))


def _reference(outcome) -> dict:
    """The answers as the runner rendered them before the answers node existed: from every status and
    discovery's workspace-level diagnostics."""
    dumps = lambda o: json.dumps(o, ensure_ascii=False, separators=(",", ":")).encode()  # noqa: E731
    disc = discover(RealFileSystem(outcome.cfg.workspace_dir))
    statuses, diags, per_plan = outcome.statuses, [dict(d) for d in disc.workspace_diagnostics], {}
    for s in statuses:
        mine = s.get("model_diagnostics", []) + s.get("diagnostics", [])
        per_plan[s["info"]["name"]] = sort_diags(mine)
        diags.extend(mine)
    diagnostics = sort_diags(diags)
    doc = status_document(statuses, diagnostics)
    check = CheckReport([d for d in diagnostics if d["severity"] in ("error", "warning", "info")])
    return {"diagnostics_json": dumps(diagnostics), "status_json": dumps(doc),
            "status_by_plan": {p["name"]: dumps({"schema_version": 1, "plans": [p],
                                                 "diagnostics": per_plan[p["name"]]}) for p in doc["plans"]},
            "check_json": dumps(check.as_json()), "check_text": check.text().encode(),
            "check_exit": check.exit_code}


def test_answers_equal_rendering_them_from_every_status(workspace):
    outcome = service.build(str(workspace))
    disc = discover(RealFileSystem(outcome.cfg.workspace_dir))
    assert disc.workspace_diagnostics, "the fixture has workspace-level diagnostics"
    assert outcome.collected.answers.payload() == {**_reference(outcome), "diag_summary": outcome.diag_summary()}


def test_an_edit_that_changes_no_status_reuses_the_answers(workspace):
    service.build(str(workspace))
    path = workspace / EXEC_21
    path.write_text(path.read_text(encoding="utf-8") + "\n### Iteration note\n\n- more numbers.\n", encoding="utf-8")
    outcome = service.build(str(workspace))
    assert f"execution:{EXEC_21}" in outcome.counts.recomputed
    assert "answers:workspace" not in outcome.counts.recomputed
    assert outcome.result.decisions["answers:workspace"][0] == "hit"


def test_a_status_change_re_renders_the_answers(workspace):
    first = service.build(str(workspace))
    path = workspace / EXEC_21
    path.write_text(path.read_text(encoding="utf-8").replace("Complete", "In Progress", 1), encoding="utf-8")
    outcome = service.build(str(workspace))
    assert outcome.result.decisions["answers:workspace"][0] == "miss"
    fragments = {n for n in outcome.result.decisions if n.startswith("answer:")}
    assert len(fragments) == len(outcome.collected.names) > 1
    assert {n for n in outcome.counts.recomputed if n.startswith("answer:")} == {"answer:ORBIT-SYNC"}  # one plan re-rendered
    before = json.loads(first.collected.answers.by_plan["ORBIT-SYNC"])
    after = json.loads(outcome.collected.answers.by_plan["ORBIT-SYNC"])
    assert before != after
    assert outcome.collected.answers.payload() == {**_reference(outcome), "diag_summary": outcome.diag_summary()}


def test_fragments_assemble_to_the_rendering_of_every_status():
    """Plans given in name order whose paths sort differently, unicode, diagnostics in both lists."""
    def status(name: str, path: str, diags: list[dict]) -> dict:
        return {"info": {"name": name, "plan_file": path, "plan_dir": path.rsplit("/", 1)[0], "layout": "nested"},
                "title": f"Plan {name} – é", "achievements": [{"id": "1.1", "title": "x", "state": "approved"}],
                "next": None, "complete": True, "diagnostics": diags[:1], "model_diagnostics": diags[1:]}
    diag = lambda p, line, code: {"severity": "warning", "code": code, "path": p, "line": line, "message": "m"}  # noqa: E731
    statuses = [status("ALPHA", "z/PLAN_ALPHA.md", [diag("z/a.md", 3, "W1"), diag("z/a.md", 1, "W2")]),
                status("BETA", "a/PLAN_BETA.md", []), status("GAMMA", "m/PLAN_GAMMA.md", [diag("m/g.md", 2, "W1")])]
    workspace = [diag("x.md", 1, "W9")]
    packed = answers.assemble([answers.fragment(s) for s in statuses], workspace)
    dumps = lambda o: json.dumps(o, ensure_ascii=False, separators=(",", ":")).encode()  # noqa: E731
    parts = answers.unpack(packed)
    every = workspace + [d for s in statuses for d in s["diagnostics"] + s["model_diagnostics"]]
    assert parts[answers.FIELDS.index("status_json")] == dumps(status_document(statuses, every))
    assert parts[answers.FIELDS.index("names")] == dumps(["ALPHA", "BETA", "GAMMA"])
    assert parts[len(answers.FIELDS)] == dumps({"schema_version": 1, "plans": [plan_entry(statuses[0])],
                                                 "diagnostics": sort_diags(statuses[0]["diagnostics"] + statuses[0]["model_diagnostics"])})
    assert packed == answers.render(statuses, workspace)

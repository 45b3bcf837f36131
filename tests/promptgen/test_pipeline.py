"""The methodology graph in the engine: exact dirty closure on edits, template changes, layout params."""
from __future__ import annotations

import shutil

import pytest

from promptgen import prompts, service

EXEC_21 = "plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_21_02_V2.md"


def _deps(traces, node_id):
    return [k[5:] for k, _ in traces[node_id].inputs if k.startswith("node:")]


def _assert_exact_closure(outcome, changed_files: set[str]):
    """Recomputed = nodes reading a changed file, plus nodes with a dependency that missed: no more, no less."""
    result = outcome.result
    traces, decisions = result.traces, result.decisions
    recomputed = set(outcome.counts.recomputed)
    for node_id, (decision, _reason) in decisions.items():
        files = {k[5:] for k, _ in traces[node_id].inputs if k.startswith("file:")}
        upstream_missed = any(decisions.get(d, ("hit",))[0] == "miss" for d in _deps(traces, node_id))
        should = bool(files & changed_files) or upstream_missed
        assert (node_id in recomputed) == should, (node_id, decision)


def test_edit_recomputes_exactly_the_dirty_closure(workspace):
    service.build(str(workspace))
    path = workspace / EXEC_21
    path.write_text(path.read_text(encoding="utf-8").replace("Complete", "In Progress", 1), encoding="utf-8")
    outcome = service.build(str(workspace))
    _assert_exact_closure(outcome, {EXEC_21})
    assert f"execution:{EXEC_21}" in outcome.counts.recomputed
    assert all("ORBIT-SYNC" in n or n in ("summary:workspace", "answers:workspace") for n in outcome.counts.recomputed)


def test_touch_and_noop_are_all_hits(workspace):
    first = service.build(str(workspace))
    again = service.build(str(workspace))
    assert again.counts.recomputed == []
    assert again.counts.nodes_total == first.counts.nodes_total == again.counts.total("hit")


@pytest.fixture
def private_templates(tmp_path, monkeypatch):
    copy = tmp_path / "templates"
    shutil.copytree(prompts.TEMPLATES_DIR, copy)
    monkeypatch.setattr(prompts, "TEMPLATES_DIR", copy)
    return copy


def test_template_change_rerenders_exactly_its_prompts(workspace, private_templates):
    first = service.build(str(workspace))
    users = {n for n, t in first.result.traces.items() if "node:template:review" in dict(t.inputs)}
    assert users, "the fixture has achievements waiting for review"
    review = private_templates / "review.md"
    review.write_text(review.read_text(encoding="utf-8") + "\nReviewers: be kind.\n", encoding="utf-8")
    outcome = service.build(str(workspace))
    prompt_like = {n for n in outcome.counts.recomputed if n.startswith(("prompt:", "next:"))}
    assert prompt_like == users
    misses = {n for n, (d, _) in outcome.result.decisions.items() if d == "miss"}
    assert misses == users | {"template:review"}
    assert all(n.startswith("template:") for n in set(outcome.counts.recomputed) - prompt_like)


def test_plan_layout_change_invalidates_that_plan(workspace):
    service.build(str(workspace))
    # A second flat plan in plans/a_paused makes QUILL-MIGRATION's feedback folder ambiguous.
    (workspace / "plans/a_paused/PLAN_SPARE-PARTS.md").write_text(
        "# PLAN: Spare parts\n\n## Achievements\n\n- Achievement 0.1: Count bolts\n", encoding="utf-8")
    outcome = service.build(str(workspace))
    reason = outcome.result.decisions["model:QUILL-MIGRATION"][1]
    assert reason is not None and reason.code in ("input-changed", "dependency-changed")
    trace = outcome.result.traces["model:QUILL-MIGRATION"]
    assert any(k == "param:layout" for k, _ in trace.inputs)
    codes = {(d["code"], d["path"]) for d in outcome.diagnostics}
    assert ("ambiguous-feedback-dir", "plans/a_paused/PLAN_QUILL-MIGRATION.md") in codes
    assert "model:ORBIT-SYNC" not in outcome.counts.recomputed


def test_a_bug_in_one_plan_degrades_to_a_diagnostic(workspace, monkeypatch):
    from promptgen import workflow

    real = workflow.plan_status

    def flaky(model):
        if model.info.name == "LANTERN-INDEX":
            raise RuntimeError("boom")
        return real(model)

    monkeypatch.setenv("PROMPTGEN_STRICT", "0")
    monkeypatch.setattr(workflow, "plan_status", flaky)
    outcome = service.build(str(workspace))
    errors = [d for d in outcome.diagnostics if d["code"] == "internal-error"]
    assert [d["path"] for d in errors] == ["plans/LANTERN-INDEX/PLAN_LANTERN-INDEX.md"]
    assert "boom" in errors[0]["message"]
    others = {s["info"]["name"]: s for s in outcome.statuses}
    assert others["ORBIT-SYNC"]["next"] == "2.1" and others["LANTERN-INDEX"]["achievements"] == []


def test_cold_build_reads_back_no_status_and_each_template_once(workspace, monkeypatch):
    """Prompts keep the template texts for the whole build and status.json comes from the answers: a
    cold build reads back from the store only the outputs it had to drop (next, summary, answers, and
    a template before its first prompt)."""
    from collections import Counter

    from graph_cache.store import Store

    loads: Counter[str] = Counter()
    real = Store.load_output
    monkeypatch.setattr(Store, "load_output", lambda self, node_id: loads.update([node_id]) or real(self, node_id))
    outcome = service.build(str(workspace))
    plans = [n[len("status:"):] for n in outcome.result.decisions if n.startswith("status:")]
    templates = {n for n in outcome.result.decisions if n.startswith("template:")}
    assert len(plans) > 1 and templates
    assert set(loads) <= {f"next:{p}" for p in plans} | templates | {"summary:workspace", "answers:workspace"}
    assert max(loads.values()) == 1

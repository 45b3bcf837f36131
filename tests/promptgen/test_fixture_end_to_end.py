"""Discovery + parsers + resolution + workflow over the fixture workspace, compared with expected.json.

Compares what /work/shared/tools/check_fixture.py compares (ids and order, titles, states, actions,
targets, next, complete, and the error/warning multiset on severity, code, file, achievement where both
name one, and the invalid-parallel-json detail), plus layout fields, attached files, handoff pointer,
next_reason, the parallel blocks and the single-achievement queries. Reads only tests/data.
"""
import json
import os
from collections import defaultdict

import pytest

from graph_cache.fs import RealFileSystem
from promptgen import resolve, workflow
from promptgen.discover import discover
from promptgen.documents import Diagnostic
from fixture_match import match

parse = pytest.importorskip("promptgen.parse")

DATA = os.path.join(os.path.dirname(__file__), "..", "data")
ROOT = os.path.join(DATA, "methodology-workspace")
with open(os.path.join(DATA, "expected.json"), encoding="utf-8") as fh:
    EXPECTED = json.load(fh)


def build(root: str = ROOT):
    """Run the whole derivation; returns (discovery, {name: (model, status)})."""
    fs = RealFileSystem(root)
    disc = discover(fs)
    out = {}
    for entry in disc.plans:
        docs = defaultdict(list)
        for ref in entry.documents():
            kind, fields = ref.parse_args(entry.name)
            docs[ref.kind].append(parse.parse_document(kind, fs.read_bytes(ref.path), ref.path, **fields))
        subplans = [d for d in docs["subplan"] if not d.archived]
        archived = [d for d in docs["subplan"] if d.archived]
        model = resolve.resolve_plan(resolve.plan_info(entry), docs["plan"][0], subplans, archived,
                                     docs["execution"], docs["feedback"],
                                     docs["parallel"][0] if docs["parallel"] else None,
                                     discovery_diagnostics=entry.diagnostics)
        out[entry.name] = (model, workflow.plan_status(model))
    return disc, out


@pytest.fixture(scope="module")
def result():
    return build()


def as_dict(d) -> dict:
    return d.model_dump() if isinstance(d, Diagnostic) else dict(d)


def plan_diagnostics(model, status) -> list[dict]:
    return [as_dict(d) for d in (*model.diagnostics, *status.diagnostics)]


def test_same_plans(result):
    disc, plans = result
    assert sorted(plans) == sorted(p["name"] for p in EXPECTED["plans"])
    not_plans = {n["file"] for n in EXPECTED["not_plans"]}
    assert not not_plans & {e.plan_file for e in disc.plans}


@pytest.mark.parametrize("want", EXPECTED["plans"], ids=lambda p: p["name"])
def test_plan(result, want):
    _, plans = result
    model, status = plans[want["name"]]
    info = status.info
    assert (info.plan_file, info.plan_dir, info.layout, info.category) == (
        want["plan_file"], want["plan_dir"], want["layout"], want["category"])
    assert status.title == want["title"]
    assert [a.id for a in status.achievements] == [a["id"] for a in want["achievements"]]
    for got, exp in zip(status.achievements, want["achievements"]):
        fields = ("id", "code", "title", "state", "action", "target", "subplan")
        assert {f: getattr(got, f) for f in fields} == {f: exp[f] for f in fields}
        assert list(got.executions) == exp["executions"]
        assert list(got.feedback) == exp["feedback"]
        if "title_length" in exp:
            assert len(got.title) == exp["title_length"]
    assert status.handoff_pointer == want["handoff_pointer"]
    assert (status.next, status.next_reason, status.complete) == (
        want["next_achievement"], want["next_reason"], want["complete"])


@pytest.mark.parametrize("want", [p for p in EXPECTED["plans"] if p["parallel"]], ids=lambda p: p["name"])
def test_parallel(result, want):
    _, plans = result
    report = plans[want["name"]][1].parallel
    exp = want["parallel"]
    assert report is not None
    assert (report.file, report.valid, report.parallelization_level) == (
        exp["file"], exp["valid"], exp["parallelization_level"])
    assert report.dependency_levels == exp["dependency_levels"]
    assert (None if report.waves is None else [list(w) for w in report.waves]) == exp["waves"]
    if exp["valid"]:
        status = plans[want["name"]][1]
        assert [list(w) for w in workflow.ready(status)] == exp["waves"]


def test_plans_without_parallel(result):
    _, plans = result
    for want in EXPECTED["plans"]:
        if want["parallel"] is None:
            assert plans[want["name"]][1].parallel is None


@pytest.mark.parametrize("want", EXPECTED["plans"], ids=lambda p: p["name"])
def test_plan_diagnostics(result, want):
    _, plans = result
    assert match(plan_diagnostics(*plans[want["name"]]), want["diagnostics"]) == []


def test_workspace_diagnostics(result):
    disc, _ = result
    assert match(disc.workspace_diagnostics, EXPECTED["workspace_diagnostics"]) == []


def test_all_diagnostics_like_check_fixture(result):
    disc, plans = result
    got = list(disc.workspace_diagnostics) + [d for m, s in plans.values() for d in plan_diagnostics(m, s)]
    want = [d for p in EXPECTED["plans"] for d in p["diagnostics"]] + EXPECTED["workspace_diagnostics"]
    assert match(got, want) == []


def test_discovery_diagnostics_cover_plan_ones(result):
    """`Discovery.diagnostics` = every plan's discovery diagnostics + the workspace ones."""
    disc, _ = result
    per_plan = [d for e in disc.plans for d in e.diagnostics]
    assert sorted(map(repr, disc.diagnostics)) == sorted(map(repr, per_plan + disc.workspace_diagnostics))


@pytest.mark.parametrize("query", EXPECTED["queries"], ids=lambda q: f"{q['plan']}-{q['achievement']}")
def test_queries(result, query):
    _, plans = result
    got = workflow.lookup(plans[query["plan"]][1], query["achievement"])
    if "error" in query["expect"]:
        assert isinstance(got, Diagnostic)
        assert (got.code, got.severity, got.path) == (query["expect"]["error"], "error",
                                                      plans[query["plan"]][1].info.plan_file)
    else:
        assert (got.state, got.action) == (query["expect"]["state"], query["expect"]["action"])


def test_ignored_files_change_nothing(result):
    _, plans = result
    attached = {p for _, s in plans.values() for a in s.achievements
                for p in (a.subplan, *a.executions, *a.feedback) if p}
    for item in EXPECTED["ignored_files"]:
        assert item["file"] not in attached


def test_result_does_not_depend_on_cwd(result, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, again = build(os.path.abspath(ROOT))
    _, plans = result
    for name, (model, status) in plans.items():
        assert again[name][1] == status and again[name][0] == model


def test_portfolio(result):
    _, plans = result
    rows = workflow.portfolio(s for _, s in plans.values())
    by_name = {r["name"]: r for r in rows}
    assert [r["name"] for r in rows] == sorted(plans)
    assert by_name["ORBIT-SYNC"]["approved"] == 3 and by_name["ORBIT-SYNC"]["skipped"] == 1
    assert by_name["ORBIT-SYNC"]["total"] == 9 and by_name["ORBIT-SYNC"]["next"] == "2.1"
    assert by_name["EMBER-NOTES"]["total"] == 0 and not by_name["EMBER-NOTES"]["complete"]

"""`promptgen graph [--format dot|mermaid|json] [PLAN]`: each export, the per-plan filter, usage errors."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "methodology-workspace"
PLANS = ("CINDER-FORGE", "EMBER-NOTES", "HARBOR-LEDGER", "LANTERN-INDEX", "ORBIT-SYNC", "QUILL-MIGRATION")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """The fixture workspace (it has error diagnostics: graph must still exit 0), built once."""
    from promptgen import service

    path = tmp_path_factory.mktemp("graph") / "ws"
    shutil.copytree(FIXTURE, path)
    service.build(str(path))
    return path


def graph(cli, root: Path, *args: str) -> str:
    res = cli("graph", "--root", str(root), *args)
    assert res.code == 0, res.err
    return res.out


@pytest.fixture(scope="module")
def full_json(root) -> dict:
    proc = subprocess.run([sys.executable, "-m", "promptgen", "graph", "--root", str(root), "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_json_is_node_link(full_json):
    ids = {n["id"] for n in full_json["nodes"]}
    assert full_json["directed"] is True
    assert all(link["source"] in ids and link["target"] in ids for link in full_json["links"])
    types = {n["type"] for n in full_json["nodes"]}
    assert {"plan", "subplan", "execution", "feedback", "parallel", "model", "status", "prompt", "next",
            "template", "summary"} <= types
    for plan in PLANS:
        assert f"model:{plan}" in ids and f"status:{plan}" in ids
    assert {"source": "plan:plans/ORBIT-SYNC/PLAN_ORBIT-SYNC.md", "target": "model:ORBIT-SYNC"} in [
        {"source": link["source"], "target": link["target"]} for link in full_json["links"]]
    assert any(link["child"] and link["source"] == "status:ORBIT-SYNC" and link["target"].startswith("prompt:")
               for link in full_json["links"])


def test_dot(cli, root, full_json):
    out = graph(cli, root)  # dot is the default format
    assert out == graph(cli, root, "--format", "dot")
    assert out.startswith("digraph")
    assert out.rstrip().endswith("}")
    edges = re.findall(r'^  "([^"]+)" -> "([^"]+)"', out, flags=re.M)
    assert len(edges) == len(full_json["links"])
    assert ("plan:plans/ORBIT-SYNC/PLAN_ORBIT-SYNC.md", "model:ORBIT-SYNC") in edges
    for node in full_json["nodes"]:
        assert f'"{node["id"]}"' in out


def test_mermaid(cli, root, full_json):
    out = graph(cli, root, "--format", "mermaid")
    first = out.splitlines()[0]
    assert first.startswith(("graph", "flowchart"))
    arrows = re.findall(r"^  (n\d+) (-->|-\.->) (n\d+)$", out, flags=re.M)
    assert len(arrows) == len(full_json["links"])
    labels = dict(re.findall(r'^  (n\d+)\["([^"]*)"\]$', out, flags=re.M))
    assert set(labels.values()) == {n["id"] for n in full_json["nodes"]}
    assert all(a in labels and b in labels for a, _, b in arrows)


@pytest.mark.parametrize("ref", ["ORBIT-SYNC", "plans/ORBIT-SYNC/PLAN_ORBIT-SYNC.md", "plans/ORBIT-SYNC"])
def test_one_plan(cli, root, ref):
    doc = json.loads(graph(cli, root, ref, "--format", "json"))
    ids = {n["id"] for n in doc["nodes"]}
    assert {"plan:plans/ORBIT-SYNC/PLAN_ORBIT-SYNC.md", "model:ORBIT-SYNC", "status:ORBIT-SYNC",
            "next:ORBIT-SYNC", "parallel:plans/ORBIT-SYNC/parallel.json", "prompt:ORBIT-SYNC/2.1"} <= ids
    for node in ids:
        assert "ORBIT-SYNC" in node or node.startswith("template:"), node
    assert all(link["source"] in ids and link["target"] in ids for link in doc["links"])


def test_one_plan_in_every_format(cli, root):
    dot = graph(cli, root, "LANTERN-INDEX")
    assert dot.startswith("digraph") and "->" in dot and "ORBIT-SYNC" not in dot
    mermaid = graph(cli, root, "LANTERN-INDEX", "--format", "mermaid")
    assert mermaid.startswith(("graph", "flowchart")) and "ORBIT-SYNC" not in mermaid


@pytest.mark.parametrize("args", [("--format", "png"), ("NO-SUCH-PLAN",), ("--bogus",)])
def test_usage_errors(cli, root, args):
    res = cli("graph", "--root", str(root), *args)
    assert res.code == 2, (res.out, res.err)
    assert res.out == "" and res.err.startswith("promptgen: ")

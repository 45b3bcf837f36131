"""Graph views and exports, plus import hygiene of the whole package."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx

from graph_cache.graph import dependents, edges, to_dot, to_json, to_mermaid, to_networkx
from graph_cache.model import NodeSpec, Trace, file_input, node_input

REPO = Path(__file__).resolve().parents[2]


def t(node_id, deps=(), children=(), files=()):
    inputs = tuple(sorted([(file_input(f), "f") for f in files] + [(node_input(d), "o") for d in deps]))
    return Trace(node_id, node_id.split(":")[0], "v", inputs, "out",
                 tuple(NodeSpec(c, c.split(":")[0], (), (node_id,)) for c in children))


TRACES = {
    "src:a": t("src:a", files=("a.md",)),
    "len:a": t("len:a", deps=("src:a",)),
    "rep:r": t("rep:r", deps=("len:a", "src:a")),
    "idx:i": t("idx:i", children=("item:1", "item:2"), files=("i.txt",)),
    "item:1": t("item:1", deps=("idx:i",)),
    "item:2": t("item:2", deps=()),  # generated but does not read its parent
}


def test_edges_and_networkx():
    e = edges(TRACES)
    assert e[("src:a", "len:a")] == {"dep": True, "child": False}
    assert e[("idx:i", "item:1")] == {"dep": True, "child": True}
    assert e[("idx:i", "item:2")] == {"dep": False, "child": True}
    g = to_networkx(TRACES)
    assert isinstance(g, nx.DiGraph) and set(g.nodes) == set(TRACES)
    assert g.nodes["len:a"]["type"] == "len" and g.has_edge("src:a", "rep:r") and not g.has_edge("rep:r", "src:a")
    assert nx.is_directed_acyclic_graph(g)


def test_dependents():
    assert dependents(TRACES, "src:a") == {"len:a", "rep:r"}
    assert dependents(TRACES, "idx:i") == {"item:1", "item:2"}
    assert dependents(TRACES, "idx:i", include_children=False) == {"item:1"}
    assert dependents(TRACES, "rep:r") == set()


def test_dot_and_mermaid():
    dot = to_dot(TRACES)
    assert dot.startswith("digraph") and '"src:a" -> "len:a";' in dot
    assert '"idx:i" -> "item:2" [style=dashed];' in dot and dot == to_dot(dict(reversed(TRACES.items())))
    mm = to_mermaid(TRACES)
    lines = mm.splitlines()
    assert lines[0] == "graph LR" and any('["src:a"]' in ln for ln in lines)
    assert sum("-.->" in ln for ln in lines) == 1 and sum("-->" in ln for ln in lines) == 4


def test_json_node_link():
    data = json.loads(to_json(TRACES))
    assert {n["id"] for n in data["nodes"]} == set(TRACES)
    g = nx.node_link_graph(data, edges="links")
    assert set(g.edges) == set(to_networkx(TRACES).edges)


def test_no_heavy_imports_anywhere_in_graph_cache():
    modules = ["engine", "errors", "events", "fingerprint", "fs", "fs_memory", "graph", "lock", "manifest",
               "model", "scheduler", "store", "verify"]
    code = "import sys\n" + "".join(f"import graph_cache.{m}\n" for m in modules) + \
        "print(','.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(REPO))).stdout.strip().split(",")
    for heavy in ("pydantic", "networkx", "typer", "rich", "prometheus_client", "tomllib", "importlib.metadata"):
        assert heavy not in out, heavy


def _naive_edges(traces):
    """The original implementation of `edges` (tuple-keyed dict, sorted at the end)."""
    out = {}
    for nid in sorted(traces):
        tr = traces[nid]
        for key, _ in tr.inputs:
            if key.startswith("node:"):
                out.setdefault((key[len("node:"):], nid), {"dep": False, "child": False})["dep"] = True
        for c in tr.children:
            out.setdefault((nid, c.id), {"dep": False, "child": False})["child"] = True
    return dict(sorted(out.items()))


def _reference_json(traces):
    """The original `to_json`: json.dumps(indent=2, sort_keys=True) of the node-link document."""
    links = _naive_edges(traces)
    ids = set(traces)
    for a, b in links:
        ids.update((a, b))
    data = {"directed": True, "multigraph": False, "graph": {},
            "nodes": [{"id": n, "type": traces[n].type if n in traces else ""} for n in sorted(ids)],
            "links": [{"source": a, "target": b, **attrs} for (a, b), attrs in links.items()]}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


ODD = {
    'src:"q"\\\u00e9\U0001f4cb': t('src:"q"\\\u00e9\U0001f4cb', files=("a.md",)),
    "len:\n\t\x00": t("len:\n\t\x00", deps=('src:"q"\\\u00e9\U0001f4cb', "gone:x"), children=("kid:\u2028",)),
    "src:a": t("src:a", deps=("src:a-b", "src:a/b", "src:"), children=("src:a", "src:a0")),
    "src:a-b": t("src:a-b", children=("src:a",)),
}


def test_edges_match_naive_reference_in_order():
    for traces in (TRACES, {}, ODD):
        assert list(edges(traces).items()) == list(_naive_edges(traces).items())


def test_to_json_is_byte_identical_to_json_dumps():
    for traces in (TRACES, {}, {"solo:a": t("solo:a")}, ODD):
        assert to_json(traces) == _reference_json(traces)
    assert {"id": "kid:\u2028", "type": ""} in json.loads(to_json(ODD))["nodes"]

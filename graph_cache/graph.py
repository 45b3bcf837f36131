"""Graph views of a set of traces: networkx, transitive dependents, DOT / Mermaid / JSON exports.

Edges go from a node to the nodes that use it: `dep` edges (dependent reads its output) and `child` edges
(parent generated the child). networkx is imported lazily inside `to_networkx` only; the exports are pure.
"""
from __future__ import annotations

from json.encoder import encode_basestring_ascii as _encode_str
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from .model import NodeSpec, Trace

_NODE = "node:"


def _links_of_traces(traces: Mapping[str, Trace]) -> Iterator[tuple[str, Iterable[str], Iterable[str]]]:
    """(node, the nodes whose output it reads, the nodes it generated) of every trace."""
    for nid, t in traces.items():
        yield nid, (k[len(_NODE):] for k, _ in t.inputs if k.startswith(_NODE)), (c.id for c in t.children)


def _edge_list(traces: Mapping[str, Trace], links: Iterable[tuple[str, Iterable[str], Iterable[str]]] | None = None
               ) -> list[tuple[str, str, bool, bool]]:
    """`(source, target, dep, child)` sorted by (source, target), from the traces (or from `links`:
    (node, deps, children) triples).

    Grouped by source so that only strings are sorted (sorting (source, target) tuples compares them
    through the generic tuple comparison, several times slower on large graphs).
    """
    succ: dict[str, dict[str, int]] = {}  # source -> target -> 1 (dep) | 2 (child)
    for nid, deps, children in (_links_of_traces(traces) if links is None else links):
        for src in deps:
            d = succ.get(src)
            if d is None:
                d = succ[src] = {}
            d[nid] = d.get(nid, 0) | 1
        d = None
        for c in children:
            if d is None:
                d = succ.get(nid)
                if d is None:
                    d = succ[nid] = {}
            d[c] = d.get(c, 0) | 2
    out = []
    for a in sorted(succ):
        d = succ[a]
        for b in sorted(d):
            bits = d[b]
            out.append((a, b, bits & 1 == 1, bits & 2 == 2))
    return out


def edges(traces: Mapping[str, Trace]) -> dict[tuple[str, str], dict[str, bool]]:
    """{(source, target): {"dep": bool, "child": bool}}, deterministic order."""
    return {(a, b): {"dep": dep, "child": child} for a, b, dep, child in _edge_list(traces)}


def to_networkx(traces: Mapping[str, Trace]) -> Any:
    """nx.DiGraph: node attrs type/decision/run_id, edge attrs dep/child (edges dep -> dependent)."""
    import networkx as nx

    g = nx.DiGraph()
    for nid in sorted(traces):
        t = traces[nid]
        g.add_node(nid, type=t.type, decision=t.decision, run_id=t.run_id)
    for (a, b), attrs in edges(traces).items():
        g.add_edge(a, b, **attrs)
    return g


def dependents(traces: Mapping[str, Trace], node_id: str, *, include_children: bool = True) -> set[str]:
    """Every node transitively downstream of `node_id` (excluding itself)."""
    succ: dict[str, list[str]] = {}
    for (a, b), attrs in edges(traces).items():
        if attrs["dep"] or (include_children and attrs["child"]):
            succ.setdefault(a, []).append(b)
    seen: set[str] = set()
    stack = [node_id]
    while stack:
        for n in succ.get(stack.pop(), ()):
            if n not in seen and n != node_id:
                seen.add(n)
                stack.append(n)
    return seen


def _nodes(traces: Mapping[str, Trace]) -> list[tuple[str, str]]:
    ids = set(traces)
    for a, b in edges(traces):
        ids.update((a, b))
    return [(n, traces[n].type if n in traces else "") for n in sorted(ids)]


def to_dot(traces: Mapping[str, Trace]) -> str:
    """Graphviz DOT; child-only edges are dashed."""
    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["digraph graph_cache {", "  rankdir=LR;", "  node [shape=box];"]
    for nid, typ in _nodes(traces):
        lines.append(f"  {q(nid)} [label={q(nid)}, type={q(typ)}];")
    for (a, b), attrs in edges(traces).items():
        style = "" if attrs["dep"] else " [style=dashed]"
        lines.append(f"  {q(a)} -> {q(b)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(traces: Mapping[str, Trace]) -> str:
    """Mermaid flowchart; node ids are n0, n1, ... labelled with the real ids; child-only edges dotted."""
    nodes = _nodes(traces)
    index = {nid: f"n{i}" for i, (nid, _) in enumerate(nodes)}
    lines = ["graph LR"]
    for nid, _ in nodes:
        label = nid.replace('"', "#quot;")
        lines.append(f'  {index[nid]}["{label}"]')
    for (a, b), attrs in edges(traces).items():
        arrow = "-->" if attrs["dep"] else "-.->"
        lines.append(f"  {index[a]} {arrow} {index[b]}")
    return "\n".join(lines) + "\n"


def _json_document(traces: Mapping[str, Trace]) -> dict:
    """The node-link document that `to_json` prints (reference layout; `to_json` writes it directly)."""
    return {
        "directed": True,
        "multigraph": False,
        "graph": {},
        "nodes": [{"id": nid, "type": typ} for nid, typ in _nodes(traces)],
        "links": [{"source": a, "target": b, **attrs} for (a, b), attrs in edges(traces).items()],
    }


def to_json(traces: Mapping[str, Trace]) -> str:
    """networkx node-link JSON (`links` key), readable with nx.node_link_graph(data, edges="links").

    Byte for byte `json.dumps(_json_document(traces), indent=2, sort_keys=True) + "\\n"`, written
    directly: `indent` makes `json` use its pure-Python encoder, several times slower on large graphs.
    Only the strings go through the (C) string encoder.
    """
    return _json(_edge_list(traces), set(traces), lambda n: traces[n].type)


def to_json_of(specs: Mapping[str, NodeSpec], children: Mapping[str, Sequence[str]]) -> str:
    """`to_json` of a build's traces, from its specs (node types, deps: a trace's node inputs are its
    spec's deps) and the children of its generators: no trace is decoded (`TraceView.children`)."""
    return "".join(json_chunks_of(specs, children))


def json_chunks_of(specs: Mapping[str, NodeSpec], children: Mapping[str, Sequence[str]]) -> Iterator[str]:
    """`to_json_of` in consecutive pieces of at most `CHUNK` nodes or edges: a caller that writes them
    out never holds the whole document (60 MB at 100k documents) nor a string per edge."""
    types = {nid: spec.type for nid, spec in specs.items()}
    links = ((nid, spec.deps, children.get(nid, ())) for nid, spec in specs.items())
    return _json_chunks(_edge_list({}, links), set(types), types.__getitem__)


def _json(links: list[tuple[str, str, bool, bool]], ids: set[str], type_of: Callable[[str], str]) -> str:
    return "".join(_json_chunks(links, ids, type_of))


CHUNK = 4096  # nodes or edges per piece of `json_chunks_of`


def _json_chunks(links: list[tuple[str, str, bool, bool]], ids: set[str], type_of: Callable[[str], str]
                 ) -> Iterator[str]:
    known = set(ids)
    for a, b, _dep, _child in links:
        ids.add(a)
        ids.add(b)
    q = _encode_str
    flag = ("false", "true")

    def edge(a: str, b: str, dep: bool, child: bool) -> str:
        return (f'    {{\n      "child": {flag[child]},\n      "dep": {flag[dep]},\n'
                f'      "source": {q(a)},\n      "target": {q(b)}\n    }}')

    def node(n: str) -> str:
        return f'    {{\n      "id": {q(n)},\n      "type": {q(type_of(n) if n in known else "")}\n    }}'

    yield '{\n  "directed": true,\n  "graph": {},\n  "links": '
    yield from _array((edge(*link) for link in links[i:i + CHUNK]) for i in range(0, len(links), CHUNK))
    yield ',\n  "multigraph": false,\n  "nodes": '
    ordered = sorted(ids)
    yield from _array((node(n) for n in ordered[i:i + CHUNK]) for i in range(0, len(ordered), CHUNK))
    yield "\n}\n"


def _array(batches: Iterable[Iterable[str]]) -> Iterator[str]:
    """The pieces of an indented JSON array whose items come in batches (`[]` when there are none)."""
    first = True
    for batch in batches:
        yield ("[\n" if first else ",\n") + ",\n".join(batch)
        first = False
    yield "[]" if first else "\n  ]"

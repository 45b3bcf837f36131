"""Islands: the units of work the parallel prefetch hands to workers (see prefetch.py).

An island is a group of root nodes of `Rule.parallel` rules connected by deps (in promptgen: one plan's
documents, model and status). Islands are listed in the order in which the build loop enters them.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from .model import NodeSpec, Rule


def islands(rules: Mapping[str, Rule], roots: Sequence[NodeSpec]) -> list[list[NodeSpec]]:
    """Roots of parallel rules grouped by deps among them (union-find), each in root order; islands in the
    order in which the loop reaches them (the scheduler issues ready nodes in root order)."""
    specs = {}
    for spec in roots:
        rule = rules.get(spec.type)
        if rule is not None and rule.parallel:
            specs.setdefault(spec.id, spec)
    parent = {nid: nid for nid in specs}

    def find(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for nid, spec in specs.items():
        for d in spec.deps:
            if d in specs:
                parent[find(nid)] = find(d)
    groups: dict[str, list[NodeSpec]] = {}
    first: dict[str, int] = {}  # island -> position of its first deps-free root: where the loop enters it
    for i, (nid, spec) in enumerate(specs.items()):
        top = find(nid)
        groups.setdefault(top, []).append(spec)
        if not spec.deps:
            first.setdefault(top, i)
    return [groups[top] for top in sorted(groups, key=lambda t: first.get(t, len(specs)))]

"""Root node specs of a build, from discovery: document nodes, per-plan models, statuses and answer
fragments, templates, the summary and the answers."""
from __future__ import annotations

import json
from typing import Sequence

from graph_cache.model import NodeSpec
from graph_cache.spec_rows import SpecRows
from promptgen.answers import ANSWERS_ID, FRAGMENT
from promptgen.pipeline import SUMMARY_ID, doc_id, plan_param
from promptgen.results import PlanInfo

# `json.dumps(value, sort_keys=True)` without a new encoder per call (one per document: 0.8 µs of 2.8)
_sorted_json = json.JSONEncoder(sort_keys=True).encode

NODE_KIND = {"plan": "plan", "subplan": "subplan", "execution": "execution", "feedback": "feedback",
             "parallel": "parallel"}


class GraphSpec:
    """The root nodes of a build and what discovery knew about the plans and files behind them."""

    def __init__(self, specs: Sequence[NodeSpec] | None = None, plan_infos: dict[str, PlanInfo] | None = None,
                 stats: dict | None = None, discovery_diags: dict[str, list] | None = None,
                 walk_notes: list | None = None) -> None:
        self.specs: Sequence[NodeSpec] = [] if specs is None else specs  # SpecRows once built or loaded
        self.plan_infos: dict[str, PlanInfo] = {} if plan_infos is None else plan_infos
        self.stats: dict = {} if stats is None else stats  # path -> StatSig of every scanned candidate file
        self.discovery_diags: dict[str, list] = {} if discovery_diags is None else discovery_diags  # per feature
        self.walk_notes: list = [] if walk_notes is None else walk_notes  # the walk's diagnostics, in order
        self.last_roots: SpecRows | None = None  # the last build's root specs, when these differ from them


def root_specs(disc) -> GraphSpec:
    """Every root node of the build; prompt nodes are generated later by `status:` nodes."""
    from promptgen.prompts import TEMPLATE_NAMES

    out = GraphSpec(stats=dict(disc.files))
    # Templates first, then plan by plan (documents, model, status): the scheduler ranks nodes in this
    # order, so a build finishes one plan (prompts included) before it parses the next one.
    specs = [NodeSpec("template:" + name, "template") for name in TEMPLATE_NAMES]
    seen_docs: set[str] = set()
    fragments = []  # `answer:<plan>` ids, in plan order
    for entry in disc.plans:
        info = PlanInfo(**entry.info())
        out.plan_infos[entry.name] = info
        deps = []
        for ref in entry.documents():
            node = doc_id(NODE_KIND[ref.kind], ref.path)
            deps.append(node)
            if node not in seen_docs:
                seen_docs.add(node)
                parse_args = ref.parse_args(entry.name)
                # The parse arguments (e.g. the owning plan's feature for parallel.json) are params
                # (the rule reads them there): the same bytes parsed for another owner must not hit.
                specs.append(NodeSpec(node, NODE_KIND[ref.kind], files=(ref.path,),
                                      params=(("parse", _sorted_json(parse_args)),)))
        specs.append(NodeSpec("model:" + entry.name, "model", deps=tuple(deps),
                                  params=(("layout", plan_param(info)),
                                          ("discovery", _sorted_json(entry.diagnostics)))))
        out.discovery_diags[entry.name] = entry.diagnostics
        status = "status:" + entry.name
        specs.append(NodeSpec(status, "status", deps=("model:" + entry.name,)))
        specs.append(NodeSpec(FRAGMENT + entry.name, "answer", deps=(status,)))
        fragments.append(FRAGMENT + entry.name)
    specs.append(NodeSpec(SUMMARY_ID, "summary", deps=tuple(fragments)))
    # The printable answers (answers.py): every plan's fragment in plan-name order, and the workspace
    # diagnostics.
    workspace = _sorted_json(list(disc.workspace_diagnostics))
    specs.append(NodeSpec(ANSWERS_ID, "answers", deps=tuple(sorted(fragments)), params=(("workspace", workspace),)))
    out.specs = SpecRows(specs)
    return out

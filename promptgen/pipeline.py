"""Wires the methodology into graph_cache node types (the only place that knows both).

Node types and ids (keys are workspace-relative POSIX paths or feature names):

| type | id | inputs | output |
|------|----|--------|--------|
| plan, subplan, execution, feedback, parallel | `<type>:<path>` | the file | parsed document |
| template | `template:<name>` | packaged template (rule version) | template text |
| model | `model:<F>` | the plan's document nodes + layout and discovery diagnostics (params) | PlanModel |
| status | `status:<F>` | `model:<F>` | PlanStatus (states, next, waves); generates prompt nodes |
| prompt | `prompt:<F>/<id>` | model, status, template | prompt text for one achievement |
| next | `next:<F>` | model, status, template | the prompt for the plan's next step |
| summary | `summary:workspace` | every `status:<F>` | portfolio rows + summary.md |
| answers | `answers:workspace` | every `status:<F>` + workspace diagnostics (param) | printable answers (answers.py) |
"""
from __future__ import annotations

import json
from typing import Any

from graph_cache.model import NodeSpec, Rule
from promptgen import __version__
from promptgen.documents import (
    ExecutionDoc,
    FeedbackDoc,
    ParallelDoc,
    PlanDoc,
    SubplanDoc,
)
from promptgen.fallbacks import guard, model_fallback, prompt_fallback, status_fallback
from promptgen.results import PlanInfo, PlanModel, PlanStatus

DOC_TYPES = ("plan", "subplan", "execution", "feedback", "parallel")
DOC_MODELS = {"plan": PlanDoc, "subplan": SubplanDoc, "execution": ExecutionDoc,
              "feedback": FeedbackDoc, "parallel": ParallelDoc}
SUMMARY_ID = "summary:workspace"
# Manual part of each rule version; the digest of the rule's source files is appended (codeversion.py),
# so a code change can never leave stale traces trusted.
RULE_VERSIONS = {"doc": "1", "model": "1", "status": "2", "prompt": "1", "summary": "1", "answers": "1"}


def doc_id(kind: str, path: str) -> str:
    return f"{kind}:{path}"


class ModelCache:
    """Validated pydantic models of node outputs, memoised for one build (the few most recent ones).

    Outputs are stored as JSON bytes serialised by pydantic (`model_dump_json`) and validated back with
    `model_validate_json`: both run in pydantic-core, several times faster than a dict round trip.
    The build goes plan by plan, so a plan's model and status are reused by its prompts while they are
    recent; a bounded memo keeps memory flat on 100k-document workspaces (an evicted one is re-read)."""

    SIZE = 16

    def __init__(self) -> None:
        self._memo: dict[str, Any] = {}

    def get(self, ctx, node_id: str, cls, *, keep: bool = True):
        got = self._memo.get(node_id)
        if got is None:
            got = cls.model_validate_json(ctx.output_bytes(node_id))
            if keep:
                if len(self._memo) >= self.SIZE:
                    del self._memo[next(iter(self._memo))]  # oldest first
                self._memo[node_id] = got
        return got


def make_rules(size_cap: int, plan_infos: dict[str, PlanInfo], discovery_diags: dict[str, list]) -> dict[str, Rule]:
    """The rule set of one build; `plan_infos` and `discovery_diags` come from this run's discovery."""
    from promptgen import prompts, resolve, workflow
    from promptgen.parse import parse_document

    cache = ModelCache()
    # template name -> text, for the whole build: every plan's prompts read the same few templates, and
    # the engine drops a template's output whenever no pending prompt reads it (re-read from the store)
    templates: dict[str, str] = {}

    def compute_doc(spec: NodeSpec, ctx) -> Any:
        path = spec.key
        data, error = None, None
        try:
            data = ctx.read_file(path)
        except OSError as exc:
            error = exc
        kind, fields = json.loads(dict(spec.params)["parse"])  # graphspec.root_specs
        doc = parse_document(kind, data, path, read_error=error, size_cap=size_cap, **fields)
        return doc.model_dump_json().encode()

    def compute_model(spec: NodeSpec, ctx) -> Any:
        info = plan_infos[spec.key]
        docs: dict[str, list] = {t: [] for t in DOC_TYPES}
        for dep in spec.deps:
            kind = dep.split(":", 1)[0]
            docs[kind].append(cache.get(ctx, dep, DOC_MODELS[kind], keep=False))  # read once
        subplans = [d for d in docs["subplan"] if not d.archived]
        archived = [d for d in docs["subplan"] if d.archived]
        model = resolve.resolve_plan(info, docs["plan"][0], subplans, archived, docs["execution"],
                                     docs["feedback"], docs["parallel"][0] if docs["parallel"] else None,
                                     discovery_diagnostics=discovery_diags.get(spec.key, ()))
        return model.model_dump_json().encode()

    def compute_status(spec: NodeSpec, ctx) -> Any:
        model = cache.get(ctx, "model:" + spec.key, PlanModel)
        return workflow.plan_status(model).model_dump_json().encode()

    def status_children(spec: NodeSpec, output: Any) -> list[NodeSpec]:
        status = PlanStatus.model_validate(output)
        feature = spec.key
        base = ("model:" + feature, spec.id)
        kids = []
        for ach in status.achievements:
            tname = prompts.template_for(ach, status.complete)
            kids.append(NodeSpec(f"prompt:{feature}/{ach.id}", "prompt", deps=base + ("template:" + tname,)))
        nxt = next((a for a in status.achievements if a.id == status.next), None)
        if nxt is not None:
            tname = prompts.template_for(nxt, status.complete)
        else:
            tname = "plan_complete" if status.complete else "error"
        kids.append(NodeSpec(f"next:{feature}", "next", deps=base + ("template:" + tname,)))
        return kids

    def compute_prompt(spec: NodeSpec, ctx) -> Any:
        feature, _, ach = spec.key.partition("/")
        model = cache.get(ctx, "model:" + feature, PlanModel)
        status = cache.get(ctx, "status:" + feature, PlanStatus)
        template_id = spec.deps[-1]
        name = template_id.split(":", 1)[1]
        template = templates.get(name)
        if template is None:
            template = templates[name] = ctx.output_of(template_id)
        text = prompts.render_prompt(model, status, ach or None, template=template)
        return {"template": name, "text": text}

    def compute_template(spec: NodeSpec, ctx) -> Any:
        return prompts.template_text(spec.key)

    def compute_summary(spec: NodeSpec, ctx) -> Any:
        from promptgen import answers, summary

        return summary.summarize_plans(answers.extra_part(ctx.output_bytes(dep)) for dep in spec.deps)

    def compute_answer(spec: NodeSpec, ctx) -> Any:
        from promptgen import answers, summary

        data = ctx.output_bytes(spec.deps[0])
        return answers.fragment(json.loads(data), summary.plan_summary(PlanStatus.model_validate_json(data)))

    def compute_answers(spec: NodeSpec, ctx) -> Any:
        from promptgen import answers

        workspace = json.loads(dict(spec.params)["workspace"])
        return answers.assemble((ctx.output_bytes(dep) for dep in spec.deps), workspace)

    from promptgen.codeversion import code_version

    def version(family: str) -> str:
        return f"{RULE_VERSIONS[family]}:{code_version(family)}"

    doc_rule_version = version("doc")
    # parallel: deterministic and reading declared inputs only, so cold builds may compute each plan's
    # documents, model, status and prompts in worker processes (graph_cache/prefetch.py)
    rules = {t: Rule(t, doc_rule_version, compute_doc, parallel=True) for t in DOC_TYPES}
    rules["template"] = Rule("template", prompts.templates_version(), compute_template)
    rules["model"] = Rule("model", version("model"), guard(compute_model, model_fallback(plan_infos)),
                          parallel=True)
    rules["status"] = Rule("status", version("status"), guard(compute_status, status_fallback(plan_infos)),
                           status_children, parallel=True)
    rules["prompt"] = Rule("prompt", version("prompt"), guard(compute_prompt, prompt_fallback), parallel=True)
    rules["next"] = Rule("next", version("prompt"), guard(compute_prompt, prompt_fallback), parallel=True)
    rules["summary"] = Rule("summary", version("summary"), compute_summary)
    rules["answer"] = Rule("answer", version("answers"), compute_answer, parallel=True)
    rules["answers"] = Rule("answers", version("answers"), compute_answers)
    return rules


def global_version(engine_key: str) -> str:
    return f"promptgen {__version__}; {engine_key}"


def plan_param(info: PlanInfo) -> str:
    return json.dumps(info.model_dump(mode="json"), sort_keys=True)

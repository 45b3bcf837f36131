"""Answers to reading commands (status, next, ready, check, graph) from one build's outputs."""
from __future__ import annotations

import os
import re

from promptgen import errors, report
from promptgen.usertext import quote

ID_RE = re.compile(r"^\d+(?:\.\d+)+$")


class Results:
    def __init__(self, outcome) -> None:
        self.outcome = outcome
        self.cfg = outcome.cfg
        self.result = outcome.result
        self.statuses = outcome.statuses
        self.by_name = {s["info"]["name"]: s for s in self.statuses}

    # -- plan lookup -------------------------------------------------------------------------
    def find_plan(self, ref: str) -> dict:
        """A plan by feature name, PLAN file path or plan folder (absolute, cwd- or root-relative)."""
        if ref in self.by_name:
            return self.by_name[ref]
        candidates = {ref.strip().rstrip("/")}
        for base in (os.getcwd(), self.cfg.workspace_dir):
            full = os.path.normpath(os.path.join(base, ref))
            rel = os.path.relpath(full, self.cfg.workspace_dir)
            if not rel.startswith(".."):
                candidates.add(rel.replace(os.sep, "/"))
        for s in self.statuses:
            info = s["info"]
            if candidates & {info["plan_file"], info["plan_dir"] if info["layout"] == "nested" else None}:
                return s
        m = re.fullmatch(r"(?:.*/)?PLAN_([A-Z0-9][A-Z0-9-]*)\.md", ref.strip())
        if m and m.group(1) in self.by_name:
            return self.by_name[m.group(1)]
        names = ", ".join(sorted(self.by_name)) or "(none)"
        raise errors.UsageError(f"unknown plan {quote(ref)}; plans in {self.cfg.workspace}: {names}")

    # -- status / ready / check --------------------------------------------------------------
    def status_document(self, plan: str | None) -> dict:
        if plan is None:
            return report.status_document(self.statuses, self.outcome.diagnostics)
        s = self.find_plan(plan)
        entry = report.plan_entry(s)
        mine = self.outcome.plan_diagnostics(entry["name"])
        return {"schema_version": report.STATUS_SCHEMA, "plans": [entry], "diagnostics": report.sort_diags(mine)}

    def ready_document(self, plan: str | None) -> dict:
        chosen = self.statuses if plan is None else [self.find_plan(plan)]
        return report.ready_document(chosen)

    def check_report(self, strict: bool) -> report.CheckReport:
        return report.CheckReport(report.sort_diags(self.outcome.diagnostics), strict=strict,
                                  workspace_dir=self.cfg.workspace_dir)

    # -- next --------------------------------------------------------------------------------
    def next_prompt(self, plan: str, achievement: str | None) -> dict:
        s = self.find_plan(plan)
        feature = s["info"]["name"]
        by_id = {a["id"]: a for a in s["achievements"]}
        if achievement is None:
            text = self.result.output("next:" + feature)["text"]
            ach = by_id.get(s.get("next"))
        else:
            achievement = achievement.strip()
            if achievement not in by_id:
                valid = ", ".join(a["id"] for a in s["achievements"]) or "none (the plan declares no achievements)"
                shape = "" if ID_RE.match(achievement) else " (ids look like 2.1 or 3.5.1)"
                raise errors.UsageError(
                    f"unknown-achievement: {s['info']['plan_file']} declares no achievement {quote(achievement)}{shape}; "
                    f"declared: {valid}")
            ach = by_id[achievement]
            text = self.result.output(f"prompt:{feature}/{achievement}")["text"]
        return {"plan": feature, "path": s["info"]["plan_file"],
                "achievement": ach["id"] if ach else None,
                "state": ach["state"] if ach else None,
                "action": ach["action"] if ach else None,
                "target": ach["target"] if ach else None,
                "complete": bool(s.get("complete")), "prompt": text}

    # -- graph -------------------------------------------------------------------------------
    def graph_export(self, fmt: str, plan: str | None) -> str:
        from graph_cache import graph

        traces = self.result.traces
        if plan is not None:
            feature = self.find_plan(plan)["info"]["name"]
            keep = set()
            model = traces.get("model:" + feature)
            if model is not None:
                keep.update(k[5:] for k, _ in model.inputs if k.startswith("node:"))
            keep.update(n for n in traces if n in ("model:" + feature, "status:" + feature, "next:" + feature)
                        or n.startswith(f"prompt:{feature}/"))
            keep.update(k[5:] for n in list(keep) if n in traces
                        for k, _ in traces[n].inputs if k.startswith("node:template:"))
            traces = {n: t for n, t in traces.items() if n in keep}
        if fmt == "dot":
            return graph.to_dot(traces)
        if fmt == "mermaid":
            return graph.to_mermaid(traces)
        return graph.to_json(traces)

"""Build artifacts on disk: per-plan `status.json` and `next.md`, `summary.md`, `graph.json`.

Written to `.promptgen/artifacts/` (or `--out DIR`); a file is rewritten only when its content
changed, and artifacts of plans that disappeared are removed. Nothing is written outside that folder.
"""
from __future__ import annotations

import json
import os

from promptgen.config import Config


def artifacts_dir(cfg: Config, out_dir: str | None) -> str:
    base = out_dir if out_dir is not None else cfg.artifacts_dir
    return base if os.path.isabs(base) else os.path.normpath(os.path.join(cfg.root if out_dir is None else os.getcwd(), base))


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def write_if_changed(path: str, text: str) -> bool:
    """Write `text` atomically unless the file already holds exactly it; True when written."""
    data = text.encode("utf-8")
    try:
        with open(path, "rb") as fh:
            if fh.read() == data:
                return False
    except OSError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
    return True


def desired(result, collected) -> dict[str, str]:
    """Relative artifact path -> content, from this build's outputs."""
    from promptgen.report import plan_entry

    files: dict[str, str] = {}
    for status in collected.statuses:
        entry = plan_entry(status)
        feature = entry["name"]
        plan_diags = collected.plan_diagnostics.get(feature, [])
        files[f"plans/{feature}/status.json"] = _dumps({**entry, "diagnostics": plan_diags})
        nxt = result.output("next:" + feature)
        files[f"plans/{feature}/next.md"] = nxt["text"].rstrip("\n") + "\n"
    summary = result.output("summary:workspace")
    files["summary.md"] = summary["markdown"].rstrip("\n") + "\n\n" + diagnostics_markdown(collected.diagnostics)
    files["summary.json"] = _dumps({"plans": summary["rows"], "diagnostics": collected.diagnostics})
    files["graph.json"] = graph_document(result)
    return files


def graph_document(result) -> str:
    """The build graph, exactly what `promptgen graph --format json` prints (networkx node-link JSON)."""
    from graph_cache.graph import to_json

    return to_json(result.traces)


PLAN_FILES = ("status.json", "next.md")


def write_all(cfg: Config, out_dir: str | None, result, collected, store) -> list[str]:
    """Write changed artifacts, prune stale ones; return the relative paths written or removed."""
    base = artifacts_dir(cfg, out_dir)
    files = desired(result, collected)
    written = [rel for rel, text in sorted(files.items()) if write_if_changed(os.path.join(base, rel), text)]
    plans_dir = os.path.join(base, "plans")
    if os.path.isdir(plans_dir):
        live = {rel.split("/")[1] for rel in files if rel.startswith("plans/")}
        for name in sorted(os.listdir(plans_dir)):
            if name not in live and _remove_plan_artifacts(os.path.join(plans_dir, name)):
                written.append(f"plans/{name}/")
    return written


def _remove_plan_artifacts(folder: str) -> bool:
    """Remove a vanished plan's artifact files, then its folder if that left it empty.

    Only the files promptgen writes are removed: an `--out` folder that also holds other things (even
    a methodology `plans/` tree) loses nothing else. True when something was removed.
    """
    if os.path.islink(folder) or not os.path.isdir(folder):
        return False
    removed = False
    for name in PLAN_FILES:
        try:
            os.unlink(os.path.join(folder, name))
            removed = True
        except OSError:
            pass
    try:
        os.rmdir(folder)
        removed = True
    except OSError:
        pass  # not empty: it holds files promptgen did not write
    return removed


def diagnostics_markdown(diags: list[dict]) -> str:
    errors = sum(1 for d in diags if d["severity"] == "error")
    warnings = sum(1 for d in diags if d["severity"] == "warning")
    lines = ["## Diagnostics", "", f"{errors} error(s), {warnings} warning(s)", ""]
    for d in diags:
        if d["severity"] in ("error", "warning"):
            where = d["path"] + (f":{d['line']}" if d["line"] else "")
            lines.append(f"- {d['severity']} `{d['code']}` `{where}`: {d['message']}")
    return "\n".join(lines) + "\n"

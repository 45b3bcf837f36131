"""A build with a worker pool (`jobs = 2`) gives exactly the answers, artifacts, decisions and stored
state of a one-process build (`jobs = 1`): cold, after a change of the settings that version every node,
and after an edit. The fixture workspace (every format variant) and a generated 400-document one."""
from __future__ import annotations

import importlib.util
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from graph_cache import parallel
from promptgen import service
from promptgen.results_view import Results

pytestmark = pytest.mark.skipif(parallel.fork_context() is None, reason="needs the fork start method")
GENERATOR = Path(__file__).resolve().parents[2] / "benchmarks" / "generate.py"


def generated(root: Path, docs: int) -> None:
    spec = importlib.util.spec_from_file_location("pg_bench_generate", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(str(root), docs=docs, seed=7)


def configure(root: Path, jobs: int, extra: str = "") -> None:
    (root / ".promptgen").mkdir(exist_ok=True)
    (root / ".promptgen" / "config.toml").write_text(f"jobs = {jobs}\n{extra}", encoding="utf-8")


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def snapshot(root: Path) -> dict:
    outcome = service.build(str(root))
    try:
        res = Results(outcome)
        status = res.status_document(None)
        prompts = {(p["name"], a["id"]): res.next_prompt(p["name"], a["id"])
                   for p in status["plans"] for a in p["achievements"]}
        result = outcome.result
        snap = {
            "status": status, "check": res.check_report(strict=False).as_json(), "prompts": prompts,
            "artifacts": tree(root / ".promptgen" / "artifacts"),
            "by_type": {t: dict(c) for t, c in outcome.counts.by_type.items()},
            "decisions": dict(result.decisions),
            "traces": {n: (t.version, t.inputs, t.output_fp, t.children) for n, t in result.traces.items()},
        }
    finally:  # the outcome keeps state.db open for lazy output loading
        outcome.close()
    with sqlite3.connect(root / ".promptgen" / "state.db") as db:
        snap["outputs"] = dict(db.execute("SELECT node_id, data FROM outputs").fetchall())
        snap["files"] = dict(db.execute("SELECT path, digest FROM files").fetchall())
    return snap


@pytest.mark.parametrize("source", ["fixture", "generated"])
def test_worker_pool_build_equals_one_process_build(tmp_path, workspace, pool_calls, source):
    one, two = tmp_path / "one", tmp_path / "two"
    if source == "fixture":
        shutil.copytree(workspace, one, symlinks=True)
    else:
        generated(one, 400)
    shutil.copytree(one, two, symlinks=True)
    configure(one, 1)
    configure(two, 2)

    cold = snapshot(two)
    assert cold == snapshot(one)
    assert len(pool_calls) == 1 and pool_calls[0][1] > 64  # the pool ran and computed most nodes
    assert pool_calls[0][1] >= cold["by_type"]["prompt"]["miss"]  # prompts too, not only documents

    configure(one, 1, "size_cap_mib = 4\n")  # part of every node's version: everything is outdated
    configure(two, 2, "size_cap_mib = 4\n")
    assert snapshot(two) == snapshot(one)
    assert len(pool_calls) == 2

    victim = next(p for p in sorted(one.rglob("EXECUTION_TASK_*.md")))
    for root in (one, two):
        target = root / victim.relative_to(one)
        target.write_text(target.read_text(encoding="utf-8") + "\n**Status**: ✅ Complete\n", encoding="utf-8")
        os.utime(target, ns=(target.stat().st_mtime_ns + 10**9,) * 2)
    edited = snapshot(two)
    assert edited == snapshot(one)
    assert len(pool_calls) == 2  # an edit of one document starts no pool
    assert sum(c["miss"] + c["cutoff"] for c in edited["by_type"].values()) >= 1

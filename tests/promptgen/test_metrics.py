"""Prometheus metrics: `build --metrics-file` (node_exporter textfile) checked against the same build's
`--json`, the unreachable-gateway warning, and the event-fed sink itself.

The Pushgateway round trip (a real `prometheus-pushgateway`) is in tests/integration/test_pushgateway.py.
"""
from __future__ import annotations

import os
import socket
from collections import Counter
from pathlib import Path

from metrics_check import assert_metrics_match_build, samples
from prometheus_client.parser import text_string_to_metric_families

EXEC_32 = "plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_32_01.md"
NAMES = {"promptgen_nodes", "promptgen_build_duration_seconds", "promptgen_phase_duration_seconds",
         "promptgen_documents", "promptgen_diagnostics", "promptgen_cache_hit_ratio", "promptgen_build_info"}


def build(cli, root: Path, *extra: str) -> dict:
    res = cli("build", "--root", str(root), "--json", *extra)
    assert res.code == 0, res.err
    return res.json()


def test_metrics_file_matches_the_same_builds_json(cli, workspace, tmp_path):
    prom = tmp_path / "metrics" / "promptgen.prom"
    prom.parent.mkdir()
    cold = build(cli, workspace, "--metrics-file", str(prom))
    text = prom.read_text(encoding="utf-8")
    fams = {f.name for f in text_string_to_metric_families(text)}
    assert fams == NAMES  # exactly the documented families: no *_created noise, no process metrics
    assert cold["diagnostics"], "the fixture has diagnostics: the diagnostics metric must be exercised"
    assert_metrics_match_build(text, cold)

    with open(workspace / EXEC_32, "a", encoding="utf-8") as fh:
        fh.write("\n- One more note from the field.\n")
    edit = build(cli, workspace, "--metrics-file", str(prom))
    totals = Counter()
    for c in edit["by_type"].values():
        totals.update(c)
    assert totals["hit"] and totals["miss"] and totals["cutoff"], totals  # all three results exercised
    text2 = prom.read_text(encoding="utf-8")
    assert_metrics_match_build(text2, edit)
    assert text2 != text
    # Written atomically (temp file + rename in the same folder): nothing else is left behind.
    assert sorted(os.listdir(prom.parent)) == ["promptgen.prom"]


def test_metrics_file_on_a_no_op_build(cli, workspace, tmp_path):
    build(cli, workspace)
    prom = tmp_path / "noop.prom"
    doc = build(cli, workspace, "--metrics-file", str(prom))
    assert doc["recomputed"] == []
    text = prom.read_text(encoding="utf-8")
    assert_metrics_match_build(text, doc)
    (ratio,) = [v for _l, v in samples(text)["promptgen_cache_hit_ratio"]]
    assert ratio == 1.0


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the with-block ends: nothing listens there


def test_unreachable_gateway_is_a_warning_and_the_build_succeeds(cli, workspace, tmp_path):
    url = f"http://127.0.0.1:{closed_port()}"
    prom = tmp_path / "also.prom"
    res = cli("build", "--root", str(workspace), "--json", "--push-gateway", url, "--metrics-file", str(prom),
              timeout=60)
    assert res.code == 0, res.err
    assert "warning" in res.err and "cannot push metrics" in res.err and url in res.err
    doc = res.json()
    assert doc["nodes_total"] > 0 and len(doc["recomputed"]) == doc["nodes_total"]  # the build really ran
    assert (workspace / ".promptgen" / "state.db").is_file()
    assert_metrics_match_build(prom.read_text(encoding="utf-8"), doc)  # the textfile is still written
    # The build was committed: the next run is a no-op.
    assert build(cli, workspace)["recomputed"] == []


def test_metrics_file_never_replaces_a_fifo_or_a_folder(cli, workspace, tmp_path):
    """The textfile is written by rename: a FIFO (or a device such as /dev/full) or a folder at that path
    would be replaced; it is left alone with a warning, and the build succeeds."""
    fifo, folder = tmp_path / "metrics.fifo", tmp_path / "metrics.d"
    os.mkfifo(fifo)
    folder.mkdir()
    for target in (fifo, folder):
        res = cli("build", "--root", str(workspace), "--metrics-file", str(target))
        assert res.code == 0 and "not a regular file" in res.err, res.err
    assert fifo.is_fifo() and folder.is_dir() and not any(folder.iterdir())


def test_unwritable_metrics_file_is_a_warning(cli, workspace, tmp_path):
    target = tmp_path / "missing-dir" / "m.prom"
    res = cli("build", "--root", str(workspace), "--metrics-file", str(target))
    assert res.code == 0
    assert "warning" in res.err and "cannot write metrics file" in res.err
    assert not target.exists()


def test_dry_run_exports_nothing_and_warns(cli, workspace, tmp_path):
    target = tmp_path / "dry.prom"
    res = cli("build", "--root", str(workspace), "--dry-run", "--json", "--metrics-file", str(target))
    assert res.code == 0, res.err
    assert res.json()["dry_run"] is True
    assert "warning" in res.err and "dry run" in res.err
    assert not target.exists()


def test_sink_counts_events_and_registry_is_private():
    from graph_cache.events import BuildFinished, BuildStarted, NodeDecided, PhaseTimed
    from graph_cache.model import BuildCounts
    from prometheus_client import REGISTRY, generate_latest

    from promptgen.metrics import MetricsSink, registry_for

    sink = MetricsSink()
    sink(NodeDecided("plan:x", "plan", "hit", None, 0.0))  # a stale event from before BuildStarted
    sink(BuildStarted(1, 1))
    for i, decision in enumerate(["hit", "miss", "miss", "cutoff"]):
        sink(NodeDecided(f"plan:p{i}", "plan", decision, None, 0.0))
    sink(NodeDecided("status:F", "status", "cutoff", None, 0.0))
    sink(PhaseTimed("verify", 0.25))
    sink(PhaseTimed("verify", 0.25))
    sink(BuildFinished(BuildCounts(), 1.5, 1))
    diags = [{"severity": "warning", "code": "orphan-file"}, {"severity": "warning", "code": "orphan-file"},
             {"severity": "error", "code": "ambiguous-id"}]
    reg = registry_for(sink, diags, 0.3, {"discover": 0.125})
    text = generate_latest(reg).decode()
    got = samples(text)
    assert sorted((lab["node_type"], lab["result"], v) for lab, v in got["promptgen_nodes_total"]) == [
        ("plan", "cutoff", 1.0), ("plan", "hit", 1.0), ("plan", "miss", 2.0),
        ("status", "cutoff", 1.0), ("status", "hit", 0.0), ("status", "miss", 0.0)]
    assert {lab["phase"]: v for lab, v in got["promptgen_phase_duration_seconds"]} == {"verify": 0.5, "discover": 0.125}
    assert {lab["node_type"]: v for lab, v in got["promptgen_documents"]} == {
        "plan": 4.0, "subplan": 0.0, "execution": 0.0, "feedback": 0.0, "parallel": 0.0}
    assert sorted((lab["severity"], lab["code"], v) for lab, v in got["promptgen_diagnostics_total"]) == [
        ("error", "ambiguous-id", 1.0), ("warning", "orphan-file", 2.0)]
    assert got["promptgen_cache_hit_ratio"] == [({}, 0.2)]
    assert "_created" not in text
    assert "promptgen_" not in generate_latest(REGISTRY).decode()  # nothing leaks into the global registry

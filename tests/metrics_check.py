"""Shared by tests/promptgen/test_metrics.py (textfile) and tests/integration/test_pushgateway.py (a
real Pushgateway): scraped Prometheus samples, and their check against the same build's `build --json`."""
from __future__ import annotations

from collections import Counter

from prometheus_client.parser import text_string_to_metric_families

from promptgen import __version__

DOCUMENT_TYPES = ("plan", "subplan", "execution", "feedback", "parallel")


def samples(text: str, **match: str) -> dict[str, list[tuple[dict, float]]]:
    """sample name -> [(labels without `match` keys, value)] for samples whose labels include `match`."""
    out: dict[str, list[tuple[dict, float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if all(s.labels.get(k) == v for k, v in match.items()):
                labels = {k: v for k, v in s.labels.items() if k not in match and k != "instance"}
                out.setdefault(s.name, []).append((labels, s.value))
    return out


def assert_metrics_match_build(text: str, doc: dict, **match: str) -> None:
    """Every promptgen metric of `text` agrees with the `build --json` object `doc` of the same build."""
    got = samples(text, **match)
    nodes = {(lab["node_type"], lab["result"]): v for lab, v in got["promptgen_nodes_total"]}
    want = {(t, r): float(c[r]) for t, c in doc["by_type"].items() for r in ("hit", "miss", "cutoff")}
    assert nodes == want
    assert sum(nodes.values()) == doc["nodes_total"]

    docs = {lab["node_type"]: v for lab, v in got["promptgen_documents"]}
    assert docs == {t: float(sum(doc["by_type"].get(t, {}).values())) for t in DOCUMENT_TYPES}

    diags = {(lab["severity"], lab["code"]): v for lab, v in got.get("promptgen_diagnostics_total", [])}
    assert diags == {k: float(n) for k, n in Counter((d["severity"], d["code"]) for d in doc["diagnostics"]).items()}
    assert diags, "the fixture has diagnostics"

    hits = sum(c["hit"] for c in doc["by_type"].values())
    (ratio,) = [v for _lab, v in got["promptgen_cache_hit_ratio"]]
    assert abs(ratio - hits / doc["nodes_total"]) < 1e-9

    assert got["promptgen_build_info"] == [({"version": __version__}, 1.0)]
    assert [v for _lab, v in got["promptgen_build_duration_seconds_count"]] == [1.0]
    (dur,) = [v for _lab, v in got["promptgen_build_duration_seconds_sum"]]
    assert 0 < dur < 120
    buckets = {lab["le"]: v for lab, v in got["promptgen_build_duration_seconds_bucket"]}
    assert buckets["+Inf"] == 1.0
    assert all(v == (1.0 if dur <= float(le) else 0.0) for le, v in buckets.items() if le != "+Inf")

    phases = {lab["phase"]: v for lab, v in got["promptgen_phase_duration_seconds"]}
    assert {"discover", "verify", "compute"} <= set(phases)
    assert all(v >= 0 for v in phases.values())

    # Bounded labels: never a path, never a node id.
    for name, rows in got.items():
        if name.startswith("promptgen_"):
            for lab, _v in rows:
                for value in lab.values():
                    assert "/" not in value and ".md" not in value, (name, lab)

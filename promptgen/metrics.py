"""Prometheus metrics, derived from engine events only (one module; a private CollectorRegistry).

`MetricsSink` subscribes to the build's event bus and accumulates with the standard library;
`export()` turns it into a registry (prometheus_client is imported only then) and writes a
node_exporter textfile and/or pushes to a Pushgateway. Labels are bounded: node type, result, phase,
severity, diagnostic code, version -- never paths.
"""
from __future__ import annotations

import sys

BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
DOCUMENT_TYPES = ("plan", "subplan", "execution", "feedback", "parallel")


class MetricsSink:
    """Event subscriber: node decisions per (type, result), phase seconds, build duration."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[str, str], int] = {}
        self.phases: dict[str, float] = {}
        self.duration: float | None = None

    def __call__(self, event) -> None:
        name = type(event).__name__
        if name == "NodeDecided":
            key = (event.node_type, event.decision)
            self.nodes[key] = self.nodes.get(key, 0) + 1
        elif name == "PhaseTimed":
            self.phases[event.phase] = self.phases.get(event.phase, 0.0) + float(event.seconds)
        elif name == "BuildFinished":
            self.duration = float(event.seconds)


def registry_for(sink: MetricsSink, diagnostics: list[dict], elapsed: float, extra_phases: dict[str, float]):
    """A fresh CollectorRegistry holding this build's metrics."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    from promptgen import __version__

    reg = CollectorRegistry()
    nodes = Counter("promptgen_nodes", "Graph nodes per build by type and result (hit, miss, cutoff).",
                    ["node_type", "result"], registry=reg)
    for (node_type, result), n in sorted(sink.nodes.items()):
        nodes.labels(node_type, result).inc(n)
    duration = Histogram("promptgen_build_duration_seconds", "Wall time of a build.", buckets=BUCKETS,
                         registry=reg)
    duration.observe(elapsed)
    phase = Gauge("promptgen_phase_duration_seconds", "Seconds spent per build phase.", ["phase"], registry=reg)
    for name, secs in sorted({**sink.phases, **extra_phases}.items()):
        phase.labels(name).set(secs)
    docs = Gauge("promptgen_documents", "Document nodes in the graph by type.", ["node_type"], registry=reg)
    for node_type in DOCUMENT_TYPES:
        docs.labels(node_type).set(sum(n for (t, _r), n in sink.nodes.items() if t == node_type))
    diag = Counter("promptgen_diagnostics", "Diagnostics reported by the build.", ["severity", "code"],
                   registry=reg)
    for d in diagnostics:
        diag.labels(d["severity"], d["code"]).inc()
    total = sum(sink.nodes.values())
    hits = sum(n for (_t, r), n in sink.nodes.items() if r == "hit")
    Gauge("promptgen_cache_hit_ratio", "Share of nodes reused without recomputation in the last build.",
          registry=reg).set(hits / total if total else 0.0)
    Gauge("promptgen_build_info", "promptgen version.", ["version"], registry=reg).labels(__version__).set(1)
    return reg


def export(outcome, *, metrics_file: str | None, push_gateway: str | None, job: str) -> None:
    """Write the textfile (atomically) and/or push; an unreachable gateway is a warning, not a failure."""
    sink = outcome.metrics
    reg = registry_for(sink, outcome.diagnostics, outcome.elapsed, outcome.phases)
    if metrics_file:
        from prometheus_client import write_to_textfile

        try:
            write_to_textfile(metrics_file, reg)
        except OSError as exc:
            sys.stderr.write(f"promptgen: warning: cannot write metrics file {metrics_file}: {exc.strerror or exc}\n")
    if push_gateway:
        from prometheus_client import push_to_gateway

        try:
            push_to_gateway(push_gateway, job=job, registry=reg, timeout=5)
        except Exception as exc:  # network errors come in many types (URLError, OSError, HTTPError...)
            sys.stderr.write(f"promptgen: warning: cannot push metrics to {push_gateway}: {exc}\n")

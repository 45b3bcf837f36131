"""Prometheus metrics, derived from engine events only (one module; a private CollectorRegistry).

`MetricsSink` subscribes to the build's event bus and accumulates with the standard library;
`export()` turns it into a registry (prometheus_client is imported only then) and writes a
node_exporter textfile and/or pushes to a Pushgateway. Labels are bounded: node type, result, phase,
severity, diagnostic code, version -- never paths.

The registry holds one custom collector that yields fixed metric families (no `*_created` series, no
process-global state): every metric describes the one build that produced it. See docs/OBSERVABILITY.md.
"""
from __future__ import annotations

import os
import sys

BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
DOCUMENT_TYPES = ("plan", "subplan", "execution", "feedback", "parallel")
RESULTS = ("hit", "miss", "cutoff")


class MetricsSink:
    """Event subscriber: node decisions per (type, result), engine phase seconds, build duration."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[str, str], int] = {}
        self.phases: dict[str, float] = {}
        self.duration: float | None = None
        self.dry_run = False

    def __call__(self, event) -> None:
        name = type(event).__name__
        if name == "BuildStarted":  # one sink per build, but never mix two builds' numbers
            self.nodes, self.phases, self.duration = {}, {}, None
            self.dry_run = bool(getattr(event, "dry_run", False))
        elif name == "NodeDecided":
            key = (event.node_type, event.decision)
            self.nodes[key] = self.nodes.get(key, 0) + 1
        elif name == "NodesHit":  # a change-driven build's unvisited nodes
            for node_type, n in event.by_type.items():
                key = (node_type, "hit")
                self.nodes[key] = self.nodes.get(key, 0) + n
        elif name == "PhaseTimed":
            self.phases[event.phase] = self.phases.get(event.phase, 0.0) + float(event.seconds)
        elif name == "BuildFinished":
            self.duration = float(event.seconds)

    def node_types(self) -> list[str]:
        return sorted({t for t, _r in self.nodes})

    def count(self, node_type: str, result: str | None = None) -> int:
        return sum(n for (t, r), n in self.nodes.items() if t == node_type and result in (None, r))


def families(sink: MetricsSink, diagnostics: list[dict], elapsed: float, phases: dict[str, float]) -> list:
    """The metric families of one build (prometheus_client.core objects)."""
    from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                        HistogramMetricFamily)

    from promptgen import __version__

    out = []
    nodes = CounterMetricFamily("promptgen_nodes", "Graph nodes of the build by type and result (hit, miss, cutoff).",
                                labels=["node_type", "result"])
    for node_type in sink.node_types():
        for result in RESULTS:  # all three results per type, zeros included: dashboards need no `or`
            nodes.add_metric([node_type, result], sink.count(node_type, result))
    out.append(nodes)

    cumulative = [(_le(b), 1.0 if elapsed <= b else 0.0) for b in BUCKETS] + [("+Inf", 1.0)]
    out.append(HistogramMetricFamily("promptgen_build_duration_seconds", "Wall time of the build.",
                                     buckets=cumulative, sum_value=elapsed))

    phase = GaugeMetricFamily("promptgen_phase_duration_seconds", "Seconds spent per build phase.",
                              labels=["phase"])
    for name, secs in sorted({**sink.phases, **phases}.items()):
        phase.add_metric([name], secs)
    out.append(phase)

    docs = GaugeMetricFamily("promptgen_documents", "Document nodes in the graph by type.", labels=["node_type"])
    for node_type in DOCUMENT_TYPES:
        docs.add_metric([node_type], sink.count(node_type))
    out.append(docs)

    by_key: dict[tuple[str, str], int] = {}
    for d in diagnostics:
        key = (str(d["severity"]), str(d["code"]))
        by_key[key] = by_key.get(key, 0) + 1
    diag = CounterMetricFamily("promptgen_diagnostics", "Diagnostics reported by the build by severity and code.",
                               labels=["severity", "code"])
    for (severity, code), n in sorted(by_key.items()):
        diag.add_metric([severity, code], n)
    out.append(diag)

    total = sum(sink.nodes.values())
    hits = sum(n for (_t, r), n in sink.nodes.items() if r == "hit")
    out.append(GaugeMetricFamily("promptgen_cache_hit_ratio",
                                 "Share of the build's nodes reused without recomputation (0 with no nodes).",
                                 value=hits / total if total else 0.0))
    info = GaugeMetricFamily("promptgen_build_info", "promptgen version (always 1).", labels=["version"])
    info.add_metric([__version__], 1)
    out.append(info)
    return out


def _le(bound: float) -> str:
    return repr(float(bound))


class _BuildCollector:
    def __init__(self, fams: list) -> None:
        self._fams = fams

    def collect(self):
        return iter(self._fams)


def registry_for(sink: MetricsSink, diagnostics: list[dict], elapsed: float, extra_phases: dict[str, float]):
    """A fresh, private CollectorRegistry holding this build's metrics."""
    from prometheus_client import CollectorRegistry

    reg = CollectorRegistry(auto_describe=False)
    reg.register(_BuildCollector(families(sink, diagnostics, elapsed, extra_phases)))
    return reg


def _warn(message: str) -> None:
    sys.stderr.write(f"promptgen: warning: {message}\n")


def _not_a_file(path: str) -> bool:
    """True when `path` exists as something else than a regular file (a device, a FIFO, a folder)."""
    import stat

    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def export(outcome, *, metrics_file: str | None, push_gateway: str | None, job: str) -> None:
    """Write the textfile (atomically) and/or push; failures are warnings, never a failed build."""
    sink = outcome.metrics
    if getattr(outcome, "dry_run", False) or sink is None:
        _warn("metrics are not exported by a dry run (nothing was built)")
        return
    reg = registry_for(sink, outcome.diagnostics, outcome.elapsed, outcome.phases)
    if metrics_file and _not_a_file(metrics_file):  # os.replace would put a file in its place
        _warn(f"cannot write metrics file {metrics_file}: it exists and is not a regular file")
    elif metrics_file:
        from prometheus_client import write_to_textfile

        try:  # writes <path>.<pid>.<thread> in the same folder, then os.replace: readers never see half a file
            write_to_textfile(metrics_file, reg)
        except OSError as exc:
            _warn(f"cannot write metrics file {metrics_file}: {exc.strerror or exc}")
    if push_gateway:
        from prometheus_client import push_to_gateway

        try:
            push_to_gateway(push_gateway, job=job, registry=reg, timeout=5)
        except Exception as exc:  # network errors come in many types (URLError, OSError, HTTPError, ValueError)
            _warn(f"cannot push metrics to {push_gateway}: {_reason(exc)}")


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)  # URLError wraps the OSError
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason or exc) or type(exc).__name__

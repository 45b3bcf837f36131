"""The `build` report: the `--json` object and the human table (stdlib only, shared by both paths).

The no-op fast path prints the same report from the manifest without importing the full CLI, so this
module must stay free of heavy imports; diagnostics arrive as an already-serialised JSON array.
"""
from __future__ import annotations

SCHEMA_VERSION = 1
RESULTS = ("hit", "miss", "cutoff")


def by_type_json(by_type: dict[str, dict[str, int]]) -> str:
    """`{"<type>": {"hit": n, "miss": n, "cutoff": n}}` (node types are plain identifiers)."""
    return "{" + ",".join(f'"{t}":{{' + ",".join(f'"{r}":{int(by_type[t].get(r, 0))}' for r in RESULTS) + "}"
                          for t in sorted(by_type)) + "}"


def build_json(by_type: dict[str, dict[str, int]], recomputed: list[str], diagnostics_json: str,
               elapsed_s: float, extra: dict | None = None) -> str:
    """The `build --json` object as one line (diagnostics spliced in pre-serialised). `json` is imported
    only when there are node ids or extra fields to escape, so the no-op path does without it."""
    total = sum(sum(c.get(r, 0) for r in RESULTS) for c in by_type.values())
    tail = ""
    if recomputed or extra:
        import json

        tail = "," + json.dumps({"recomputed": list(recomputed), **(extra or {})}, separators=(",", ":"))[1:-1]
    else:
        tail = ',"recomputed":[]'
    return (f'{{"schema_version":{SCHEMA_VERSION},"nodes_total":{total},"by_type":{by_type_json(by_type)}'
            f'{tail},"diagnostics":{diagnostics_json},"elapsed_s":{elapsed_s:.6f}}}')


def severity_counts(diag_summary: dict[str, int]) -> str:
    parts = [f"{diag_summary.get(s, 0)} {s}{'s' if diag_summary.get(s, 0) != 1 else ''}"
             for s in ("error", "warning", "info")]
    return ", ".join(parts)


def build_table(by_type: dict[str, dict[str, int]], diag_summary: dict[str, int], elapsed_s: float,
                phases: dict[str, float] | None = None, warnings: list[str] | None = None) -> str:
    """Human output: node types x hit/miss/cutoff, totals, diagnostics summary, elapsed time."""
    rows = [(t, *(by_type[t].get(r, 0) for r in RESULTS)) for t in sorted(by_type)]
    totals = tuple(sum(r[i] for r in rows) for i in (1, 2, 3))
    width = max([len("node type"), len("total")] + [len(r[0]) for r in rows])
    line = f"{{:<{width}}}  {{:>7}}  {{:>7}}  {{:>7}}"
    out = [line.format("node type", "hit", "miss", "cutoff"), "-" * (width + 27)]
    out += [line.format(*r) for r in rows]
    out.append("-" * (width + 27))
    out.append(line.format("total", *totals))
    nodes = sum(totals)
    ratio = f"{100.0 * totals[0] / nodes:.1f}%" if nodes else "n/a"
    out.append(f"{nodes} nodes, hit ratio {ratio}; diagnostics: {severity_counts(diag_summary)}")
    if phases:
        out.append("phases: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in phases.items()))
    for w in warnings or []:
        out.append(f"warning: {w}")
    out.append(f"elapsed {elapsed_s * 1000:.1f} ms")
    return "\n".join(out)

"""`parallel.json` parser: file-local R-PAR-VALID checks and the field-type / plan-name warnings (7).

Errors `invalid-parallel-json` carry `detail` `syntax`, `schema`, `duplicate-id`, `unknown-id` (only for
dependencies that no item of the file lists; ids the PLAN does not declare are checked by the workflow)
or `cycle`, one diagnostic per problem. Warnings: `parallel-field-type`, `parallel-plan-name-mismatch`,
plus the reading ones (`too-large`, `encoding`). `status` fields are ignored. Never raises.
"""
from __future__ import annotations

import bisect
import json
import re
from typing import Optional

from promptgen.documents import ParallelDoc, ParallelItem, id_key
from promptgen.usertext import clip, quote

from . import common
from .ids import is_id

LEVELS = ("level_1", "level_2", "level_3")
HOUR_FIELDS = ("estimated_hours", "actual_hours")
_ID_KEY = re.compile(r'"achievement_id"\s*:\s*"([^"\\]*)"')


def _invalid(path: str, detail: str, message: str, *, line=None, achievement=None):
    return common.diag("invalid-parallel-json", "error", path, f"{detail}: {message}", line=line,
                       achievement=achievement, detail=detail)


def _item_lines(text: str, ids: list[Optional[str]]) -> list[Optional[int]]:
    """Best effort: the line of each item's `achievement_id` key, matched in order after `"achievements"`."""
    start = max(text.find('"achievements"'), 0)
    where: dict[str, list[tuple[int, int]]] = {}  # id -> [(occurrence number, line)]
    line, pos = 1, 0
    for n, m in enumerate(_ID_KEY.finditer(text, start)):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        where.setdefault(m.group(1), []).append((n, line))
    out: list[Optional[int]] = []
    last = -1
    for ident in ids:
        hits = where.get(ident) if ident is not None else None
        k = bisect.bisect_right(hits, (last, 1 << 62)) if hits else 0
        if hits and k < len(hits):
            last = hits[k][0]
            out.append(hits[k][1])
        else:
            out.append(None)
    return out


def find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components that contain a cycle (size > 1, or a self-loop), iterative Tarjan."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                if len(comp) > 1 or node in graph[node]:
                    cycles.append(comp)
    return cycles


def _check(doc: dict, text: str, path: str, feature: str, diags: list) -> ParallelDoc:
    plan_name, level, raw_items = doc.get("plan_name"), doc.get("parallelization_level"), doc.get("achievements")
    if not isinstance(plan_name, str):
        diags.append(_invalid(path, "schema", "'plan_name' is missing or not a string"))
    elif plan_name != feature:
        diags.append(common.diag("parallel-plan-name-mismatch", "warning", path,
                                 f"plan_name {quote(plan_name)} differs from the plan's feature {feature!r}"))
    if not isinstance(level, str) or level not in LEVELS:
        diags.append(_invalid(path, "schema", f"'parallelization_level' must be one of {', '.join(LEVELS)}, got {quote(level)}"))
    if not isinstance(raw_items, list):
        diags.append(_invalid(path, "schema", "'achievements' is missing or not an array"))
        raw_items = []
    ids = [it.get("achievement_id") if isinstance(it, dict) else None for it in raw_items]
    lines = _item_lines(text, [i if isinstance(i, str) else None for i in ids])
    items: list[ParallelItem] = []
    graph: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    for n, (it, ident, line) in enumerate(zip(raw_items, ids, lines)):
        where = f"achievements[{n}]"
        if not isinstance(it, dict):
            diags.append(_invalid(path, "schema", f"{where} is not an object"))
            continue
        if not is_id(ident):
            diags.append(_invalid(path, "schema", f"{where}.achievement_id {quote(ident)} is not a dotted id", line=line))
            continue
        deps = it.get("dependencies")
        if not isinstance(deps, list):
            diags.append(_invalid(path, "schema", f"{where}.dependencies is missing or not an array",
                                  line=line, achievement=ident))
            deps = []
        bad = [d for d in deps if not is_id(d)]
        if bad:
            diags.append(_invalid(path, "schema", f"{where}.dependencies has entries that are not dotted ids: "
                                  f"{', '.join(quote(b) for b in bad[:5])}", line=line, achievement=ident))
        deps = [d for d in deps if is_id(d)]
        for field in HOUR_FIELDS:
            value = it.get(field)
            if field in it and value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                shown = f"the string {json.dumps(clip(value))}" if isinstance(value, str) else f"a {type(value).__name__}"
                diags.append(common.diag("parallel-field-type", "warning", path,
                                         f"{clip(ident)}: {field} is {shown}, expected a number or null",
                                         line=line, achievement=ident, detail=f"{field} is {shown}"))
        if ident in seen:
            diags.append(_invalid(path, "duplicate-id", f"{clip(ident)} is listed twice (items {seen[ident]} and {n})",
                                  line=line, achievement=ident))
        seen.setdefault(ident, n)
        graph.setdefault(ident, []).extend(deps)
        title = it.get("title")
        items.append(ParallelItem(id=ident, dependencies=tuple(deps), title=title if isinstance(title, str) else None,
                                  line=line))
    unknown: dict[str, Optional[int]] = {}
    for item in items:
        for dep in item.dependencies:
            if dep not in graph and dep not in unknown:
                unknown[dep] = item.line
    for dep, line in unknown.items():
        diags.append(_invalid(path, "unknown-id", f"dependency {clip(dep)} is not listed in the file", line=line,
                              achievement=dep))
    first_line = {}
    for item in items:
        first_line.setdefault(item.id, item.line)
    for comp in find_cycles(graph):
        comp.sort(key=id_key)
        diags.append(_invalid(path, "cycle", f"dependency cycle among {clip(', '.join(comp), 400)}",
                              line=first_line.get(comp[0]), achievement=comp[0] if len(comp) == 1 else None))
    valid = not any(d.severity == "error" for d in diags)
    return ParallelDoc(path=path, valid=valid, plan_name=plan_name if isinstance(plan_name, str) else None,
                       level=level if isinstance(level, str) else None, items=tuple(items), diagnostics=tuple(diags))


_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_constant(name: str):
    """`NaN`, `Infinity` and `-Infinity` are not JSON (json.loads accepts them by default)."""
    raise ValueError(f"{name} is not a JSON value")


def _without_surrogates(value):
    """`value` with every lone surrogate (from an escape like `\\ud800`) replaced by U+FFFD: strings of
    a document must be printable as UTF-8."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    return value


def _parse(data, path: str, feature: str, size_cap: int) -> ParallelDoc:
    prep = common.prepare(data, path, size_cap)
    if prep.state == "too-large":
        return ParallelDoc(path=path, valid=False, diagnostics=tuple(prep.diagnostics))
    diags = list(prep.diagnostics)
    if prep.text is None:  # empty
        diags = [_invalid(path, "syntax", "the file is empty")]
        return ParallelDoc(path=path, valid=False, diagnostics=tuple(diags))
    text = prep.text
    try:
        doc = json.loads(text, parse_constant=_no_constant)
        if _ESCAPED_SURROGATE.search(text):
            doc = _without_surrogates(doc)
    except RecursionError:
        diags.append(_invalid(path, "syntax", "nesting too deep to parse"))
        return ParallelDoc(path=path, valid=False, diagnostics=tuple(diags))
    except ValueError as exc:  # JSONDecodeError, huge integers
        line = getattr(exc, "lineno", None)
        diags.append(_invalid(path, "syntax", f"not valid JSON ({getattr(exc, 'msg', exc)})", line=line))
        return ParallelDoc(path=path, valid=False, diagnostics=tuple(diags))
    if not isinstance(doc, dict):
        diags.append(_invalid(path, "schema", f"the top level is a {type(doc).__name__}, not an object"))
        return ParallelDoc(path=path, valid=False, diagnostics=tuple(diags))
    return _check(doc, text, path, feature, diags)


def parse_parallel(data: bytes, path: str, feature: str, size_cap: int = common.DEFAULT_SIZE_CAP) -> ParallelDoc:
    """Parse `<plan-dir>/parallel.json` of plan `feature`. Total; `valid` is False on any error."""
    return common.guarded(lambda: _parse(data, path, feature, size_cap),
                          lambda d: ParallelDoc(path=path, valid=False, diagnostics=(d,)), path)

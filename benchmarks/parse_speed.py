"""Parser speed on a typical document, as a ratio to a floor measured in the same run.

Replaces a timed unit test (1 ms per KB): speed goals are measured here, never asserted in tests. The
document is a ~21 KB PLAN-like text (declarations, fences, status lines, a table) parsed as a PLAN and as
an EXECUTION_TASK; the floor decodes the same bytes and splits them into lines, which every parser does
first. Prints ms per KB (median of --repeat rounds) and the ratio to the floor.

    python benchmarks/parse_speed.py [--repeat 15]
"""
from __future__ import annotations

import argparse
import statistics
import time

BLOCK = ("## \U0001f3af Desirable Achievements\n\n**Achievement 1.1**: Title (3h)\n\n- **Goal**: text text text\n"
         "- **Effort**: 2 hours\n\n```python\ncode = 1\n```\n\n### Achievement 1.2: Other \u2705 COMPLETE\n"
         "**Status**: In Progress\n| 11_01 | x |\n")
PATH = "plans/F/PLAN_F.md"


def _median_seconds(fn, repeat: int, inner: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t) / inner)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    from promptgen.parse.execution import parse_execution
    from promptgen.parse.plan import parse_plan

    data = (BLOCK * 100).encode()
    kb = len(data) / 1024

    def parse() -> None:
        parse_plan(data, PATH, "F")
        parse_execution(data, PATH, "F", "11", "01")

    def floor() -> None:
        data.decode("utf-8").splitlines()
        data.decode("utf-8").splitlines()

    parse()  # warm the memoised line helpers, as a real build does after its first documents
    p = _median_seconds(parse, args.repeat, 10) / 2
    f = _median_seconds(floor, args.repeat, 10) / 2
    print(f"document {kb:.1f} KB: parse {1000 * p / kb:.3f} ms/KB, floor (decode + splitlines) "
          f"{1000 * f / kb:.4f} ms/KB, ratio {p / f:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Imports on promptgen's no-op path: `python -X importtime -m promptgen build --root WS`.

    python benchmarks/importtime.py [--root WS] [--python PY] [--top 25] [--command build|status|check]

Without `--root`, a 700-document workspace is generated in a temporary folder (benchmarks/generate.py).
The workspace is built twice first, so the measured run is a no-op (served by the manifest fast
path). The script lists the slowest imports (cumulative and self time, microseconds as reported by
CPython) and checks that none of the heavy modules below is imported on the no-op path; each one that
is gets a `FAIL` line and the exit status is 1. Modules imported by the interpreter's own start-up
(site, and an editable install's meta-path finder) are listed separately: they cost time in every
process but are not promptgen's doing (use a non-editable install for realistic numbers, see
benchmarks/run.py).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
FORBIDDEN = ("typer", "click", "pydantic", "networkx", "prometheus_client", "rich", "tomllib",
             "importlib.metadata")


def parse_importtime(stderr: str) -> list[tuple[str, int, int, int]]:
    """[(module, self_us, cumulative_us, depth)] in import order."""
    out = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        try:
            _, rest = line.split(":", 1)
            self_us, cum_us, name = rest.split("|", 2)
        except ValueError:
            continue
        depth = max(0, (len(name) - len(name.lstrip(" ")) - 1) // 2)  # 0 = imported at top level
        out.append((name.strip(), int(self_us), int(cum_us), depth))
    return out


def top_level_owner(rows: list) -> dict:
    """module -> the top-level (depth 0) import it was loaded under."""
    owner: dict = {}
    pending: list = []
    # importtime prints children before their parent; a depth-1 line closes the pending children
    for name, _s, _c, depth in rows:
        pending.append(name)
        if depth == 0:
            for p in pending:
                owner[p] = name
            pending = []
    for p in pending:
        owner[p] = "?"
    return owner


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", help="workspace root (default: generate a 700-document workspace)")
    default_py = os.path.join(REPO, ".venv", "bin", "python")
    ap.add_argument("--python", default=default_py if os.path.exists(default_py) else sys.executable)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--command", default="build", choices=("build", "status", "check"))
    args = ap.parse_args(argv)
    tmp = None
    root = args.root
    if root is None:
        sys.path.insert(0, HERE)
        import generate

        tmp = tempfile.mkdtemp(prefix="pgbench-import-")
        root = os.path.join(tmp, "ws")
        generate.generate(root, 700, 1)
    try:
        base = [args.python, "-m", "promptgen"]
        # `-m` puts the current directory first on sys.path: run from the workspace, so that the
        # installed promptgen is imported, not a source tree that happens to be the cwd
        cwd = os.path.abspath(root)
        for _ in range(2):  # build, then refresh the manifest: the measured run is a no-op
            subprocess.run(base + ["build", "--root", root], stdout=subprocess.DEVNULL, check=False, cwd=cwd)
        cmd = [args.python, "-X", "importtime", "-m", "promptgen", args.command, "--root", root]
        if args.command == "status":
            cmd.append("--json")
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=cwd)
        rows = parse_importtime(proc.stderr)
        owner = top_level_owner(rows)
        startup = {"site", "encodings", "_distutils_hack"} | {n for n, *_ in rows if n.startswith("__editable__")}
        is_startup = lambda n: owner.get(n) in startup or n in startup  # noqa: E731

        def tag(n: str) -> str:
            if is_startup(n):
                return "   [start-up]"
            if owner.get(n) == "runpy":
                return "   [python -m; the console script does not pay this]"
            return ""

        where = subprocess.run([args.python, "-c", "import promptgen; print(promptgen.__file__)"],
                               capture_output=True, text=True, cwd=cwd).stdout.strip()
        total = sum(s for _, s, _, _ in rows)
        own = sum(s for n, s, _, _ in rows if not is_startup(n) and owner.get(n) != "runpy")
        print(f"$ {' '.join(cmd)}   (exit {proc.returncode})")
        print(f"promptgen imported from {where}")
        print(f"{len(rows)} modules imported, {total / 1000:.1f} ms of import time in total "
              f"({own / 1000:.1f} ms without interpreter start-up / site and runpy)")
        print(f"\nTop {args.top} by cumulative time (us):")
        for name, s, c, d in sorted(rows, key=lambda r: -r[2])[: args.top]:
            print(f"  {c:9d} {s:9d}  {'  ' * d}{name}{tag(name)}")
        print(f"\nTop {args.top} by self time (us):")
        for name, s, c, d in sorted(rows, key=lambda r: -r[1])[: args.top]:
            print(f"  {s:9d}  {name}{tag(name)}")
        names = {n for n, *_ in rows}
        failed = False
        print()
        for mod in FORBIDDEN:
            hits = sorted(n for n in names if n == mod or n.startswith(mod + "."))
            if hits:
                failed = True
                print(f"FAIL: {mod} imported on the no-op path ({len(hits)} modules, under "
                      f"{sorted({owner.get(h, '?') for h in hits})})")
            else:
                print(f"ok:   {mod} not imported")
        if proc.returncode != 0:
            print(f"FAIL: promptgen exited {proc.returncode}")
            failed = True
        return 1 if failed else 0
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

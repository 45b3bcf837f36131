"""Console entry point: try the no-op fast path, else load the full CLI.

Kept tiny on purpose: importing typer, pydantic or networkx costs more than a whole no-op build.
"""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    from promptgen.fastpath import try_run

    code = try_run(args)
    if code is None:
        from promptgen.buildcmd import parse_build_args

        opts = parse_build_args(args)
        if opts is not None:  # a plain build with work to do: no typer/rich imports needed
            from promptgen.boundary import guarded
            from promptgen.buildcmd import execute

            code = guarded(lambda: execute(**opts))
        else:
            from promptgen.cli import run

            code = run(args)
    sys.stdout.flush()
    sys.exit(code)

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
    elif argv is None:  # answered by the fast path, as the console script (not called by a caller)
        _quick_exit(code)
    sys.stdout.flush()
    sys.exit(code)


def _quick_exit(code) -> None:
    """Leave without the interpreter's tear-down (freeing every object of the walk and the manifest:
    ~4 % of a no-op at 10k documents), when nothing needs it: no atexit hook, no tracer or profiler
    (coverage, cProfile, pyinstrument write their results at exit). Everything the fast path writes
    is unbuffered (os-level) except stdout/stderr, flushed here; a flush error takes the normal exit."""
    import atexit
    import os

    if type(code) is not int or not 0 <= code <= 255:
        return
    if sys.gettrace() is not None or sys.getprofile() is not None:
        return
    if getattr(atexit, "_ncallbacks", lambda: 1)() != 0:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        return  # e.g. a closed pipe: the normal exit reports it as before
    os._exit(code)

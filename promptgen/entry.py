"""Console entry point: try the no-op fast path, else hand the command to a running daemon, else load
the full CLI.

Kept tiny on purpose: importing typer, pydantic or networkx costs more than a whole no-op build.
"""
from __future__ import annotations

import sys

QUIET_GC = (50_000, 20, 20)  # a short-lived process: fewer collector passes (PERFORMANCE.md s. 14)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    _null_for_closed_streams()
    import gc

    thresholds = gc.get_threshold()
    gc.set_threshold(*QUIET_GC)
    try:
        code, own_exit = _dispatch(args, console=argv is None)
        if own_exit and argv is None:  # the console script (not called by a caller), nothing left open
            _quick_exit(code)  # before the old thresholds are back: they would collect 50,000 objects
    finally:
        gc.set_threshold(*thresholds)
    sys.stdout.flush()
    sys.exit(code)


def _null_for_closed_streams() -> None:
    """A stream Python found closed at start-up (`promptgen build >&-`: `sys.stdout` is None) becomes
    /dev/null, on its own descriptor number: what would have been printed is lost, as with a reader
    that left (a closed pipe), and the command still runs and exits with its own code."""
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            import os

            setattr(sys, name, open(os.devnull, mode))


def run_in_child(args: list[str]) -> int:
    """The command in a daemon's forked child (daemon_child.py) or a head-start child (head_start.py): as
    `main` after the client's fast path fell through (the client's walk is installed already:
    handoff.install), leaving the exit to the caller."""
    import gc

    gc.set_threshold(*QUIET_GC)
    code, _own_exit = _dispatch(args, fast=False)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # e.g. the reader of a pipe left: nothing more to tell
        pass
    return code if type(code) is int else 1


def _dispatch(args: list[str], *, console: bool = False, fast: bool = True) -> tuple[int, bool]:
    """(exit code, whether the process may skip its tear-down): the fast path's answer, else (console
    script only) a warm daemon's, else a plain build's (typer-free; it closes what it opened), else the
    full CLI's (left to the normal exit). The daemon hears of the command before the fast path runs
    (`daemon_client.announce`: its child gets ready while this process walks); when none runs, a
    head-start child forked here does the same (`head_start.start`)."""
    announced = None
    if console:  # standard library only: nothing the fast path would not import anyway
        from promptgen.daemon_client import announce

        announced = announce(args)
        if announced is None:
            from promptgen.head_start import start

            announced = start(args)
    if fast:
        from promptgen.fastpath import try_run

        try:
            code = try_run(args)
        except BaseException:
            if announced is not None:
                announced.close()
            raise
        if code is not None:
            if announced is not None:
                announced.close()
            return code, True
    if announced is not None:
        code = announced.complete()
        if code is not None:
            return code, True
    from promptgen.buildcmd import parse_build_args

    opts = parse_build_args(args)
    if opts is not None:  # a plain build with work to do: no typer/rich imports needed
        import gc

        gc.freeze()  # the fast path's walk lives on: out of the way of the collections during the imports
        from promptgen.boundary import guarded
        from promptgen.buildcmd import execute

        return guarded(lambda: execute(**opts)), True
    from promptgen.cli import run

    return run(args), False


def _quick_exit(code) -> None:
    """Leave without the interpreter's tear-down (freeing every object of the walk and the manifest:
    ~4 % of a no-op at 10k documents, ~5 % of an edit build with its imports), when nothing needs it:
    no atexit hook, no tracer or profiler (coverage, cProfile, pyinstrument write their results at
    exit). Everything the fast path writes is unbuffered (os-level) except stdout/stderr, flushed here;
    a flush error takes the normal exit. A plain build has committed and closed its state file before
    (`buildcmd.execute`)."""
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

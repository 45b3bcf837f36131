"""The one error boundary: library errors become their documented exit codes, bugs a line and a log."""
from __future__ import annotations

import sys
from typing import Callable

from promptgen import errors


def guarded(fn: Callable[[], int], *, extra: Callable[[BaseException], int | None] | None = None) -> int:
    """Run `fn`; map PromptgenError to its exit code; never let a traceback reach the terminal.

    `extra` may translate other exceptions (the CLI framework's own exit/usage errors) first.
    """
    try:
        return fn()
    except errors.PromptgenError as exc:
        sys.stderr.write(f"promptgen: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("promptgen: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        from graph_cache.errors import StateDirError

        if isinstance(exc, StateDirError):  # raised after the build (a lazy read of its outputs)
            sys.stderr.write(f"promptgen: {exc}\n")
            return errors.EXIT_STATE_DIR
        code = extra(exc) if extra is not None else None
        if code is not None:
            return code
        from promptgen.crashlog import record

        where = record(exc)
        sys.stderr.write(f"promptgen: internal error: {type(exc).__name__}: {exc} (details: {where})\n")
        return errors.EXIT_INTERNAL

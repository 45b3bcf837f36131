"""Record an unexpected exception's traceback to a log file instead of showing it to the user."""
from __future__ import annotations

import os
import tempfile
import time
import traceback


def record(exc: BaseException) -> str:
    """Write the traceback to a temporary log file and return its path (or a note when that fails).
    Never raises: text that is not valid UTF-8 (e.g. a path's undecodable bytes) is written escaped."""
    try:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        fd, path = tempfile.mkstemp(prefix=f"promptgen-crash-{int(time.time())}-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(text)
        return path
    except Exception:
        return "no log written"

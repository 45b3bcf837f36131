"""Finding the project root and the raw configuration bytes. Only `os` and
`graph_cache.regular_files` are imported (no-op path).

The root is the folder that holds `.promptgen/` (the state directory): `--root` if given, else the
nearest ancestor of the current directory holding `.promptgen/`, else the current directory.
"""
from __future__ import annotations

import os

from graph_cache.regular_files import read_regular

STATE_DIR = ".promptgen"
CONFIG_FILE = "config.toml"


def find_root(explicit: str | None, cwd: str | None = None) -> str:
    """`--root` if given, else the nearest ancestor holding `.promptgen/`, else the current directory."""
    if explicit:
        path = os.path.abspath(explicit)
        if not os.path.isdir(path):
            from promptgen.errors import UsageError

            raise UsageError(f"--root {explicit}: not a directory")
        return path
    here = os.path.abspath(cwd or os.getcwd())
    probe = here
    while True:
        if os.path.isdir(os.path.join(probe, STATE_DIR)):
            return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            return here
        probe = parent


def config_bytes(root: str) -> bytes:
    """Raw bytes of every configuration source, for a cheap change check on the no-op path."""
    chunks = []
    for rel in (os.path.join(STATE_DIR, CONFIG_FILE), "pyproject.toml"):
        try:
            chunks.append(rel.encode() + b"\0" + read_regular(os.path.join(root, rel)))
        except OSError:  # missing, or not a regular file (a FIFO would block): config.py reports it
            chunks.append(rel.encode() + b"\0-")
    return b"\1".join(chunks)

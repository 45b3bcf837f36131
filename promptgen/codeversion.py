"""Code versions of node types: a digest of the source files behind each rule.

A rule's version key must change whenever the code that produces its output changes (a stale trace
would otherwise be trusted after an upgrade or an edit of a development install). Hand-maintained
version numbers get forgotten, so each rule family's version is the xxh3 digest of its modules' bytes.
"""
from __future__ import annotations

import os

HERE = os.path.dirname(os.path.abspath(__file__))
FAMILIES = {
    "doc": ("pipeline.py", "documents.py", "parse"),
    "model": ("pipeline.py", "documents.py", "results.py", "resolve.py", "fallbacks.py"),
    "status": ("pipeline.py", "documents.py", "results.py", "workflow.py", "parallel_plan.py", "fallbacks.py"),
    "prompt": ("pipeline.py", "documents.py", "results.py", "prompts.py", "prompt_blocks.py", "fallbacks.py"),
    "summary": ("pipeline.py", "answers.py", "summary.py"),
    "answers": ("pipeline.py", "answers.py", "report.py", "results.py", "summary.py"),  # and `answer:` fragments
}


def _sources(entry: str) -> list[str]:
    path = os.path.join(HERE, entry)
    if os.path.isdir(path):
        return sorted(os.path.join(path, n) for n in os.listdir(path) if n.endswith(".py"))
    return [path]


def code_version(family: str) -> str:
    """Digest of the source files of one rule family (`doc`, `model`, `status`, `prompt`, `summary`,
    `answers`)."""
    import xxhash

    h = xxhash.xxh3_128()
    for entry in FAMILIES[family]:
        for path in _sources(entry):
            h.update(os.path.basename(path).encode() + b"\0")
            h.update(_source_bytes(path))
    return h.hexdigest()


# path -> bytes, read once per process: several families share pipeline.py, documents.py..., and the code
# running in this process does not change either (modules are not reloaded).
_read: dict[str, bytes] = {}


def _source_bytes(path: str) -> bytes:
    got = _read.get(path)
    if got is None:
        try:
            with open(path, "rb") as fh:
                got = fh.read()
        except OSError:
            got = b"-"
        _read[path] = got
    return got


def source_stats() -> list[str]:
    """(name, mtime_ns, size) of every module of both packages: the no-op path's cheap code check."""
    out = []
    for folder in (HERE, os.path.join(HERE, "parse"), os.path.join(os.path.dirname(HERE), "graph_cache")):
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".py"))
        except OSError:
            continue
        for name in names:
            try:
                st = os.stat(os.path.join(folder, name))
            except OSError:
                continue
            out.append(f"{folder[-12:]}/{name}:{st.st_mtime_ns}:{st.st_size}")
    return out

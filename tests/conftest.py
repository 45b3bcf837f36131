"""Shared fixtures: a private copy of the methodology fixture workspace, and CLI runners."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
FIXTURE = DATA / "methodology-workspace"


@pytest.fixture
def expected() -> dict:
    return json.loads((DATA / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh copy of the fixture workspace (the test may edit it freely)."""
    root = tmp_path / "methodology-workspace"
    shutil.copytree(FIXTURE, root, symlinks=True)
    return root


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self):
        return json.loads(self.out)


def run_cli(*args: str, cwd: str | os.PathLike | None = None, env: dict | None = None,
            timeout: float = 120) -> CliResult:
    """Run `python -m promptgen ARGS` as a separate process (what users run)."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "promptgen", *args], capture_output=True, text=True,
                          cwd=cwd, env=full_env, timeout=timeout)
    assert "Traceback (most recent call last)" not in proc.stderr + proc.stdout, proc.stderr
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli():
    return run_cli


# Derived nodes degrade to an `internal-error` diagnostic on a bug; tests want the bug to raise.
os.environ.setdefault("PROMPTGEN_STRICT", "1")
os.environ.setdefault("PROMPTGEN_PARSE_STRICT", "1")
# A developer's running daemon (`promptgen daemon start`) never serves the tests' commands; the daemon's
# own tests start theirs and switch forwarding back on (tests/promptgen/test_daemon.py).
os.environ["PROMPTGEN_DAEMON"] = "0"


@pytest.fixture
def pool_calls(monkeypatch):
    """Per worker pool started (graph_cache.parallel.Pool): [nodes submitted, results received]; proves
    that the parallel path ran."""
    from graph_cache import parallel

    calls = []
    real_start, real_submit = parallel.Pool.start, parallel.Pool.submit

    def start(*a, **kw):
        pool = real_start(*a, **kw)
        if pool is not None:
            calls.append([0, 0])
        return pool

    def submit(self, task):
        fut = real_submit(self, task)
        if fut is not None:
            rec, real_result = calls[-1], fut.result
            rec[0] += len(task)

            def result(*a, **kw):
                items = real_result(*a, **kw)
                rec[1] += len(items[0])
                return items

            fut.result = result
        return fut

    monkeypatch.setattr(parallel.Pool, "start", start)
    monkeypatch.setattr(parallel.Pool, "submit", submit)
    return calls

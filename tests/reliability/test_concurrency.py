"""Concurrency: builds on the same root serialise on `.promptgen/state.lock` without corruption.

* 8 `build --json` processes started at once on a never-built root all exit 0; exactly one computes the
  graph and the 7 others (which waited for it) recompute nothing; a following build is all hits and
  `status --json` / the artifacts equal a clean build's.
* Mixed readers and builders at once give the same answers as a clean build.
* A waiter says on stderr that it waits, naming the lock file and the holder's PID (the test process
  holds the lock with `graph_cache.lock.StateLock`, so the contention is certain, not timing luck).
* `--lock-timeout SECONDS` (and `lock_timeout` in config.toml) ends with exit code 3 and a message
  naming `.promptgen/state.lock` and the holder; README documents exit code 3 on a line about the lock.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from graph_cache.lock import StateLock

try:
    from . import crashgen
except ImportError:  # pragma: no cover
    import crashgen  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[2]
COPIES = 3
WAIT_RE = re.compile(r"waiting for lock (\S+) held by PID (\d+)")


def start(*args: str, head_start: bool = True) -> subprocess.Popen:
    """`promptgen ARGS`; `head_start=False`: the build runs in the started process itself (its PID is
    the one a waiter names), not in a head-start child."""
    env = None if head_start else {**os.environ, "PROMPTGEN_HEAD_START": "0"}
    return subprocess.Popen([sys.executable, "-m", "promptgen", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def finish(proc: subprocess.Popen, timeout: float = 180) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    assert "Traceback" not in out + err, err
    return proc.returncode, out, err


def read_tree(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def clean_answers(base: Path, name: str = "clean") -> tuple[dict, dict[str, bytes]]:
    """status --json and artifacts of a clean build of a fresh generated workspace."""
    ws = crashgen.generate(base / name, COPIES)
    code, _, err = finish(start("build", "--root", str(ws), "--json"))
    assert code == 0, err
    code, out, err = finish(start("status", "--root", str(ws), "--json"))
    assert code == 0, err
    return json.loads(out), read_tree(ws / ".promptgen" / "artifacts")


def test_eight_concurrent_builds_serialise_and_agree_with_a_clean_build(tmp_path):
    ref_status, ref_artifacts = clean_answers(tmp_path)
    ws = crashgen.generate(tmp_path / "ws", COPIES)
    procs = [start("build", "--root", str(ws), "--json", head_start=False) for _ in range(8)]
    pids = {p.pid for p in procs}
    results = [finish(p) for p in procs]
    for code, _out, err in results:
        assert code == 0, err
        assert "discarded" not in err, err
    docs = [json.loads(out) for _, out, _ in results]
    total = docs[0]["nodes_total"]
    assert all(d["nodes_total"] == total for d in docs)
    # The lock serialises them: one build computed every node once, the others recomputed nothing.
    assert sorted(len(d["recomputed"]) for d in docs) == [0] * 7 + [total]
    assert all(d["diagnostics"] == docs[0]["diagnostics"] for d in docs)
    # Waiters said whom they waited for: a PID among the builders, never their own.
    waits = [(p.pid, WAIT_RE.search(err)) for p, (_, _, err) in zip(procs, results)]
    named = [(pid, m) for pid, m in waits if m]
    assert named, "no builder reported waiting for the lock (expected with 8 simultaneous builds)"
    for pid, m in named:
        assert m.group(1) == str(ws / ".promptgen" / "state.lock")
        assert int(m.group(2)) in pids - {pid}
    after = finish(start("build", "--root", str(ws), "--json"))
    assert after[0] == 0 and json.loads(after[1])["recomputed"] == []
    code, out, err = finish(start("status", "--root", str(ws), "--json"))
    assert code == 0, err
    assert json.loads(out) == ref_status
    assert read_tree(ws / ".promptgen" / "artifacts") == ref_artifacts
    known = {".gitignore", "artifacts", "history.jsonl", "manifest.bin", "state.db", "state.lock",
             "state.db.checked", "discovery.bin", "answers.bin"}
    assert sorted(e.name for e in (ws / ".promptgen").iterdir() if e.name not in known) == []  # no litter


def test_concurrent_builds_after_an_edit_and_readers_agree(tmp_path):
    """Builders and readers (`status`, `next`, `check`) at once, after an edit of a built workspace."""
    base = crashgen.generate(tmp_path / "clean", COPIES)
    crashgen.apply_variant(base, 2, COPIES)
    assert finish(start("build", "--root", str(base), "--json"))[0] == 0
    ref = {cmd: finish(start(*cmd, "--root", str(base), "--json"))
           for cmd in (("status",), ("next", "ORBIT-SYNC-C01"), ("check",), ("ready",))}
    ws = crashgen.generate(tmp_path / "ws", COPIES)
    assert finish(start("build", "--root", str(ws), "--json"))[0] == 0
    crashgen.apply_variant(ws, 2, COPIES)
    cmds = [("build",)] * 4 + [("status",), ("next", "ORBIT-SYNC-C01"), ("check",), ("ready",)]
    procs = [(cmd, start(*cmd, "--root", str(ws), "--json")) for cmd in cmds]
    for cmd, proc in procs:
        code, out, err = finish(proc)
        assert "discarded" not in err, err
        if cmd == ("build",):
            assert code == 0, err
        else:
            assert code == ref[cmd][0], err  # check exits 1: the workspace has errors on purpose
            assert json.loads(out) == json.loads(ref[cmd][1]), cmd
    code, out, _ = finish(start("build", "--root", str(ws), "--json"))
    assert code == 0 and json.loads(out)["recomputed"] == []


def _stderr_lines(proc: subprocess.Popen, sink: list[str], seen: threading.Event) -> None:
    for line in proc.stderr:
        sink.append(line)
        if "waiting for lock" in line:
            seen.set()


def test_waiter_reports_the_lock_and_holder_pid_then_builds(tmp_path):
    ws = crashgen.generate(tmp_path / "ws", 1)
    state = ws / ".promptgen"
    with StateLock(state, timeout=0):
        proc = subprocess.Popen([sys.executable, "-m", "promptgen", "build", "--root", str(ws), "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        seen = threading.Event()
        reader = threading.Thread(target=_stderr_lines, args=(proc, lines, seen), daemon=True)
        reader.start()
        assert seen.wait(60), f"no waiting message: {lines}"
        time.sleep(0.3)
        assert proc.poll() is None  # still waiting while we hold the lock
        assert not (state / "state.db").exists()  # and it touched no state
    out = proc.stdout.read()
    proc.wait(120)
    reader.join(10)
    err = "".join(lines)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    m = WAIT_RE.search(err)
    assert m and m.group(1) == str(state / "state.lock") and int(m.group(2)) == os.getpid(), err
    assert json.loads(out)["nodes_total"] > 0


def test_lock_timeout_exits_3_naming_the_lock(tmp_path, cli):
    ws = crashgen.generate(tmp_path / "ws", 1)
    state = ws / ".promptgen"
    with StateLock(state, timeout=0):
        t0 = time.monotonic()
        res = cli("build", "--root", str(ws), "--json", "--lock-timeout", "1")
        elapsed = time.monotonic() - t0
        assert res.code == 3, res.err
        assert res.out == ""
        assert ".promptgen/state.lock" in res.err and f"PID {os.getpid()}" in res.err, res.err
        assert len(res.err.strip().splitlines()) <= 2, res.err  # the wait notice + one error line
        assert 1.0 <= elapsed < 30
        res0 = cli("build", "--root", str(ws), "--lock-timeout", "0")
        assert res0.code == 3 and ".promptgen/state.lock" in res0.err, res0.err
        (state / "config.toml").write_text("lock_timeout = 0.5\n")  # the config setting, for readers too
        for args in (("status", "--json"), ("next", "ORBIT-SYNC-C01"), ("build",)):
            r = cli(*args, "--root", str(ws))
            assert r.code == 3 and ".promptgen/state.lock" in r.err, (args, r.err)
        assert not (state / "state.db").exists()
    res = cli("build", "--root", str(ws), "--json", "--lock-timeout", "1")
    assert res.code == 0, res.err


def test_readme_documents_exit_code_3_for_the_lock():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert any(re.match(r"\|\s*3\s*\|", line) and "lock" in line.lower() for line in lines)
    assert any("state.lock" in line for line in lines if re.match(r"\|\s*3\s*\|", line))


def test_a_killed_holder_never_blocks(tmp_path, cli):
    """A holder SIGKILLed while holding the lock leaves its PID in state.lock; the next run proceeds."""
    ws = crashgen.generate(tmp_path / "ws", 1)
    state = ws / ".promptgen"
    code = ("import sys, time\nfrom graph_cache.lock import StateLock\n"
            "with StateLock(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(120)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(state)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert (state / "state.lock").read_text().split()[0] == str(holder.pid)
    res = cli("build", "--root", str(ws), "--json", "--lock-timeout", "5")
    assert res.code == 0 and "waiting" not in res.err, res.err
    shutil.rmtree(state)

"""Crash safety: `promptgen build` SIGKILLed at random moments never needs manual cleanup.

Generated workspaces (`crashgen`, the fixture cloned 3 times: ~430 nodes) are built by
`python -m promptgen build --root WS --json` subprocesses that the test kills with SIGKILL after a seeded
random delay; two workspaces are crashed in parallel threads. Before each victim build the test changes
something so that the build has real work to do:

* `edit`   - switch the workspace to another edit variant (an incremental build after edits);
* `config` - toggle `size_cap_mib` in `.promptgen/config.toml` (every node's version changes: the whole
             state is rewritten over the existing one, the largest commit);
* `fresh`  - remove the cache (everything but config.toml): a cold build that creates state.db;
* `touch`  - move every file's mtime (content unchanged): re-hashing and a manifest refresh.

Half of the delays are uniform over the whole build, half fall in its tail (commit, artifacts,
manifest, history; measured from profiled clean builds, adapted when a victim finishes first). Half of
the cycles also kill the recovery build (a crash during recovery). After each kill (or pair) the next
build must:

* exit 0 with `--lock-timeout 5` (the killed holder's lock never blocks), with no traceback and no
  "discarded unusable build state" warning (a SIGKILL never corrupts state.db);
* give `status --json` and artifact files byte-identical to a clean build (a copy with no
  `.promptgen/`) of the same workspace;
* leave no temporary files behind in `.promptgen/` (nothing accumulates across crashes).

Where the kills landed (before the commit, inside it with a hot journal, after it) is measured on a
copy of the state and must cover both sides of the commit, so the test cannot pass vacuously.
Set CRASH_PROGRESS=1 to follow the cycles on stderr.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

try:
    from . import crashgen
except ImportError:  # pragma: no cover - run as a top-level module
    import crashgen  # type: ignore[no-redef]

COPIES = 3
CONFIG = "history_keep = 3\nsize_cap_mib = {cap}\n"
# Entries `.promptgen/` may hold after a successful build (anything else is litter from a crash).
STATE_ENTRIES = {"config.toml", ".gitignore", "state.db", "state.db.checked", "state.lock", "manifest.bin",
                 "discovery.bin", "answers.bin", "history.jsonl", "artifacts"}
SCENARIOS = (("edit", 0.45), ("config", 0.2), ("fresh", 0.2), ("touch", 0.15))


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "promptgen", *args], capture_output=True, text=True,
                          timeout=timeout)
    assert "Traceback (most recent call last)" not in proc.stdout + proc.stderr, proc.stderr
    return proc


def read_tree(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def _diff(a: bytes, b: bytes) -> str:
    import difflib

    return "\n".join(difflib.unified_diff(a.decode(errors="replace").splitlines(),
                                           b.decode(errors="replace").splitlines(), "clean", "after crashes",
                                           lineterm="", n=2))


class Reference:
    """status --json and the artifact files of a clean build of variant k."""

    def __init__(self, status: dict, artifacts: dict[str, bytes], wall: float, tail: float) -> None:
        self.status, self.artifacts, self.wall, self.tail = status, artifacts, wall, tail


def profiled_build(ws: Path) -> tuple[float, float]:
    """Run an uninterrupted build; return (wall seconds, seconds from the commit to the end)."""
    t0 = time.monotonic()
    res = run("build", "--root", str(ws), "--json", "--profile")
    wall = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    phases = json.loads(res.stdout).get("phases") or {}
    tail = sum(phases.get(p, 0.0) for p in ("collect", "render", "persist", "history")) + 0.3
    return wall, min(tail, wall)


def clean_reference(base: Path, variant: int) -> Reference:
    ws = crashgen.generate(base / f"clean-{variant}", COPIES)
    crashgen.apply_variant(ws, variant, COPIES)
    wall, tail = profiled_build(ws)
    res = run("status", "--root", str(ws), "--json")
    assert res.returncode == 0, res.stderr
    ref = Reference(json.loads(res.stdout), read_tree(ws / ".promptgen" / "artifacts"), wall, tail)
    shutil.rmtree(ws)
    return ref


def last_run_id(state: Path, scratch: Path) -> int | None:
    """last_run_id of the state as the next opener will see it: a copy (with its hot journal, if any)
    is opened, so SQLite rolls the copy back exactly as it will roll back the original."""
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir()
    if not (state / "state.db").exists():
        return None
    for name in ("state.db", "state.db-journal"):
        if (state / name).exists():
            shutil.copy2(state / name, scratch / name)
    conn = sqlite3.connect(scratch / "state.db")
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'last_run_id'").fetchone()
        return int(row[0]) if row else None
    except sqlite3.DatabaseError:
        return None
    finally:
        conn.close()


def references(tmp: Path) -> dict[int, Reference]:
    with ThreadPoolExecutor(2) as pool:
        return dict(zip(crashgen.VARIANTS, pool.map(lambda k: clean_reference(tmp, k), crashgen.VARIANTS)))


class Harness:
    """One workspace being built, killed and verified over and over (see the module docstring)."""

    def __init__(self, tmp: Path, seed: int, refs: dict[int, Reference]) -> None:
        self.rng = random.Random(seed)
        self.tmp = tmp
        tmp.mkdir()
        self.refs = refs
        self.ws = crashgen.generate(tmp / "ws", COPIES)
        self.state = self.ws / ".promptgen"
        self.state.mkdir()
        self.cap = 5
        self.write_config()
        self.variant = 0
        # Initial delay ranges from the clean reference builds; adapted when a victim finishes first.
        wall = max(r.wall for r in refs.values())
        tail = max(r.tail for r in refs.values())
        self.timing = {"fresh": (wall, tail), "config": (wall, tail), "edit": (0.7 * wall, tail),
                       "touch": (0.4 * wall, 0.1)}
        self.verify()
        self.last_verified_variant = self.variant
        self.kills = 0
        self.cycles = 0
        self.where: Counter = Counter()
        self.stale_lock_seen = 0
        # the build runs in the victim itself (a head-start child would hold the lock under its own
        # PID; that it dies with a killed parent is tests/promptgen/test_head_start.py's)
        self.env = {**os.environ, "PROMPTGEN_HEAD_START": "0"}

    # -- preparing a victim build -------------------------------------------------------------------
    def write_config(self) -> None:
        (self.state / "config.toml").write_text(CONFIG.format(cap=self.cap))

    def switch_variant(self, variant: int) -> None:
        assert crashgen.apply_variant(self.ws, variant, COPIES)
        self.variant = variant

    def touch(self) -> None:
        when = time.time() + self.rng.uniform(-1000, 1000)
        for p in self.ws.rglob("*"):
            if p.is_file() and ".promptgen" not in p.relative_to(self.ws).parts:
                os.utime(p, (when, when))

    def prepare(self, scenario: str) -> None:
        if scenario == "edit":
            self.switch_variant(self.rng.choice([v for v in crashgen.VARIANTS if v != self.variant]))
        elif scenario == "config":
            self.cap = 11 - self.cap  # 5 <-> 6: no document is that large, so results are unchanged
            self.write_config()
        elif scenario == "fresh":
            for entry in self.state.iterdir():
                if entry.name != "config.toml":
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        else:
            self.touch()

    def delay(self, scenario: str) -> float:
        wall, tail = self.timing[scenario]
        if self.rng.random() < 0.5:
            return self.rng.uniform(0.0, wall)
        return self.rng.uniform(max(wall - tail, 0.0), wall)

    # -- one victim ---------------------------------------------------------------------------------
    def victim(self, scenario: str, before: int | None) -> None:
        err = self.tmp / "victim.err"
        with open(err, "wb") as fh:
            proc = subprocess.Popen([sys.executable, "-m", "promptgen", "build", "--root", str(self.ws), "--json"],
                                    stdout=subprocess.DEVNULL, stderr=fh, env=self.env)
            t0 = time.monotonic()
            # Now and then let the victim live, to re-measure how long this kind of build takes (the
            # machine's load changes): the delays stay spread over the whole build, tail included.
            measure = self.rng.random() < 0.12
            deadline = t0 + (3600.0 if measure else self.delay(scenario))
            while proc.poll() is None and (left := deadline - time.monotonic()) > 0:
                time.sleep(min(left, 0.01))
            finished_after = time.monotonic() - t0
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                killed = True
            else:
                killed = False
        text = err.read_text(errors="replace")
        assert "Traceback" not in text, text
        if not killed:
            assert proc.returncode == 0, text
            self.where["measured" if measure else "finished-before-kill"] += 1
            wall, tail = self.timing[scenario]
            self.timing[scenario] = (0.5 * (wall + finished_after), tail)
            return
        self.kills += 1
        lock_text = (self.state / "state.lock").read_text() if (self.state / "state.lock").exists() else ""
        if lock_text.split()[:1] == [str(proc.pid)]:
            self.stale_lock_seen += 1  # the dead process still "holds" the lock file
        hot = (self.state / "state.db-journal").exists()
        after = last_run_id(self.state, self.tmp / "probe")
        if hot:
            where = "inside-commit"  # a hot journal: SQLite must roll it back
        elif after is not None and after != before:
            where = "after-commit"
        else:
            where = "before-commit"
        self.where[where] += 1
        self.where[f"{scenario}:{where}"] += 1

    # -- the check after a crash --------------------------------------------------------------------
    def verify(self, reverted: bool = False) -> None:
        res = run("build", "--root", str(self.ws), "--json", "--lock-timeout", "5")
        assert res.returncode == 0, res.stderr
        assert "discarded" not in res.stderr, res.stderr  # SIGKILL never corrupts state.db
        json.loads(res.stdout)
        status = run("status", "--root", str(self.ws), "--json")
        assert status.returncode == 0, status.stderr
        ref = self.refs[self.variant]
        assert json.loads(status.stdout) == ref.status, f"status differs from a clean build (variant {self.variant})"
        artifacts = read_tree(self.state / "artifacts")  # hidden files too: temp files of killed writers
        assert artifacts.keys() == ref.artifacts.keys(), f"reverted={reverted}"
        differing = [rel for rel in sorted(artifacts) if artifacts[rel] != ref.artifacts[rel]]
        assert not differing, f"artifacts differ from a clean build: {differing}\n" + _diff(
            ref.artifacts[differing[0]], artifacts[differing[0]])
        litter = sorted(e.name for e in self.state.iterdir() if e.name not in STATE_ENTRIES)
        assert litter == [], f"left behind in .promptgen/: {litter}"

    def cycle(self) -> None:
        scenario = self.rng.choices([s for s, _ in SCENARIOS], [w for _, w in SCENARIOS])[0]
        self.prepare(scenario)
        before = last_run_id(self.state, self.tmp / "probe")
        self.victim(scenario, before)
        previous = self.variant
        if self.rng.random() < 0.5:  # crash during recovery: kill the next build as well
            self.victim(scenario, last_run_id(self.state, self.tmp / "probe"))
        reverted = False
        if scenario == "edit" and self.rng.random() < 0.3:  # the user undoes the edit after the crash
            self.switch_variant(self.last_verified_variant)
            reverted = previous != self.variant
        self.verify(reverted)
        self.last_verified_variant = self.variant

    def run(self, kills: int, budget_cycles: int) -> Harness:
        while self.kills < kills:
            self.cycles += 1
            assert self.cycles <= budget_cycles, f"only {self.kills} kills in {self.cycles} cycles: {dict(self.where)}"
            self.cycle()
            if os.environ.get("CRASH_PROGRESS"):
                print(f"{self.tmp.name} cycle {self.cycles}: {self.kills} kills", file=sys.stderr, flush=True)
        # After all that, one more build recomputes nothing: the cache is consistent, not just usable.
        res = run("build", "--root", str(self.ws), "--json")
        assert res.returncode == 0 and json.loads(res.stdout)["recomputed"] == [], res.stderr
        return self


def campaign(tmp: Path, seed: int, kills: int, workers: int = 2) -> None:
    """`kills` SIGKILLs spread over `workers` workspaces crashed in parallel."""
    refs = references(tmp)
    per_worker = -(-kills // workers)
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(lambda i: Harness(tmp / f"worker{i}", seed * 100 + i, refs).run(per_worker, 3 * per_worker),
                               i) for i in range(workers)]
        harnesses = [f.result() for f in futures]
    where = sum((h.where for h in harnesses), Counter())
    total = sum(h.kills for h in harnesses)
    stale = sum(h.stale_lock_seen for h in harnesses)
    print(f"\n{total} kills in {sum(h.cycles for h in harnesses)} cycles; where: {dict(sorted(where.items()))}; "
          f"stale lock files: {stale}; "
          f"timing: {[h.timing for h in harnesses]}")
    assert total >= kills
    # Not vacuous: kills landed on both sides of the commit, and killed holders left their PID behind.
    assert where["before-commit"] >= 1, where
    assert where["after-commit"] + where["inside-commit"] >= 1, where
    assert stale >= 1


def test_sigkill_at_random_moments_never_needs_cleanup(tmp_path):
    """>= 50 SIGKILLs (CI run, about 1.5-2 minutes on 2 CPUs)."""
    campaign(tmp_path, seed=20240611, kills=50)


@pytest.mark.slow
def test_sigkill_at_random_moments_never_needs_cleanup_long(tmp_path):
    """>= 200 SIGKILLs with another seed (slow marker)."""
    campaign(tmp_path, seed=7130, kills=200)


def _dead_pid() -> int:
    """The PID of a process that has exited (what a SIGKILLed writer leaves in its temp file names)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temp_files_of_killed_state_writers_are_swept(tmp_path, cli):
    """What a SIGKILL in the middle of an atomic write leaves in `.promptgen/` (the temp file of
    `Store` creating state.db, of `write_atomic` saving the manifest, the state dir's write probe) is
    removed by the next build;
    a live process's temp file is left alone."""
    ws = crashgen.generate(tmp_path / "ws", 1)
    assert cli("build", "--root", str(ws), "--json").code == 0
    state = ws / ".promptgen"
    dead = _dead_pid()
    leftovers = [f"state.db.{dead}.new", f"state.db.{dead}.new-journal", f".manifest.bin.{dead}.tmp",
                 f".write-probe.{dead}.tmp"]  # (killed between creating and removing the write probe)
    for name in leftovers:
        (state / name).write_bytes(b"partial")
    live = f".manifest.bin.{os.getpid()}.tmp"  # this process is alive: could be mid-write
    (state / live).write_bytes(b"in progress")
    crashgen.apply_variant(ws, 1, 1)  # the next build must do real work (not the no-op fast path)
    res = cli("build", "--root", str(ws), "--json", "--lock-timeout", "5")
    assert res.code == 0, res.err
    names = {e.name for e in state.iterdir()}
    assert not names & set(leftovers)
    assert live in names


def test_a_build_killed_during_its_write_probe_leaves_nothing_behind(tmp_path, cli):
    """The state dir's write probe (`service.ensure_state_dir`) of a process killed between creating
    and removing it is swept by the next build: it is named as the atomic writers' temp files."""
    ws = crashgen.generate(tmp_path / "ws", 1)
    assert cli("build", "--root", str(ws), "--json").code == 0
    killed = ("import os, sys\n"
              "from promptgen import config, service\n"
              "service.os.unlink = lambda path: os._exit(9)  # dies right after creating the probe\n"
              "service.ensure_state_dir(config.load_config(sys.argv[1]))\n")
    proc = subprocess.Popen([sys.executable, "-c", killed, str(ws)], stderr=subprocess.PIPE, text=True)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 9, err
    state = ws / ".promptgen"
    assert [n.name for n in state.iterdir() if "probe" in n.name] == [f".write-probe.{proc.pid}.tmp"]
    crashgen.apply_variant(ws, 1, 1)  # the next build must do real work (not the no-op fast path)
    assert cli("build", "--root", str(ws), "--json").code == 0
    assert [n.name for n in state.iterdir() if "probe" in n.name] == []


def test_killed_artifact_writer_leaves_no_temp_file(tmp_path, cli):
    """A build killed while `artifacts.write_if_changed` writes its temp file (before its os.replace)
    leaves it in the artifacts folder; the next build removes it (consumers of `.promptgen/artifacts/`
    or `--out DIR` must not see a stray `status.json.tmp-1234`). Only our exact temp names of dead
    PIDs go: a live writer's temp file and the user's own files stay."""
    ws = crashgen.generate(tmp_path / "ws", 1)
    assert cli("build", "--root", str(ws), "--json").code == 0
    art = ws / ".promptgen" / "artifacts"
    dead = _dead_pid()
    plan = art / "plans" / "ORBIT-SYNC"
    stray = [plan / f"status.json.tmp-{dead}", art / f"summary.md.tmp-{dead}",  # promptgen 0.1's names
             plan / f".next.md.{dead}.tmp", art / f"..promptgen-artifacts.json.{dead}.tmp"]
    kept = [art / ".graph.json.1.tmp", art / f"notes.md.tmp-{dead}", plan / f".status.json.{dead}.tmp.bak"]
    for p in stray + kept:
        p.write_text("partial")
    crashgen.apply_variant(ws, 1, 1)
    res = cli("build", "--root", str(ws), "--json", "--lock-timeout", "5")
    assert res.code == 0, res.err
    assert [p.name for p in stray if p.exists()] == []
    assert all(p.exists() for p in kept)


def test_sweep_removes_only_dead_writers_temp_files(tmp_path):
    """In-process unit test of `graph_cache.store_db.sweep_stale_temp_files` (what `Store.open` runs)."""
    from graph_cache.store import Store
    from graph_cache.store_db import sweep_stale_temp_files

    dead = _dead_pid()
    names = {
        f"state.db.{dead}.new": False, f"state.db.{dead}.new-journal": False, f".manifest.bin.{dead}.tmp": False,
        f".manifest.bin.{os.getpid()}.tmp": True,  # alive: kept
        ".manifest.bin.1.tmp": True,  # PID 1 runs
        ".x." + "9" * 200 + ".tmp": True,  # not a possible PID: kept, no crash
        f"state.db.{dead}": True, f"notes.{dead}.tmp": True, "history.jsonl.tmp": True,  # not ours: kept
    }
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    assert sorted(sweep_stale_temp_files(str(tmp_path))) == sorted(n for n, keep in names.items() if not keep)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for n, keep in names.items() if keep)
    (tmp_path / f".manifest.bin.{dead}.tmp").write_bytes(b"x")
    store, warning = Store.open(tmp_path)
    store.close()
    assert warning is None and not (tmp_path / f".manifest.bin.{dead}.tmp").exists()


# Runs the CLI with a SIGKILL at the exact moment a build has rewritten artifact files and is about to
# save `.promptgen-artifacts.json` for them (before the manifest too).
KILL_AT_ARTIFACT_STATE_SAVE = """
import os, signal, sys
from promptgen import artifacts
real, wrote = artifacts.write_if_changed, []
def write(path, text):
    if os.path.basename(path) == artifacts.STATE_FILE and wrote:
        os.kill(os.getpid(), signal.SIGKILL)
    wrote.append(path)
    return real(path, text)
artifacts.write_if_changed = write
from promptgen.entry import main
main(sys.argv[1:])
"""


def test_artifacts_of_a_killed_build_are_not_trusted_after_a_revert(tmp_path, cli):
    """Build A; edit to B; the build of B is SIGKILLed after it rewrote B's artifact files, before it
    saved the artifact state file and the manifest; the user reverts to A and builds. The artifacts
    must be A's, byte for byte (those of a clean build of A)."""
    clean = crashgen.generate(tmp_path / "clean", 1)
    assert cli("build", "--root", str(clean)).code == 0
    ws = crashgen.generate(tmp_path / "ws", 1)
    assert cli("build", "--root", str(ws)).code == 0
    crashgen.apply_variant(ws, 1, 1)
    killed = subprocess.run([sys.executable, "-c", KILL_AT_ARTIFACT_STATE_SAVE, "build", "--root", str(ws)],
                            capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    crashgen.apply_variant(ws, 0, 1)
    res = cli("build", "--root", str(ws), "--json", "--lock-timeout", "5")
    assert res.code == 0, res.err
    got, ref = read_tree(ws / ".promptgen" / "artifacts"), read_tree(clean / ".promptgen" / "artifacts")
    assert sorted(rel for rel in got.keys() | ref.keys() if got.get(rel) != ref.get(rel)) == []

"""The head-start child (promptgen/head_start.py), forked for real by the console entry point.

A command that goes through the head start must answer exactly what it answers in-process (stdout,
stderr, exit code, artifacts); the history's `ran_in` proves which process ran each build. A command
the fast path answers leaves no child behind (the child is killed, having written nothing); the child
holds none of the caller's descriptors until it is handed them, keeps off its parent's CPU while it
warms up and takes every CPU back before it runs; Ctrl-C reaches it once; a child that cannot start
the command leaves it to the parent.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from graph_cache.lock import StateLock
from promptgen import head_start

pytestmark = pytest.mark.skipif(sys.platform != "linux" or not hasattr(os, "fork"), reason="Linux fork only")

DOC = "plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_32_01.md"
STATUS_DOC = "plans/LANTERN-INDEX/PLAN_LANTERN-INDEX.md"


def env(mode: str) -> dict:
    """`on`: always a head start (whatever the machine's load), `off`: never; no daemon either way."""
    return {**os.environ, "PROMPTGEN_DAEMON": "0", head_start.ENV_SWITCH: "1" if mode == "on" else "0"}


def run(args, mode: str, cwd, timeout=120) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "promptgen", *args], capture_output=True, text=True,
                          env=env(mode), cwd=cwd, stdin=subprocess.DEVNULL, timeout=timeout)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


def edit(root: Path, rel: str, note: str) -> None:
    path = root / rel
    path.write_bytes(path.read_bytes() + f"\n- {note}\n".encode())


def last_record(root: Path) -> dict:
    return json.loads((root / ".promptgen" / "history.jsonl").read_text().splitlines()[-1])


def test_commands_through_the_head_start_answer_what_in_process_ones_answer(workspace, tmp_path):
    other = tmp_path / "copy"
    shutil.copytree(workspace, other, symlinks=True)
    sides = {"on": workspace, "off": other}

    def both(args, expect_ran_in: bool = True):
        got = {mode: run(args, mode, root) for mode, root in sides.items()}
        norm = [(p.returncode, re.sub(r'elapsed [0-9.]+ ms|"elapsed_s":[0-9.e-]+', "-", p.stdout), p.stderr)
                for p in got.values()]
        assert norm[0] == norm[1]
        if expect_ran_in:
            assert {m: last_record(r).get("ran_in") for m, r in sides.items()} == {"on": "head-start",
                                                                                    "off": "process"}
        return got["on"]

    assert both(["build"]).returncode == 0  # cold
    for root in sides.values():
        edit(root, DOC, "an iteration note")
    assert both(["build", "--json"]).returncode == 0  # an edit
    assert both(["status", "--json"], expect_ran_in=False).returncode == 0  # the fast path answers
    for root in sides.values():
        edit(root, STATUS_DOC, "a plan note")
    both(["check", "--json"])  # falls through to the typer CLI, in the child
    art = {mode: {str(f.relative_to(r / ".promptgen" / "artifacts")): f.read_bytes()
                  for f in (r / ".promptgen" / "artifacts").rglob("*") if f.is_file() and f.suffix != ".tmp"}
           for mode, r in sides.items()}
    art = {mode: {k: v for k, v in files.items() if k != "graph.json"} for mode, files in art.items()}
    assert art["on"] == art["off"] and art["on"]


SUBREAPER = textwrap.dedent("""
    # Runs one promptgen command as a child subreaper: its orphans (the head-start child, once the
    # command's process has left) are reparented here and reaped, and reported as JSON.
    import ctypes, json, os, subprocess, sys, time
    assert ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    proc = subprocess.run([sys.executable, "-m", "promptgen", *sys.argv[1:]], capture_output=True)
    orphans, deadline = [], time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            orphans.append([os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0,
                            os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0])
        else:
            time.sleep(0.01)
    print(json.dumps({"code": proc.returncode, "orphans": orphans}))
""")


def orphans_of(args, root: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", SUBREAPER, *args], capture_output=True, text=True,
                         env=env("on"), cwd=root, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_command_the_fast_path_answers_kills_its_head_start_child(workspace):
    """The child exists (it is reaped here), was killed by the parent, and wrote nothing. A child that ran
    the command is reaped by the command itself (its CPU time and memory count as the command's)."""
    assert run(["build"], "off", workspace).returncode == 0
    before = (workspace / ".promptgen" / "history.jsonl").read_text().count("\n")
    got = orphans_of(["status", "--json"], workspace)
    assert got == {"code": 0, "orphans": [[signal.SIGKILL, 0]]}
    assert (workspace / ".promptgen" / "history.jsonl").read_text().count("\n") == before + 1
    assert last_record(workspace)["fast_path"] is True  # the fast path's record only
    edit(workspace, DOC, "an iteration note")
    got = orphans_of(["build"], workspace)
    assert got == {"code": 0, "orphans": []}  # it ran the build, and the command reaped it
    assert last_record(workspace)["ran_in"] == "head-start"


HARNESS = textwrap.dedent("""
    # Starts a head-start child for `build` in this process (as the console entry point does), with the
    # command replaced by a report of the child's CPUs and descriptors, and prints what it saw.
    import json, os, sys
    from promptgen import entry, head_start

    def descriptors(pid):
        fds = {}
        for n in os.listdir(f"/proc/{pid}/fd"):
            try:
                fds[n] = os.readlink(f"/proc/{pid}/fd/{n}")
            except OSError:  # closed meanwhile (the listing's own, or a file the child read)
                pass
        return fds

    def report(argv):
        fds = descriptors("self")
        import gc, threading
        print(json.dumps({"cpus": sorted(os.sched_getaffinity(0)), "fds": fds,
                          "threads": threading.active_count(), "frozen": gc.get_freeze_count()}), flush=True)
        return 7

    entry.run_in_child = report
    extra, _ = os.pipe()  # a descriptor the caller left open
    callers = [os.readlink(f"/proc/self/fd/{n}") for n in (0, 1, 2, extra)]
    hs = head_start.start(["build"])
    line = b""
    while not line.endswith(b"\\n"):
        line += hs.sock.recv(1)
    assert line == b"ready\\n"
    fds = descriptors(hs.pid)
    with open(f"/proc/{hs.pid}/status") as fh:
        warming = [l.split(":", 1)[1].strip() for l in fh if l.startswith("Cpus_allowed_list")][0]
    print(json.dumps({"warming_fds": fds, "warming_cpus": warming, "callers": callers,
                      "mine": sorted(os.sched_getaffinity(0))}), flush=True)
    mode = sys.argv[1]
    if mode == "kill":
        os.kill(hs.pid, 9)
        print(json.dumps({"complete": hs.complete()}))
    else:  # what complete() does after 'ready' (taken above)
        from promptgen import daemon_client, handoff
        daemon_client._send_streams(hs.sock, [0, 1, 2], handoff.export())
        for line in daemon_client._lines(hs.sock):
            if line.startswith("exit"):
                print(json.dumps({"exit": int(line.split()[1])}))
                break
""")


def harness(mode: str, root: Path) -> list[dict]:
    out = subprocess.run([sys.executable, "-c", HARNESS, mode], capture_output=True, text=True,
                         env=env("on"), cwd=root, timeout=120)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def cpu_list(text: str) -> set[int]:
    """`Cpus_allowed_list` ("0-3,6") as a set."""
    cpus = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def test_the_child_holds_none_of_the_callers_descriptors_and_keeps_off_its_cpu(workspace):
    """... and runs the command with every CPU back, no other thread (a cold build forks workers) and its
    warm heap frozen."""
    assert run(["build"], "off", workspace).returncode == 0
    edit(workspace, DOC, "an iteration note")
    warming, ran, done = harness("run", workspace)
    held = warming["warming_fds"]
    assert [held[n] for n in ("0", "1", "2")] == ["/dev/null"] * 3
    assert not set(held.values()) & set(warming["callers"][1:])  # (stdout, stderr and the extra: pipes)
    assert sum(t.startswith("socket:") for t in held.values()) == 1  # its end of the socket pair
    mine = set(warming["mine"])
    if len(mine) >= 2:  # kept off one CPU (the parent's) while warming up
        assert len(cpu_list(warming["warming_cpus"])) == len(mine) - 1
    assert set(ran["cpus"]) == mine  # every CPU back before the command runs
    assert ran["threads"] == 1  # no other thread: a cold build may fork its worker pool
    assert ran["frozen"] > 10_000  # the warm heap (imports, validators, read-ahead): no collection traverses it
    assert ran["fds"]["1"] == warming["callers"][1] and done == {"exit": 7}


def test_a_child_that_cannot_start_the_command_leaves_it_to_the_parent(workspace):
    assert run(["build"], "off", workspace).returncode == 0
    _warming, result = harness("kill", workspace)
    assert result == {"complete": None}


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def _running_command(pid: int) -> bool:
    """Whether the head-start child of `pid` has the caller's stdout (it runs the command)."""
    for kid in _children(pid):
        try:
            if os.readlink(f"/proc/{kid}/fd/1") != "/dev/null":
                return True
        except OSError:
            pass
    return False


@pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
                    reason="needs /proc/PID/task/TID/children")
@pytest.mark.parametrize("to", ["parent", "group"])
def test_ctrl_c_reaches_the_command_once(workspace, to):
    """To the parent alone (`kill -INT`) or to the whole process group (the terminal's Ctrl-C): the
    child raises KeyboardInterrupt once and the command exits 130."""
    assert run(["build"], "off", workspace).returncode == 0
    edit(workspace, DOC, "an iteration note")
    with StateLock(workspace / ".promptgen", timeout=0):  # the child's build waits for this lock
        proc = subprocess.Popen([sys.executable, "-m", "promptgen", "build"],  # (no lock timeout: waits)
                                cwd=workspace, env=env("on"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        deadline = time.monotonic() + 30
        while not _running_command(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _running_command(proc.pid)
        time.sleep(0.3)  # waiting for the lock by now
        if to == "parent":
            proc.send_signal(signal.SIGINT)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.count("interrupted") == 1 and "Traceback" not in err
    assert run(["build"], "on", workspace).returncode == 0  # nothing left half-done


def _gone(pid: int, within: float = 10) -> bool:
    """Whether process `pid` has exited (gone, or a zombie nobody reaped yet) within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except OSError:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
                    reason="needs /proc/PID/task/TID/children")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_command_takes_its_build_with_it(workspace, sig):
    """`kill -9` (or a CI job's SIGTERM) of the command stops a build its head-start child runs, as it
    stops an in-process one; SIGTERM ends the command by the same signal."""
    assert run(["build"], "off", workspace).returncode == 0
    edit(workspace, DOC, "an iteration note")
    with StateLock(workspace / ".promptgen", timeout=0):
        proc = subprocess.Popen([sys.executable, "-m", "promptgen", "build"], cwd=workspace, env=env("on"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not _running_command(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        [child] = _children(proc.pid)
        proc.send_signal(sig)
        proc.communicate(timeout=30)
        assert proc.returncode == -sig
        assert _gone(child)
    assert run(["build"], "on", workspace).returncode == 0


def test_no_head_start_when_switched_off_or_for_commands_the_fast_path_never_serves(monkeypatch):
    monkeypatch.setenv(head_start.ENV_SWITCH, "0")
    assert head_start.start(["build"]) is None
    monkeypatch.setenv(head_start.ENV_SWITCH, "1")
    assert head_start.start(["next", "PLAN"]) is None  # the typer CLI runs it in-process
    assert head_start.start(["build", "--profile"]) is None


def test_a_small_workspace_runs_in_process_a_large_or_never_built_one_gets_a_head_start(workspace, monkeypatch):
    """The walk of a small workspace is too short to hide the child's imports (`_walk_worth_it`, by the
    size of the last manifest); a never-built one gets one (cold builds ran faster through it). An
    explicit `PROMPTGEN_HEAD_START=1` overrides the guess."""
    monkeypatch.chdir(workspace)
    assert head_start._walk_worth_it(None)  # never built
    assert not head_start._walk_worth_it(str(workspace / "missing"))  # the command reports it
    assert run(["build"], "off", workspace).returncode == 0
    manifest = workspace / ".promptgen" / "manifest.bin"
    assert manifest.stat().st_size < head_start.MIN_MANIFEST_BYTES
    assert not head_start._walk_worth_it(None) and not head_start._walk_worth_it(str(workspace))
    monkeypatch.delenv(head_start.ENV_SWITCH, raising=False)
    assert head_start.start(["build"]) is None  # (no fork here: the guess said no)
    edit(workspace, DOC, "an iteration note")
    plain = {**os.environ, "PROMPTGEN_DAEMON": "0"}
    plain.pop(head_start.ENV_SWITCH, None)
    assert subprocess.run([sys.executable, "-m", "promptgen", "build"], cwd=workspace, env=plain,
                          capture_output=True).returncode == 0
    assert last_record(workspace)["ran_in"] == "process"
    with open(manifest, "r+b") as fh:  # as large as a ~5000-file workspace's
        fh.truncate(head_start.MIN_MANIFEST_BYTES)
    assert head_start._walk_worth_it(None)

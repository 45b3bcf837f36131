"""The build daemon (daemon.py, daemon_client.py, daemon_control.py), started for real on a Unix socket.

Every command forwarded to it must answer exactly what the same command answers in-process (stdout,
stderr, exit code, files), with the client's directory, environment and descriptors; the daemon's
`served` count proves the command went through it. Whenever the daemon cannot serve (stopped, killed,
stale code, another installation, a folder others may write), the command still runs, in-process.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from graph_cache.lock import StateLock
from promptgen import daemon, daemon_client

pytestmark = pytest.mark.skipif(not daemon_client.supported(), reason="needs fork() and Unix sockets")


def run(args, env, cwd=None, stdin=subprocess.DEVNULL, timeout=120):
    proc = subprocess.run([sys.executable, "-m", "promptgen", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, stdin=stdin, timeout=timeout)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


@pytest.fixture
def sockets():
    """A private socket folder short enough for AF_UNIX (tmp_path may exceed 108 bytes)."""
    folder = tempfile.mkdtemp(prefix="pgd", dir="/tmp")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def env(sockets):
    """Environments forwarding to the test's own daemon (`on`) and running in-process (`off`)."""
    base = {**os.environ, daemon_client.ENV_DIR: sockets}
    on = {k: v for k, v in base.items() if k != daemon_client.ENV_SWITCH}
    return {"on": on, "off": {**base, daemon_client.ENV_SWITCH: "0"}}


@pytest.fixture
def running(env):
    """A started daemon; stopped (or killed) afterwards."""
    proc = run(["daemon", "start", "--json"], env["on"])
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["running"] and doc["started_now"]
    yield doc
    run(["daemon", "stop"], env["on"])
    try:
        os.kill(doc["pid"], signal.SIGKILL)
    except OSError:
        pass


def served(env) -> int:
    proc = run(["daemon", "status", "--json"], env["on"])
    return json.loads(proc.stdout)["served"] if proc.returncode == 0 else -1


def same(a, b) -> None:
    def norm(text):
        return re.sub(r"elapsed [0-9.]+ ms", "elapsed - ms", text)

    assert (a.returncode, norm(a.stdout), a.stderr) == (b.returncode, norm(b.stdout), b.stderr)


def test_forwarded_commands_answer_what_in_process_ones_answer(workspace, env, running, tmp_path):
    first = run(["build", "--json"], env["on"], cwd=workspace)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["by_type"]["plan"]["miss"] > 0  # the daemon's child built it
    assert served(env) == 1
    for args in (["build"], ["status", "--json"], ["check"]):  # nothing changed: the client's fast path
        same(run(args, env["on"], cwd=workspace), run(args, env["off"], cwd=workspace))
    assert served(env) == 1
    cases = [["status"], ["check", "--format", "github"], ["status", "NO-SUCH-PLAN"], ["next", "LANTERN-INDEX"],
             ["explain", "--last", "--json"], ["graph", "--format", "mermaid"], ["build", "--bogus-option"],
             ["--version"]]
    for args in cases:
        same(run(args, env["on"], cwd=workspace), run(args, env["off"], cwd=workspace))
    assert served(env) == 1 + len(cases)
    twin = tmp_path / "twin"  # the same edit, built in-process there and through the daemon here
    shutil.copytree(workspace, twin, symlinks=True)
    for root in (workspace, twin):
        doc = next(root.rglob("EXECUTION_TASK_LANTERN-INDEX_*.md"))
        doc.write_text(doc.read_text(encoding="utf-8") + "\n**Status**: ✅ Complete\n", encoding="utf-8")
    a, b = run(["build", "--json"], env["on"], cwd=workspace), run(["build", "--json"], env["off"], cwd=twin)
    assert served(env) == 2 + len(cases)
    assert json.loads(a.stdout)["by_type"] == json.loads(b.stdout)["by_type"]
    for args in (["status", "--json"], ["check", "--json"]):
        assert run(args, env["off"], cwd=workspace).stdout == run(args, env["off"], cwd=twin).stdout
    codes = {run(a, env["on"], cwd=workspace).returncode for a in (["check"], ["status", "NO-SUCH-PLAN"])}
    assert codes == {1, 2}


def test_the_clients_walk_is_taken_over_by_the_child(workspace, monkeypatch):
    """handoff.export/install: what the fast path kept when it fell through, rebuilt in another process
    with the identity `scan.take_remembered` / `handoff.take` need, so the child does not walk again."""
    from promptgen import fastpath, handoff, scan

    assert run(["build"], {**os.environ}, cwd=workspace).returncode == 0
    docs = sorted(workspace.rglob("EXECUTION_TASK_*.md"))
    doc, touched = docs[0], docs[1]
    doc.write_text(doc.read_text(encoding="utf-8") + "\nmore\n", encoding="utf-8")
    later = time.time() - 3600  # a new stat, the same bytes (not racily clean): a touched file
    os.utime(touched, (later, later))
    monkeypatch.chdir(workspace)
    assert fastpath.try_run(["build"]) is None  # fell through, keeping its walk and comparison
    root = os.path.abspath(str(workspace))
    kept = scan.remembered_walks()[root]
    before = handoff._pending[root]
    blob = handoff.export()
    scan._remembered.clear()
    handoff._pending.clear()
    handoff.install(blob)
    files, containers, notes = scan.take_remembered(root)
    assert (files, list(containers), notes) == kept
    got = handoff.take(root, files)
    assert got is not None and got.walk is files
    assert (got.snapshot, got.changed, got.touched, got.digests) == (before.snapshot, before.changed,
                                                                     before.touched, before.digests)
    assert doc.relative_to(workspace).as_posix() in got.changed
    record = got.touched[touched.relative_to(workspace).as_posix()]
    assert type(record.stat) is type(before.touched[touched.relative_to(workspace).as_posix()].stat)


def test_a_command_the_fast_path_answers_leaves_no_child_behind(workspace, env, running):
    """The client announces every command before its fast path runs, and the daemon forks a child for
    it at once; a no-op answered by the fast path closes the connection: that child leaves without
    running anything (not counted as served)."""
    assert run(["build"], env["off"], cwd=workspace).returncode == 0
    before = served(env)
    proc = run(["status", "--json"], env["on"], cwd=workspace)
    assert proc.returncode == 0 and json.loads(proc.stdout)["plans"]
    deadline = time.monotonic() + 20
    while _children(running["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _children(running["pid"]) == [] and served(env) == before


def test_what_a_child_reads_ahead_is_used_only_if_the_state_still_holds_it(workspace, monkeypatch, cli):
    """daemon_child.read_ahead decodes the discovery cache and the graph index before the build (outside
    the lock); the build takes them when the files still hold the same contents, and reads afresh when
    another build changed them in between."""
    from graph_cache import graph_index
    from promptgen import daemon_child, discovery_cache, fastpath, service

    root = str(workspace)
    monkeypatch.chdir(workspace)
    assert cli("build", "--root", root).code == 0
    doc = next(workspace.rglob("EXECUTION_TASK_*.md"))
    for other_build_between in (False, True):
        daemon_child.read_ahead(["build"])
        assert discovery_cache._ahead is not None and graph_index._ahead
        doc.write_text(doc.read_text(encoding="utf-8") + "\nmore\n", encoding="utf-8")
        if other_build_between:  # a new plan: another discovery, another graph
            new = workspace / "plans" / "LANTERN-COPY"
            shutil.copytree(workspace / "plans" / "LANTERN-INDEX", new)
            for f in list(new.rglob("*LANTERN-INDEX*")):
                f.rename(f.with_name(f.name.replace("LANTERN-INDEX", "LANTERN-COPY")))
            assert cli("build", "--root", root).code == 0
            doc.write_text(doc.read_text(encoding="utf-8") + "\nmore\n", encoding="utf-8")
        taken = []
        monkeypatch.setattr(graph_index.GraphIndex, "decode", classmethod(
            lambda cls, blob, real=graph_index.GraphIndex.decode.__func__: taken.append(blob) or real(cls, blob)))
        assert fastpath.try_run(["build"]) is None
        outcome = service.build(root)
        outcome.close()
        monkeypatch.undo()
        monkeypatch.chdir(workspace)
        assert discovery_cache._ahead is None and not graph_index._ahead  # taken or dropped: once
        assert outcome.result.mode == "changes" and outcome.counts.recomputed
        assert bool(taken) is other_build_between  # decoded again only when the state had changed
        assert ("LANTERN-COPY" in outcome.collected.names) is other_build_between


def test_the_child_works_in_the_clients_directory_environment_and_streams(workspace, env, running, tmp_path):
    sub = workspace / "plans"
    gh_env = {**env["on"], "GITHUB_WORKSPACE": str(workspace.parent)}  # check --format github reads it
    a = run(["check", "--format", "github"], gh_env, cwd=sub)
    b = run(["check", "--format", "github"], {**gh_env, daemon_client.ENV_SWITCH: "0"}, cwd=sub)
    same(a, b)
    assert "file=methodology-workspace/plans/" in a.stdout
    out = tmp_path / "out.json"
    with open(out, "w") as fh:  # stdout is a file the client opened; stdin is closed
        proc = subprocess.run([sys.executable, "-m", "promptgen", "status", "--json"], cwd=workspace,
                              env=env["on"], stdout=fh, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                              close_fds=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["plans"]
    assert served(env) == 2


def test_ctrl_c_reaches_the_forwarded_command(workspace, env, running):
    run(["build"], env["off"], cwd=workspace)
    with StateLock(workspace / ".promptgen", timeout=0):  # the forwarded build waits for this lock
        proc = subprocess.Popen([sys.executable, "-m", "promptgen", "build", "--lock-timeout", "60"],
                                cwd=workspace, env=env["on"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + 30
        while served(env) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the child is waiting for the lock by now
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


@pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
                    reason="needs /proc/PID/task/TID/children")
def test_a_killed_child_is_reported_not_hidden(workspace, env, running):
    run(["build"], env["off"], cwd=workspace)
    with StateLock(workspace / ".promptgen", timeout=0):
        proc = subprocess.Popen([sys.executable, "-m", "promptgen", "build", "--lock-timeout", "60"],
                                cwd=workspace, env=env["on"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + 30
        while served(env) < 1 and time.monotonic() < deadline:  # the child runs the command (not just
            time.sleep(0.05)  # forked for it: killed then, the client would run it in-process)
        for kid in _children(running["pid"]):
            os.kill(kid, signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 70
    assert "ended without an exit status" in err and "PROMPTGEN_DAEMON=0" in err
    assert run(["build", "--json"], env["on"], cwd=workspace).returncode == 0  # the daemon still serves


def test_commands_run_in_process_when_no_daemon_answers(workspace, env, running, sockets):
    path = running["socket"]
    os.kill(running["pid"], signal.SIGKILL)  # leaves its socket file behind
    deadline = time.monotonic() + 10
    while daemon_client.request("ping", path, timeout=0.5) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.path.exists(path)
    proc = run(["build", "--json"], env["on"], cwd=workspace)
    assert proc.returncode == 0 and json.loads(proc.stdout)["by_type"]["plan"]["miss"] > 0
    again = run(["daemon", "start", "--json"], env["on"])  # replaces the dead socket
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["pid"] != running["pid"]
    running["pid"] = json.loads(again.stdout)["pid"]
    assert json.loads(run(["daemon", "start", "--json"], env["on"]).stdout)["started_now"] is False
    stopped = run(["daemon", "stop"], env["on"])
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not os.path.exists(path)
    assert run(["daemon", "status"], env["on"]).returncode == 1
    proc = run(["status", "--json"], env["on"], cwd=workspace)
    assert proc.returncode == 0 and json.loads(proc.stdout)["plans"]


def test_a_folder_others_may_write_is_never_used(workspace, env, sockets, monkeypatch):
    os.chmod(sockets, 0o777)
    proc = run(["daemon", "start"], env["on"])
    assert proc.returncode == 4
    assert sockets in proc.stderr and "0700" in proc.stderr
    monkeypatch.setenv(daemon_client.ENV_DIR, sockets)  # the same installation: the same socket name
    fake = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # somebody else's listener there
    fake.bind(daemon_client.socket_path())
    fake.listen(1)
    fake.settimeout(0.2)
    try:
        proc = run(["build", "--json"], env["on"], cwd=workspace)
        assert proc.returncode == 0, proc.stderr  # ran in-process
        with pytest.raises(socket.timeout):
            fake.accept()  # the client never connected
    finally:
        fake.close()


def test_a_daemon_that_takes_no_request_cannot_hang_its_clients(workspace, env, sockets, monkeypatch):
    """Something listens on the socket but never reads (a hung daemon): the client gives up after its
    request timeout and runs the command itself, with the right answer."""
    monkeypatch.setenv(daemon_client.ENV_DIR, sockets)
    assert run(["build"], env["off"], cwd=workspace).returncode == 0
    hung = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    hung.bind(daemon_client.socket_path())
    hung.listen(4)  # never accepts: connections wait in the backlog
    try:
        doc = next(workspace.rglob("EXECUTION_TASK_*.md"))
        doc.write_text(doc.read_text(encoding="utf-8") + "\nmore\n", encoding="utf-8")
        proc = run(["build", "--json"], env["on"], cwd=workspace, timeout=90)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["recomputed"]
    finally:
        hung.close()


def test_the_daemon_leaves_when_idle(env, sockets):
    proc = run(["daemon", "start", "--idle-timeout", "0.02", "--json"], env["on"])  # 1.2 seconds
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    deadline = time.monotonic() + 30
    while os.path.exists(doc["socket"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(doc["socket"])
    assert "leaving: idle" in Path(doc["log"]).read_text()


# -- the server's decisions, in-process on a socket pair (no fork: only `run` requests fork) ----------


def ask(server: daemon.Server, message: dict) -> bytes:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours, theirs:
        daemon_client._send(ours, message)
        why = server.handle(theirs)
        ours.settimeout(2)
        return ours.recv(4096), why


def test_a_daemon_whose_code_changed_on_disk_answers_stale_and_leaves(sockets, monkeypatch):
    server = daemon.Server(os.path.join(sockets, "t.sock"), idle=60)
    try:
        answer, why = ask(server, {"op": "ping"})
        assert json.loads(answer)["pid"] == os.getpid() and why is None
        other = {"op": "run", "argv": ["build"], "installation": ["/elsewhere/python", "/elsewhere", "/x"]}
        assert ask(server, other) == (b"stale\n", None)  # another installation: refuse, keep serving
        monkeypatch.setattr(daemon, "code_files", lambda: {**server.code, __file__: (1, 2, 3)})
        mine = {**other, "installation": list(daemon_client.installation())}
        assert ask(server, mine) == (b"stale\n", "stale code")  # an edited module: refuse and leave
        assert server.served == 0
    finally:
        server.listener.close()


def test_code_files_cover_loaded_modules_and_templates():
    files = daemon.code_files()
    assert daemon.__file__ in files and files[daemon.__file__]
    assert any(p.endswith(os.path.join("templates", "plan_complete.md")) for p in files)


def test_warm_up_builds_every_validator():
    daemon.warm_up()
    from pydantic import BaseModel

    from promptgen.documents import ExecutionDoc

    pending, seen = [BaseModel], 0
    while pending:
        for cls in pending.pop().__subclasses__():
            pending.append(cls)
            if cls.__module__.startswith("promptgen."):
                seen += 1
                assert cls.__pydantic_complete__, cls
                assert type(cls.__pydantic_validator__).__name__ == "SchemaValidator", cls
    assert seen > 10 and ExecutionDoc.__pydantic_complete__

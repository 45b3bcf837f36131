"""StateLock: flock-based, holder PID in messages, timeouts, release on SIGKILL, shared readers."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from graph_cache.errors import LockTimeout, StateDirError
from graph_cache.lock import StateLock

REPO = Path(__file__).resolve().parents[2]

HOLDER = textwrap.dedent("""
    import sys, time
    from graph_cache.lock import StateLock
    with StateLock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(60)
""")


def spawn_holder(state_dir: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(state_dir)], stdout=subprocess.PIPE, env=env)
    assert proc.stdout.readline().strip() == b"locked"
    return proc


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()


def test_acquire_writes_holder_info_and_release_clears_it(tmp_path):
    state = tmp_path / "state"
    with StateLock(state) as lock:
        text = (state / "state.lock").read_text()
        assert text.split()[0] == str(os.getpid())
        assert lock.holder()[0] == os.getpid()
    assert (state / "state.lock").read_text() == ""
    with StateLock(state, timeout=0):  # free again
        pass


def test_timeout_names_lock_file_and_holder_pid(tmp_path):
    proc = spawn_holder(tmp_path)
    try:
        messages: list[str] = []
        start = time.monotonic()
        with pytest.raises(LockTimeout) as ei:
            with StateLock(tmp_path, timeout=0.3, on_wait=messages.append):
                pass
        assert time.monotonic() - start >= 0.3
        assert len(messages) == 1 and f"PID {proc.pid}" in messages[0] and str(tmp_path / "state.lock") in messages[0]
        msg = str(ei.value)
        assert f"PID {proc.pid}" in msg and str(tmp_path / "state.lock") in msg and "\n" not in msg
        assert ei.value.holder_pid == proc.pid

        with pytest.raises(LockTimeout):  # timeout=0 fails at once, without waiting
            start = time.monotonic()
            StateLock(tmp_path, timeout=0, on_wait=messages.append).acquire()
        assert time.monotonic() - start < 0.25 and len(messages) == 1
    finally:
        kill(proc)


def test_sigkilled_holder_does_not_leave_a_stale_lock(tmp_path):
    proc = spawn_holder(tmp_path)
    kill(proc)
    assert (tmp_path / "state.lock").read_text().split()[0] == str(proc.pid)  # the stale PID is still written...
    with StateLock(tmp_path, timeout=0):  # ...but the kernel released the lock
        assert (tmp_path / "state.lock").read_text().split()[0] == str(os.getpid())


def test_waits_forever_until_released(tmp_path):
    first = StateLock(tmp_path)
    first.acquire()
    messages: list[str] = []
    threading.Timer(0.3, first.release).start()
    start = time.monotonic()
    with StateLock(tmp_path, timeout=None, on_wait=messages.append):
        assert time.monotonic() - start >= 0.25
    assert len(messages) == 1 and f"PID {os.getpid()}" in messages[0]


def test_shared_lock_writes_nothing_and_excludes_writers(tmp_path):
    with StateLock(tmp_path / "fresh", shared=True):  # no lock file yet: nothing created
        pass
    assert not (tmp_path / "fresh").exists()
    with StateLock(tmp_path):
        pass
    before = (tmp_path / "state.lock").read_bytes()
    with StateLock(tmp_path, shared=True), StateLock(tmp_path, shared=True, timeout=0):
        with pytest.raises(LockTimeout):
            StateLock(tmp_path, timeout=0).acquire()
    assert (tmp_path / "state.lock").read_bytes() == before
    proc = spawn_holder(tmp_path)
    try:
        with pytest.raises(LockTimeout, match=f"PID {proc.pid}"):
            StateLock(tmp_path, timeout=0, shared=True).acquire()
    finally:
        kill(proc)


def test_unusable_state_dir(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StateDirError, match="file"):
        StateLock(tmp_path / "file" / "state").acquire()


def test_try_acquire_takes_a_free_lock_and_never_waits_for_a_busy_one(tmp_path):
    holder = StateLock(tmp_path)
    assert holder.try_acquire()
    assert (tmp_path / "state.lock").read_text().split()[0] == str(os.getpid())
    (tmp_path / "state.lock").write_text("")  # an empty PID line: acquire() would retry to read it
    t0 = time.monotonic()
    assert not StateLock(tmp_path).try_acquire()
    assert time.monotonic() - t0 < 0.04
    holder.release()
    other = StateLock(tmp_path)
    assert other.try_acquire()
    other.release()


def test_a_non_ascii_digit_pid_line_is_an_unknown_holder(tmp_path):
    (tmp_path / "state.lock").write_text("\u00b2 host 2025-01-01\n")  # "²".isdigit(), but int() refuses it
    assert StateLock(tmp_path).holder() == (None, "unknown holder")

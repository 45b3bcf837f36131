"""`promptgen daemon start|stop|status`: the daemon's life cycle, as seen from the command line."""
from __future__ import annotations

import os
import sys
import time

from promptgen import daemon_client, errors

START_TIMEOUT = 60.0  # seconds: the daemon imports everything and builds every validator first


def status() -> dict:
    """The running daemon's own description, or `{"running": False, ...}`."""
    path = daemon_client.socket_path()
    got = daemon_client.request("ping", path)
    if got is None:
        return {"running": False, "socket": path}
    return {"running": True, **got}


def start(idle: float) -> dict:
    """Start a daemon for this installation unless one runs; wait until it answers."""
    if not daemon_client.supported():
        raise errors.UsageError("the daemon needs fork() and Unix sockets (not available here)")
    if idle <= 0:
        raise errors.UsageError("--idle-timeout must be a positive number of minutes")
    path = daemon_client.socket_path()
    folder = os.path.dirname(path)
    _private_folder(folder)
    import fcntl
    import subprocess

    with open(path[: -len(".sock")] + ".lock", "a") as lock:  # one starter at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        running = daemon_client.request("ping", path)
        if running is not None:
            return {"running": True, "started_now": False, **running}
        if os.path.lexists(path):
            os.unlink(path)  # left by a daemon that was killed: nobody answers on it
        log_path = path[: -len(".sock")] + ".log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "promptgen.daemon", path, str(idle)],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd="/",
                                    start_new_session=True, close_fds=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            running = daemon_client.request("ping", path)
            if running is not None:
                return {"running": True, "started_now": True, "log": log_path, **running}
            if proc.poll() is not None:
                raise errors.StateDirError(f"the daemon could not start (exit {proc.returncode}); "
                                           f"see {log_path}:\n{_tail(log_path)}")
            time.sleep(0.05)
        proc.kill()
        raise errors.StateDirError(f"the daemon did not answer within {START_TIMEOUT:.0f} s; see {log_path}")


def stop() -> dict:
    """Ask the daemon to leave; wait until its socket is gone."""
    path = daemon_client.socket_path()
    got = daemon_client.request("stop", path)
    if got is None:
        return {"running": False, "stopped": False, "socket": path}
    deadline = time.monotonic() + 10.0
    while os.path.lexists(path) and time.monotonic() < deadline:
        time.sleep(0.02)
    return {"running": False, "stopped": True, "socket": path}


def _private_folder(folder: str) -> None:
    """Create the socket folder for this user only; refuse one that others may enter or write."""
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise errors.StateDirError(f"{folder}: cannot create the daemon's folder: {exc.strerror}") from None
    if not daemon_client.private(folder):
        raise errors.StateDirError(f"{folder}: must be a directory of this user with mode 0700 "
                                   f"(it receives every forwarded command's environment)")


def _tail(path: str, lines: int = 10) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return "".join(fh.readlines()[-lines:]).rstrip("\n")
    except OSError:
        return ""

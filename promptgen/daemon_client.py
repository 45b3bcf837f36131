"""Client side of the build daemon, a warm fork server (`promptgen daemon`, docs/PERFORMANCE.md s. 15-16).

Standard library only. `announce(argv)` connects to a running daemon of this installation and sends
the request's header *before* the no-op fast path runs: the daemon checks its code and forks a child
(which already has the whole CLI imported and its pydantic validators built) that reads the state it
will need while this process walks its tree. If the fast path answers, `Announced.close()` lets that
child go; else `Announced.complete()` hands it this process's stdin/stdout/stderr (as file
descriptors) and the fast path's walk, and the child runs the command in this process's directory and
environment and reports the exit code. `complete` returns None whenever no daemon ran the command (none
running, disabled, stale code, a broken or unresponsive socket): the caller then runs it in-process,
so the daemon can make a command faster but never change its answer.
"""
from __future__ import annotations

import os
import sys

ENV_SWITCH = "PROMPTGEN_DAEMON"  # "0": never forward (the command runs in-process)
ENV_DIR = "PROMPTGEN_DAEMON_DIR"  # where the sockets live (default: $XDG_RUNTIME_DIR or /tmp, per user)
PROTOCOL = 2  # 2: the header before the fast path, the blob after the descriptors


def installation() -> tuple[str, str, str]:
    """(interpreter, environment, package folder): a daemon serves only the installation that started
    it (`python`, `python3` and the console script of one virtual environment are one installation)."""
    return os.path.realpath(sys.executable), sys.prefix, os.path.dirname(os.path.abspath(__file__))


def socket_dir() -> str:
    base = os.environ.get(ENV_DIR)
    if base:
        return base
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return os.path.join(os.environ.get("XDG_RUNTIME_DIR") or "/tmp", f"promptgen-{uid}")


def socket_path() -> str:
    """The installation's socket: a 32-bit FNV-1a of its identity names it (computed here in a few
    microseconds: importing zlib for a CRC cost every console-script run ~0.5 ms)."""
    key = 0x811C9DC5
    for byte in "\0".join(installation()).encode("utf-8", "surrogateescape"):
        key = ((key ^ byte) * 0x01000193) & 0xFFFFFFFF
    return os.path.join(socket_dir(), f"d{PROTOCOL}-{key:08x}.sock")


def private(folder: str) -> bool:
    """Whether `folder` is a real directory of this user that nobody else may enter or write."""
    import stat

    try:
        st = os.lstat(folder)
    except OSError:
        return False
    uid = os.getuid() if hasattr(os, "getuid") else None
    return stat.S_ISDIR(st.st_mode) and st.st_uid == uid and not st.st_mode & 0o077


def supported() -> bool:
    import socket

    return hasattr(os, "fork") and hasattr(socket, "AF_UNIX") and hasattr(socket, "send_fds")


def announce(argv: list[str]) -> Announced | None:
    """Send the request's header to a running daemon (None when none may run the command): called before
    the fast path, so that the daemon's checks, its fork and the child's reading of the state overlap
    this process's walk."""
    if os.environ.get(ENV_SWITCH) == "0" or argv[:1] == ["daemon"] or not hasattr(os, "fork"):
        return None
    try:
        path = socket_path()
        os.stat(path)  # the common case when no daemon runs: one failed stat
    except (OSError, ValueError):
        return None
    if not private(os.path.dirname(path)):
        return None  # the command's environment goes to whoever listens there: only to this user
    try:
        sock = _connect(path, 10.0)  # until the child's PID: the request must be taken in time
    except (OSError, ValueError):
        return None
    try:
        umask = os.umask(0o22)
        os.umask(umask)
        _send(sock, {"op": "run", "argv": argv, "argv0": sys.argv[0] if sys.argv else "promptgen",
                     "cwd": os.getcwd(), "env": dict(os.environ), "umask": umask, "streams": _streams(),
                     "installation": list(installation())})
    except (OSError, ValueError):
        sock.close()
        return None
    return Announced(sock)


class Announced:
    """A request whose header the daemon has (`announce`): `complete()` runs it there, `close()` drops it
    (the fast path answered; the daemon's child sees the end of the connection and leaves)."""

    def __init__(self, sock) -> None:
        self.sock = sock

    def close(self) -> None:
        self.sock.close()

    def complete(self) -> int | None:
        """Run the command in the daemon's child: its exit code, or None when the caller must run it."""
        try:
            from promptgen import handoff

            return hand_over(self.sock, handoff.export())
        except (OSError, ValueError):
            return None  # nothing ran yet (errors after the child started are answered in hand_over)
        finally:
            self.sock.close()


def request(op: str, path: str | None = None, timeout: float = 5.0) -> dict | None:
    """A control request (`ping`, `stop`) to the daemon; its JSON answer, or None when none answers."""
    import json

    path = path or socket_path()
    if not private(os.path.dirname(path)):
        return None
    try:
        sock = _connect(path, timeout)
    except (OSError, ValueError):
        return None
    try:
        _send(sock, {"op": op})
        line = next(_lines(sock))
        return json.loads(line)
    except (OSError, ValueError, StopIteration):
        return None
    finally:
        sock.close()


def _connect(path: str, timeout: float):
    """A connected Unix stream socket whose operations time out after `timeout` seconds (a daemon that
    stopped reading must not hang its clients). `_socket`, not `socket`: the latter imports enum and
    selectors, several milliseconds on every forwarded command."""
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(path)
    except BaseException:
        sock.close()
        raise
    return sock


def _send(sock, message: dict) -> None:
    """A request's header: an 8-byte length and the message in `marshal` format (built in, unlike json;
    both ends are one interpreter, see `installation`)."""
    import marshal

    data = marshal.dumps(message)
    sock.sendall(len(data).to_bytes(8, "big") + data)


def _send_streams(sock, fds: list[int], blob: bytes) -> None:
    """The request's second part, once the daemon said `ready`: one byte carrying the descriptors
    (SCM_RIGHTS), then the blob's 8-byte length and the blob (the fast path's walk, `handoff.export`).
    Sent only to a daemon that answered: descriptors queued on a socket nobody reads would keep the
    caller's pipes open (its reader would never see the end)."""
    import _socket

    rights = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in fds)
    sock.sendmsg([b"F"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)])
    sock.sendall(len(blob).to_bytes(8, "big"))
    sock.sendall(blob)


def _lines(sock):
    """The daemon's answer lines (`ready`, `pid N`, `exit N`, `stale`, or one JSON object)."""
    buf = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.decode("utf-8", "replace")


def _stream_fds() -> tuple[list[int], list[int]]:
    """(descriptors to pass for stdin/stdout/stderr, the ones opened here): a closed one is /dev/null."""
    fds, opened = [], []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            fds.append(null)
            opened.append(null)
    return fds, opened


def _streams() -> list[list]:
    """Encoding and error handler of this process's text streams, for the child to reopen them alike."""
    return [[getattr(s, "encoding", None), getattr(s, "errors", None)]
            for s in (sys.stdin, sys.stdout, sys.stderr)]


def hand_over(sock, blob: bytes, relay_int: int | None = None, switch: str = ENV_SWITCH) -> int | None:
    """Hand the command to a forked process speaking the daemon child's protocol (`ready`, `pid N`,
    `exit N`): its exit code, or None when nothing started. Signals are relayed once its PID is known;
    SIGINT as `relay_int` if given (a child in our process group ignores the terminal's own)."""
    import _signal  # not `signal`: it imports enum

    child, caught = None, []

    def send(signum) -> None:
        try:
            os.kill(child, relay_int if relay_int is not None and signum == _signal.SIGINT else signum)
        except OSError:
            pass

    def relay(signum, _frame):  # Ctrl-C and friends go to the child (its PID comes first)
        caught.append(signum)
        if child is not None:
            send(signum)

    relayed = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)
    previous = [_signal.signal(sig, relay) for sig in relayed]
    fds, opened = _stream_fds()
    try:
        sys.stdout.flush()
        try:
            for line in _lines(sock):
                word, _, value = line.partition(" ")
                if word == "ready" and child is None:
                    _send_streams(sock, fds, blob)
                elif word == "pid" and child is None:
                    child = int(value)
                    sock.settimeout(None)  # a build takes what it takes
                    for signum in caught:
                        send(signum)
                elif word == "exit":
                    return int(value)
                elif word == "stale" and child is None:
                    break  # the daemon runs other code than this installation
        except OSError:
            if child is None:
                raise  # nothing started: in-process
            # else it started: never run it a second time (reported below)
    finally:
        for fd in opened:
            os.close(fd)
        if child is None:
            for sig, handler in zip(relayed, previous):
                _signal.signal(sig, handler)
    if child is None:
        if caught:
            sys.stderr.write("promptgen: interrupted\n")
            return 130
        return None  # nothing started: the caller runs the command in-process
    for signum in caught:  # the child died of a SIGTERM/SIGHUP relayed to it: so does this process,
        if signum != _signal.SIGINT:  # as one running the command itself would
            _signal.signal(signum, _signal.SIG_DFL)
            os.kill(os.getpid(), signum)
    sys.stderr.write(f"promptgen: the build process ended without an exit status (killed?); run again, "
                     f"or set {switch}=0\n")
    return 70

"""The build daemon: a warm fork server on a per-user Unix socket (docs/PERFORMANCE.md sections 15-16).

Importing pydantic, building the document validators and loading the CLI cost more than an edit build's
own work. The daemon pays that once: it imports everything, builds every validator, freezes its heap
for copy-on-write and waits. Each request (`daemon_client.announce`, sent before the client's no-op
fast path runs) gets a forked child at once, a fresh process in all that matters (no state is kept
between commands: the graph, the manifest and the lock live in `.promptgen/` as for any run), which
reads ahead what the build will need while the client walks; if the client's fast path falls through,
the child runs the ordinary entry point on the client's descriptors, directory and environment, then
reports `exit N` (daemon_child.py). Before forking, the daemon checks that its code is still the code
on disk (the stat of every loaded module and template, as the fast path's global key does); when not,
it answers `stale` and exits, and the client runs the command itself. It leaves after `idle` seconds
without a request, or when its socket is removed or replaced.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time

from promptgen import daemon_child, daemon_client


def warm_up() -> None:
    """Import every module of both packages (and so every library they use) and build every pydantic
    validator now, once, instead of in each child."""
    from promptgen import warm

    warm.import_modules()
    warm.build_validators()


def code_files() -> dict[str, tuple]:
    """(mtime, size, inode) of every loaded module's file and every template: the code this daemon runs."""
    paths = {getattr(m, "__file__", None) for m in list(sys.modules.values())}
    tdir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
    try:
        paths.update(os.path.join(tdir, n) for n in os.listdir(tdir))
    except OSError:
        pass
    return {p: _stat(p) for p in paths if isinstance(p, str)}


def _stat(path: str) -> tuple:
    try:
        st = os.stat(path)
    except OSError:
        return ()
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class Server:
    """The accept loop. `serve()` returns when idle, stopped, stale or no longer owning its socket."""

    def __init__(self, path: str, idle: float) -> None:
        self.path, self.idle = path, idle
        self.started, self.served, self.last = time.time(), 0, time.monotonic()
        self.ran, self.ran_w = os.pipe()  # a byte per command a child ran (not per request)
        os.set_blocking(self.ran, False)
        os.set_blocking(self.ran_w, False)
        self.code = code_files()
        self.installation = list(daemon_client.installation())
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        os.chmod(path, 0o600)
        self.listener.listen(16)
        self.inode = os.stat(path).st_ino

    def serve(self) -> str:
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            while True:
                left = self.idle - (time.monotonic() - self.last)
                if left <= 0:
                    return "idle"
                if _stat(self.path)[2:] != (self.inode,):
                    return "socket gone"
                self.listener.settimeout(min(left, 60.0))
                try:
                    conn, _ = self.listener.accept()
                except socket.timeout:
                    continue
                self.last = time.monotonic()
                with conn:
                    why = self.handle(conn)
                if why:
                    return why
        finally:
            self.listener.close()
            if _stat(self.path)[2:] == (self.inode,):
                os.unlink(self.path)

    def handle(self, conn) -> str | None:
        conn.settimeout(10.0)
        try:
            message = daemon_child.receive(conn)
        except (OSError, ValueError):
            return None
        try:
            op = message.get("op")
            if op == "ping":
                conn.sendall(self.status_line())
            elif op == "stop":
                conn.sendall(b'{"stopping": true}\n')
                return "stopped"
            elif op == "run":
                mine = message.get("installation") == self.installation
                if not mine or code_files() != self.code:
                    conn.sendall(b"stale\n")  # the client runs the command itself
                    return "stale code" if mine else None  # (a name clash of two installations: stay)
                conn.sendall(b"ready\n")
                if os.fork() == 0:
                    os.close(self.ran)
                    daemon_child.run(self.listener, conn, message, self.ran_w)  # never returns
        except (OSError, ValueError):
            pass
        return None

    def count_served(self) -> int:
        """Commands the children ran (each wrote a byte once it had the client's descriptors)."""
        while True:
            try:
                got = os.read(self.ran, 4096)
            except BlockingIOError:
                break
            if not got:
                break
            self.served += len(got)
        return self.served

    def status_line(self) -> bytes:
        python, environment, package = self.installation
        doc = {"pid": os.getpid(), "started": self.started, "served": self.count_served(), "idle_timeout": self.idle,
               "python": python, "environment": environment, "package": package, "socket": self.path}
        return json.dumps(doc).encode() + b"\n"


def main(argv: list[str] | None = None) -> int:
    """`python -m promptgen.daemon SOCKET IDLE_SECONDS` (started detached by `promptgen daemon start`)."""
    args = sys.argv[1:] if argv is None else argv
    path, idle = args[0], float(args[1])
    warm_up()
    import gc

    gc.collect()
    gc.freeze()  # keep the collector from touching (and so copying) the warm heap in every child
    server = Server(path, idle)
    sys.stdout.write(f"promptgen daemon {os.getpid()} serving {path}\n")
    sys.stdout.flush()
    why = server.serve()
    sys.stdout.write(f"promptgen daemon {os.getpid()} leaving: {why}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The daemon's forked child (daemon.py): read ahead, wait for the client's go, become the client, run.

The child is forked as soon as a request's header arrives, while the client still runs its no-op fast
path. Meanwhile it reads, read-only and outside the state lock, what an edit build reads first: the
discovery cache and the graph index, decoded (`discovery_cache.load_ahead`, `graph_index.decode_ahead`).
Both are keyed by their contents, so a build uses them only if the files still hold the same thing
when it reads them under the lock. If the fast path answered, the client closes the connection and the
child leaves; else the client sends its stdin/stdout/stderr descriptors and its walk, and the child
becomes the client's process (streams, directory, environment), runs the command and reports its exit
status. Nothing a child does outlives it but what the command itself writes.
"""
from __future__ import annotations

import os
import sys

WAIT_FOR_CLIENT = 600.0  # seconds a child waits for the client's fast path before it gives up


def receive(conn) -> dict:
    """A request's header (daemon_client._send)."""
    return _decode(_exactly(conn, int.from_bytes(_exactly(conn, 8), "big")))


def run(listener, conn, message: dict, ran_fd: int) -> None:
    """The forked child's life (never returns). A client gone before its request was complete (its fast
    path answered, or it was interrupted) gets nothing."""
    import signal
    import threading

    try:
        import gc

        from promptgen.entry import QUIET_GC

        gc.set_threshold(*QUIET_GC)  # reading ahead and the walk make 10^5 objects: few collector passes
        listener.close()
        os.chdir(message["cwd"])
        os.environ.clear()
        os.environ.update(message["env"])
        # In a thread: the client's descriptors are taken (and the PID reported, within the client's
        # timeout) as soon as they come, however long reading ahead takes.
        ahead = threading.Thread(target=read_ahead, args=(list(message["argv"]),), daemon=True)
        ahead.start()
        conn.settimeout(WAIT_FOR_CLIENT)
        fds, blob = receive_go(conn)
    except BaseException:  # noqa: BLE001 - nothing to run: the client answered or left
        os._exit(0)
    try:
        os.write(ran_fd, b"1")  # counted by the daemon (`served`)
    except OSError:
        pass

    def become_the_client() -> None:
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        adopt_streams(fds)
        streams = message.get("streams") or [[None, None]] * 3
        sys.stdin, sys.stdout, sys.stderr = (
            open(fd, mode, encoding=enc, errors=err, closefd=False)
            for fd, mode, (enc, err) in zip((0, 1, 2), ("r", "w", "w"), streams))
        os.umask(int(message.get("umask", 0o22)))
        sys.argv = [message.get("argv0") or "promptgen", *message["argv"]]
        conn.sendall(f"pid {os.getpid()}\n".encode())
        ahead.join()  # what it read is the build's first read

    run_command(conn, list(message["argv"]), blob, "daemon", become_the_client)


def receive_go(conn) -> tuple[list[int], bytearray]:
    """The client's stdin/stdout/stderr descriptors and its walk (`daemon_client._send_streams`); the
    walk is awaited without a time limit once the descriptors came."""
    fds = _receive_streams(conn)
    conn.settimeout(None)
    return fds, _exactly(conn, int.from_bytes(_exactly(conn, 8), "big"), limit=1 << 32)


def adopt_streams(fds: list[int]) -> None:
    """Make the client's descriptors this process's 0, 1 and 2."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in set(fds) - {0, 1, 2}:
        os.close(fd)


def run_command(conn, argv: list[str], blob, ran_in: str, prepare) -> None:
    """The common end of a daemon's child and a head-start child (never returns): `prepare()` (take the
    client's streams, report `pid N`), then the command as the client's (`entry.run_in_child`, on the
    client's walk); `exit N` is reported whatever happens."""
    code = 70
    try:
        prepare()
        import gc

        from promptgen import entry, handoff, history

        # What the process made before the command (its imports, validators, what it read ahead: 10^5
        # objects in large containers) lives until the end: out of the collector's way. Left young, it
        # was traversed by the first collection of the command, in the walk's decoding below (+14 ms
        # of a head-start edit at 10k documents, docs/PERFORMANCE.md section 18).
        gc.freeze()
        history.RAN_IN = ran_in
        if blob:
            handoff.install(blob)
        code = entry.run_in_child(argv)
    except BaseException as exc:  # noqa: BLE001 - the child must always report and leave
        try:
            sys.stderr.write(f"promptgen: the {ran_in} build process failed: {type(exc).__name__}: {exc}\n")
        except Exception:
            pass
    finally:
        try:
            conn.sendall(f"exit {code}\n".encode())
        except OSError:
            pass
        os._exit(0)


def read_ahead(argv: list[str]) -> None:
    """Decode the discovery cache and the graph index of the command's workspace, if it is one the fast
    path serves (build, status, check). Best effort and read-only: creates nothing, takes no lock."""
    try:
        from graph_cache import graph_index
        from graph_cache.store import Store
        from promptgen import discovery_cache
        from promptgen.fastpath import parse_args, root_of
        from promptgen.rootfind import STATE_DIR

        opts = parse_args(argv)
        root = root_of(opts["root"]) if opts is not None else None
        if root is None:
            return
        state_dir = os.path.join(root, STATE_DIR)
        if os.path.isdir(state_dir):
            discovery_cache.load_ahead(state_dir)
            graph_index.decode_ahead(Store.peek_graph_index(state_dir))
    except Exception:  # noqa: BLE001 - the build reads what it needs itself
        pass


def _receive_streams(conn) -> list[int]:
    """The client's stdin/stdout/stderr descriptors (daemon_client._send_streams); the blob follows.
    `socket.recv_fds` without the `socket` module (≈ 3 ms of imports a head-start child would wait for)."""
    import _socket
    import array

    fds = array.array("i")
    data, ancdata, _flags, _addr = conn.recvmsg(1, _socket.CMSG_LEN(3 * fds.itemsize))
    for level, kind, payload in ancdata:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
    if data != b"F" or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise ValueError("bad descriptors message")
    return list(fds)


def _exactly(conn, size: int, limit: int = 1 << 24) -> bytearray:
    """`size` bytes from the socket, received into one buffer (no copies of the pieces)."""
    if size > limit:
        raise ValueError("request too large")
    data = bytearray(size)
    view, got = memoryview(data), 0
    while got < size:
        n = conn.recv_into(view[got:])
        if not n:
            raise ValueError("truncated request")
        got += n
    return data


def _decode(data: bytearray) -> dict:
    import marshal

    try:
        message = marshal.loads(data)
    except (EOFError, TypeError) as exc:
        raise ValueError(f"bad request: {exc}") from None
    if not isinstance(message, dict):
        raise ValueError("bad request")
    return message

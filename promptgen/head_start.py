"""Head start: the console script forks a child that imports the build while the fast path walks.

An edit build at 10k documents spent about as long importing pydantic, the engine and the pipeline
(≈ 120 ms) as walking and building together, all on one core while the other one idled. When no
daemon runs, the console script now forks a *head-start child* before its no-op fast path: the child
imports what the command will need and reads the state ahead (as a daemon's child does,
`daemon_child.read_ahead`) on the second core while the parent walks. If the fast path answers, the
parent kills the child, which has written nothing and holds none of the caller's descriptors; else the
parent hands it its stdin/stdout/stderr and its walk over a socket pair (the daemon's protocol,
`daemon_client.hand_over`), waits for its end (so its CPU time and memory count as the command's)
and exits with its exit status. The child dies with its parent (`_die_with_parent`).

While warming up, the child keeps off the CPU its parent runs on: forked onto the parent's CPU, it
would take turns with the walk until the scheduler moved one of them (+3 to +6 ms on a 25 ms no-op).
It takes back every CPU before it runs the command (the build's worker pool forks from it).

The child stays in the caller's process group (Ctrl-Z and a killed group reach it as they would an
in-process build) but ignores SIGINT: the terminal's Ctrl-C reaches the parent, which relays it once as
SIGUSR2, raised in the child as KeyboardInterrupt. `PROMPTGEN_HEAD_START=0` turns it off, `=1` on
whatever the load; by default it runs when a second CPU is allowed, the one-minute load average is
below the number of allowed CPUs and the workspace is large enough for the walk to hide some imports
(`_walk_worth_it`). Never where `fork` or descriptor passing is missing, nor for the
commands the fast path never serves.
Standard library only until the fork: the parent's no-op path must stay as light as it was.
"""
from __future__ import annotations

import _signal  # (built in: not `signal`, which imports enum)
import os
import sys

ENV_SWITCH = "PROMPTGEN_HEAD_START"  # "0": never (in-process), "1": whatever the load; unset: auto
RELAY_SIGINT = _signal.SIGUSR2  # how the parent hands a Ctrl-C on to the child
WAIT_FOR_START = 60.0  # seconds the parent waits for the child to start the command, then runs it itself
MIN_MANIFEST_BYTES = 1 << 19  # a smaller workspace (< ~2500 files) runs in-process: `_walk_worth_it`


def start(argv: list[str]) -> HeadStart | None:
    """Fork the head-start child for `argv` (None when none is worth it or possible)."""
    switch = os.environ.get(ENV_SWITCH)
    if switch == "0" or sys.platform != "linux" or not hasattr(os, "fork"):
        return None
    from promptgen.fastpath import parse_args  # (imported by the fast path right after anyway)

    opts = parse_args(argv)
    if opts is None:
        return None  # no fast path to run beside: no head start to gain over an in-process run
    try:
        if switch != "1" and not (_spare_cpu() and _walk_worth_it(opts["root"])):
            return None
        import _socket

        parent_end, child_end = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    except (OSError, AttributeError):
        return None
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
    except OSError:
        parent_end.close()
        child_end.close()
        return None
    if pid == 0:
        parent_end.close()
        _child(child_end, list(argv))  # never returns
    child_end.close()
    return HeadStart(pid, parent_end)


def _spare_cpu() -> bool:
    """Whether a second CPU is likely idle: one allowed to us besides the walk's, and a one-minute load
    average below the number of allowed CPUs (on a saturated machine the child would only take CPU
    time from others, and from the walk)."""
    cpus = len(os.sched_getaffinity(0))
    return cpus >= 2 and os.getloadavg()[0] < cpus


def _walk_worth_it(root: str | None) -> bool:
    """Whether the fast path's walk is long enough to hide some of the child's imports: the last
    build's manifest is at least MIN_MANIFEST_BYTES (≈ 215 bytes a file). With a smaller one the
    fork, the hand-over and the second exit cost about what the overlap gains (edit / no-op with and
    without it: 700 documents +11 / +5 ms, 2000 −6 / +2.4 ms, 4000 −16 / +1.6 ms, 10k −43 / +2.3 ms). Without a manifest (never built, cleaned): yes; cold builds ran 3-10 %
    faster through the head start in every benchmark run (docs/PERFORMANCE.md 17.6-17.7)."""
    from promptgen.fastpath import MANIFEST, root_of
    from promptgen.rootfind import STATE_DIR

    root = root_of(root)
    if root is None:
        return False  # the command reports the bad --root itself
    try:
        return os.stat(os.path.join(root, STATE_DIR, MANIFEST)).st_size >= MIN_MANIFEST_BYTES
    except FileNotFoundError:
        return True
    except OSError:
        return False


class HeadStart:
    """The parent's handle on its head-start child."""

    def __init__(self, pid: int, sock) -> None:
        self.pid, self.sock = pid, sock

    def close(self) -> None:
        """The fast path answered (or failed): stop the child at once; it wrote nothing."""
        try:
            os.kill(self.pid, _signal.SIGKILL)
        except OSError:
            pass
        self.sock.close()

    def complete(self) -> int | None:
        """Run the command in the child: its exit code, or None when it could not start it (the caller
        then runs the command in-process)."""
        code = None
        try:
            from promptgen import daemon_client, handoff

            self.sock.settimeout(WAIT_FOR_START)  # a hung warm-up must not hang the command
            code = daemon_client.hand_over(self.sock, handoff.export(), relay_int=RELAY_SIGINT,
                                           switch=ENV_SWITCH)
        except (OSError, ValueError):
            pass  # nothing started (errors after the start are answered in hand_over)
        finally:
            if code is None:
                self.close()  # whatever it was doing: the command runs here now
            self.sock.close()
            self._reap()
        return code

    def _reap(self) -> None:
        """Wait for the child's end: its CPU time and peak memory (and its workers') then count in this
        process's, as a caller's `wait4` or `/usr/bin/time` expects of one command."""
        try:
            os.waitpid(self.pid, 0)
        except (OSError, InterruptedError):
            pass


def _child(sock, argv: list[str]) -> None:
    """The child's life (never returns): warm up, wait for the parent's go, run the command."""
    try:
        cpus = _keep_off_parents_cpu()  # first: until then it may be taking the parent's turns
        _signal.signal(_signal.SIGINT, _signal.SIG_IGN)  # the parent relays Ctrl-C (as RELAY_SIGINT)
        _signal.signal(RELAY_SIGINT, _signal.default_int_handler)
        _detach(sock.fileno())
        sock.sendall(b"ready\n")  # the parent may send its descriptors and walk at any time now
        warm_up(argv)
        from promptgen import daemon_child

        fds, blob = daemon_child.receive_go(sock)
    except BaseException:  # noqa: BLE001 - nothing to run: the parent answered, left or was interrupted
        os._exit(0)

    def take_over() -> None:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)
        daemon_child.adopt_streams(fds)
        _die_with_parent()
        sock.sendall(f"pid {os.getpid()}\n".encode())

    daemon_child.run_command(sock, argv, blob, "head-start", take_over)


def _die_with_parent() -> None:
    """Die (SIGKILL) when the parent does, as an in-process build dies with its process (`kill -9`, a CI
    job's timeout): the kernel's parent-death signal, `prctl(PR_SET_PDEATHSIG)`, called through
    `_ctypes` (importing `ctypes` costs 2.5 ms; a watching thread would keep the build from forking
    its worker pool). Where that fails the child just finishes the command, holding the lock as any
    build does."""
    parent = os.getppid()
    try:
        import _ctypes

        class CInt(_ctypes._SimpleCData):
            _type_ = "i"

        class CFunction(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL
            _restype_ = CInt

        class Process:
            _handle = _ctypes.dlopen(None)

        CFunction(("prctl", Process))(1, int(_signal.SIGKILL), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - no libc prctl here
        return
    if os.getppid() != parent:  # it died before the call
        os._exit(1)


def _detach(keep: int) -> None:
    """Hold none of the caller's descriptors while warming up: a caller reading our stdout must see its
    end when the parent answers and leaves, whatever the child is doing then."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        if fd != null:
            os.dup2(null, fd)
    if null > 2:
        os.close(null)
    try:
        inherited = [int(name) for name in os.listdir("/proc/self/fd")]
    except (OSError, ValueError):
        inherited = range(3, 1 << 16)
    for fd in inherited:
        if fd > 2 and fd != keep:
            try:
                os.close(fd)
            except OSError:  # e.g. listdir's own descriptor, closed already
                pass


def _keep_off_parents_cpu() -> set[int] | None:
    """Move off the CPU the parent runs on; the CPUs to take back later (None: nothing was changed)."""
    try:
        cpus = os.sched_getaffinity(0)
        with open(f"/proc/{os.getppid()}/stat", "rb") as fh:
            parents = int(fh.read().rsplit(b")", 1)[1].split()[36])  # field 39, "processor"
        others = cpus - {parents}
        if not others or others == cpus:
            return None
        os.sched_setaffinity(0, others)
        return cpus
    except (OSError, ValueError, IndexError):
        return None


def warm_up(argv: list[str]) -> None:
    """Import what the command will need, build the validators and read ahead what its build reads
    first (`warm`, `daemon_child.read_ahead`)."""
    from promptgen import daemon_child, warm
    from promptgen.buildcmd import parse_build_args

    if parse_build_args(argv) is not None:
        warm.import_modules(skip=warm.NOT_FOR_BUILDS)
    else:  # the typer CLI will run it (`status`, `check`, or a build with other options)
        warm.import_modules()
    warm.build_validators()
    daemon_child.read_ahead(argv)

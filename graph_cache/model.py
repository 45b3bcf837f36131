"""Core value types of the engine: node specs, traces, decisions and reasons.

Everything here is plain stdlib so that the no-op path can use it without importing any heavy library.
The engine never knows what a node *means*; it only knows its type, key, inputs and rule.

The immutable values are `typing.NamedTuple`s: a frozen dataclass compiles six methods when its module
is imported (≈ 0.75 ms a class, ≈ 15 ms for a build's two dozen; docs/PERFORMANCE.md section 18), a
NamedTuple none, and it is built with one `tuple.__new__`.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Protocol, Sequence


class Decision:
    """How a node was counted in one build (exactly one per node)."""

    HIT = "hit"  # reused without recomputation (includes dependents spared by a cutoff)
    MISS = "miss"  # recomputed; output is new or changed
    CUTOFF = "cutoff"  # recomputed; output fingerprint unchanged, dependents spared

    ALL = (HIT, MISS, CUTOFF)


class ReasonCode:
    """Why a node was recomputed (documented set, shown by `explain`)."""

    NEW = "new"  # no trace for this node
    INPUT_CHANGED = "input-changed"  # a file input's content fingerprint changed (or it appeared/vanished)
    DEPENDENCY_CHANGED = "dependency-changed"  # a node input's output fingerprint changed, or deps differ
    VERSION_CHANGED = "version-changed"  # tool version, rule version or relevant config changed
    STATE_RESET = "state-reset"  # persisted state was corrupt/old-schema and was discarded
    CACHE_CORRUPT = "cache-corrupt"  # this node's stored trace or output was damaged (checksum/decoding)

    ALL = (NEW, INPUT_CHANGED, DEPENDENCY_CHANGED, VERSION_CHANGED, STATE_RESET, CACHE_CORRUPT)


class Reason(NamedTuple):
    """A recompute reason: a code, the file or node that changed, and old/new fingerprints."""

    code: str
    detail: str = ""
    old: str | None = None
    new: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "detail": self.detail}
        if self.old is not None or self.new is not None:
            out["old"], out["new"] = self.old, self.new
        return out


class NodeSpec(NamedTuple):
    """What a node is: a stable id `<type>:<key>`, its file inputs and its node inputs (deps).

    `files` are root-relative POSIX paths the node reads; `deps` are ids of nodes whose outputs it reads.
    """

    id: str
    type: str
    files: tuple[str, ...] = ()
    deps: tuple[str, ...] = ()
    params: tuple[tuple[str, str], ...] = ()  # (name, value) the node depends on besides files/deps

    @property
    def key(self) -> str:
        return self.id.split(":", 1)[1] if ":" in self.id else self.id


def node_spec(id: str, type: str, files: tuple[str, ...], deps: tuple[str, ...],
              params: tuple[tuple[str, str], ...]) -> NodeSpec:
    """NodeSpec(id, type, files, deps, params) without the keyword handling of `NodeSpec.__new__`, for
    bulk loads of stored specs."""
    return _new_tuple(NodeSpec, (id, type, files, deps, params))


_new_tuple = tuple.__new__


def file_input(path: str) -> str:
    """Trace key of a file input."""
    return "file:" + path


def node_input(node_id: str) -> str:
    """Trace key of a node input."""
    return "node:" + node_id


def param_input(name: str) -> str:
    """Trace key of a param input (a value from the caller, e.g. a plan's layout)."""
    return "param:" + name


class Trace(NamedTuple):
    """Verifying trace of one node: what it saw at its last computation.

    `inputs` maps input keys (`file:<path>` / `node:<id>`) to fingerprints; `version` is the node's
    version key (tool version + rule version + relevant config); `children` are the nodes this node
    generated (dynamic dependencies), so a hit can expand without loading its output.
    """

    node_id: str
    type: str
    version: str
    inputs: tuple[tuple[str, str], ...]
    output_fp: str
    children: tuple[NodeSpec, ...] = ()
    decision: str = Decision.MISS  # decision/reason of the last *computation* of the node
    reason: Reason | None = None
    built_at: float = 0.0
    run_id: int = 0  # the build that last computed this node (hits keep the older run id)


class ComputeContext(Protocol):
    """What a rule's compute function may use: its declared inputs, nothing else."""

    def read_file(self, path: str) -> bytes:  # raises OSError like the filesystem does
        ...

    def output_of(self, node_id: str) -> Any:  # output of a declared dep (lazy-loaded on hits)
        ...

    def output_bytes(self, node_id: str) -> bytes:  # the same, still serialised (JSON bytes)
        ...


class Rule(NamedTuple):
    """How to compute one node type.

    `compute(spec, ctx)` returns a JSON-serialisable value (or deterministic JSON bytes it serialised
    itself); `children(spec, output)` returns the nodes
    this node generates (default none); `version` must change whenever the code or template behind the
    node type changes output.

    `parallel=True` lets the engine compute nodes of this type in forked worker processes when many are
    stale (islands of roots connected by deps, and the file-less children of their generators: see
    prefetch.py, parallel.py). The rule promises that compute only reads its declared files and deps
    through `ctx`, is deterministic, and returns bytes or a JSON-serialisable value.
    """

    type: str
    version: str
    compute: Callable[[NodeSpec, ComputeContext], Any]
    children: Callable[[NodeSpec, Any], Sequence[NodeSpec]] | None = None
    parallel: bool = False


class BuildCounts:
    """Per-build counts derived from decision events: every node exactly once (mutable: the counting
    sink fills it)."""

    __slots__ = ("by_type", "recomputed")

    def __init__(self, by_type: dict[str, dict[str, int]] | None = None,
                 recomputed: list[str] | None = None) -> None:
        self.by_type: dict[str, dict[str, int]] = {} if by_type is None else by_type
        self.recomputed: list[str] = [] if recomputed is None else recomputed

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BuildCounts):
            return NotImplemented
        return (self.by_type, self.recomputed) == (other.by_type, other.recomputed)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"BuildCounts(by_type={self.by_type!r}, recomputed={self.recomputed!r})"

    @property
    def nodes_total(self) -> int:
        return sum(sum(c.values()) for c in self.by_type.values())

    def total(self, decision: str) -> int:
        return sum(c.get(decision, 0) for c in self.by_type.values())


RuleSet = Mapping[str, Rule]


class FileChanges(NamedTuple):
    """What a caller knows changed since a committed build, so that the engine need not compare every
    file's stat with its stored record (`Engine.build(changes=...)`).

    `snapshot` is the `BuildResult.files_snapshot` of the build the caller compared against; `paths` are
    the files whose content may differ from that build's records (added, removed, modified). The engine
    takes every other path of the build's `stats` as unchanged, but only if `snapshot` is still the
    store's (no other build committed since); otherwise it ignores the hint and checks every file.
    """

    snapshot: str
    paths: frozenset


def last_decision(trace: Trace, last_run_id: int) -> tuple[str, Reason | None]:
    """Decision of a node in run `last_run_id` (the latest committed build): traces are rewritten only
    when a node is recomputed, so a trace from an older run means the node was a hit in that build."""
    if trace.run_id == last_run_id:
        return trace.decision, trace.reason
    return Decision.HIT, None

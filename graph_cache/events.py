"""Build events and sinks. Counts, metrics and `explain` are all derived from these events.

The engine emits, in order: BuildStarted, BuildPlanned, then per node one NodeDecided (in decision order)
— or, in a change-driven build, one NodeDecided per visited node and one NodesHit for all the others —, any
StateWarning, one PhaseTimed per phase ("verify", "compute", "persist"), and BuildFinished. Events are
NamedTuples (immutable, and nothing to compile at import: see model.py).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

from .model import BuildCounts, Decision, Reason


class BuildStarted(NamedTuple):
    run_id: int
    roots: int
    dry_run: bool = False


class BuildPlanned(NamedTuple):
    """How the build will proceed, before any node is decided: `mode` "full" (every root is visited) or
    "changes" (a change-driven build, dirty.py); `queued`: the nodes visited first (the roots, or the
    change-driven build's initial queue, which its wave of changes may grow)."""

    mode: str
    queued: int


class NodeDecided(NamedTuple):
    node_id: str
    node_type: str
    decision: str
    reason: Reason | None
    seconds: float  # time spent on this node (fingerprinting, verify, compute)


class NodesHit(NamedTuple):
    """Nodes a change-driven build did not visit (dirty.py): all hits, counted per node type."""

    by_type: dict[str, int]


class PhaseTimed(NamedTuple):
    phase: str
    seconds: float


class StateWarning(NamedTuple):
    message: str


class BuildFinished(NamedTuple):
    counts: BuildCounts
    seconds: float
    run_id: int = 0
    dry_run: bool = False


Event = Any
Subscriber = Callable[[Event], None]


class EventBus:
    """Synchronous fan-out of events to subscribers, in subscription order."""

    def __init__(self) -> None:
        self._subs: list[Subscriber] = []

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that unsubscribes it."""
        self._subs.append(fn)
        return lambda: self.unsubscribe(fn)

    def unsubscribe(self, fn: Subscriber) -> None:
        if fn in self._subs:
            self._subs.remove(fn)

    def emit(self, event: Event) -> None:
        for fn in list(self._subs):
            fn(event)


class CountingSink:
    """Builds `BuildCounts` from NodeDecided events only (each type gets all three decision keys)."""

    def __init__(self) -> None:
        self.counts = BuildCounts()

    def __call__(self, event: Event) -> None:
        if isinstance(event, BuildStarted):
            self.counts = BuildCounts()
        elif isinstance(event, NodeDecided):
            per = self.counts.by_type.setdefault(event.node_type, {d: 0 for d in Decision.ALL})
            per[event.decision] = per.get(event.decision, 0) + 1
            if event.decision != Decision.HIT:
                self.counts.recomputed.append(event.node_id)
        elif isinstance(event, NodesHit):
            for node_type, n in event.by_type.items():
                per = self.counts.by_type.setdefault(node_type, {d: 0 for d in Decision.ALL})
                per[Decision.HIT] += n


class RecordingSink:
    """Keeps every event, for tests, `--explain` style reports and metrics exporters."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of_type(self, cls: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]

    def decisions(self) -> dict[str, NodeDecided]:
        return {e.node_id: e for e in self.events if isinstance(e, NodeDecided)}

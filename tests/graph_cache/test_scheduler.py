"""Dynamic Kahn scheduler: deterministic order, nodes added while running, cycle/unknown-dep errors."""
from __future__ import annotations

import pytest

from graph_cache.errors import CycleError, SpecConflictError
from graph_cache.model import NodeSpec
from graph_cache.scheduler import Scheduler


def n(node_id, *deps):
    return NodeSpec(node_id, node_id.split(":")[0], (), tuple(deps))


def drain(s, on_node=None):
    order = []
    while (spec := s.next_ready()) is not None:
        order.append(spec.id)
        if on_node:
            on_node(spec)
        s.done(spec.id)
    return order


def test_topological_and_deterministic():
    s = Scheduler()
    for spec in [n("t:d", "t:b", "t:c"), n("t:c", "t:a"), n("t:b", "t:a"), n("t:a"), n("t:0")]:
        s.add(spec)
    # ready nodes in the order they were added: t:a, then its dependents c (added before b), b, d; t:0 last
    assert drain(s) == ["t:a", "t:c", "t:b", "t:d", "t:0"]
    s.check_finished()
    assert s.pending() == set()


def test_children_added_while_running():
    s = Scheduler()
    s.add(n("gen:x"))
    s.add(n("use:z", "child:2"))  # waits for a node that does not exist yet

    def expand(spec):
        if spec.id == "gen:x":
            for i in (2, 1):
                s.add(n(f"child:{i}", "gen:x"), parent=spec.id)

    # children rank right after their generator, in the order generated
    assert drain(s, expand) == ["gen:x", "child:2", "child:1", "use:z"]
    s.check_finished()


def test_add_with_done_deps_is_ready_at_once_and_duplicates_ignored():
    s = Scheduler()
    s.add(n("a:1"))
    assert drain(s) == ["a:1"]
    assert s.add(n("b:1", "a:1")) is True
    assert s.add(n("b:1", "a:1")) is False
    assert s.pending() == {"b:1"}
    assert drain(s) == ["b:1"]


def test_conflicting_spec_raises():
    s = Scheduler()
    s.add(NodeSpec("a:1", "a", ("x.md",)))
    with pytest.raises(SpecConflictError, match="a:1"):
        s.add(NodeSpec("a:1", "a", ("y.md",)))


def test_cycle_is_named():
    s = Scheduler()
    for spec in [n("a:1", "c:1"), n("b:1", "a:1"), n("c:1", "b:1"), n("d:1", "c:1"), n("ok:1")]:
        s.add(spec)
    assert drain(s) == ["ok:1"]
    with pytest.raises(CycleError) as ei:
        s.check_finished()
    assert ei.value.cycle == ("a:1", "c:1", "b:1")
    assert "a:1 -> c:1 -> b:1 -> a:1" in str(ei.value)


def test_self_dependency_and_unknown_dep():
    s = Scheduler()
    s.add(n("a:1", "a:1"))
    s.add(n("b:1", "ghost:1"))
    s.add(n("c:1", "b:1"))
    drain(s)
    with pytest.raises(CycleError) as ei:
        s.check_finished()
    assert ei.value.cycle == ("a:1",)
    assert ei.value.missing == {"b:1": ("ghost:1",)}
    assert "b:1 depends on unknown node(s) ghost:1" in str(ei.value)


def test_done_requires_issued_node():
    s = Scheduler()
    s.add(n("a:1"))
    with pytest.raises(ValueError):
        s.done("a:1")

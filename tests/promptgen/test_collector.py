"""The cycle collector during a build (`promptgen.collector`): off while a build loads and compares, on for
first builds, full builds and builds that recompute more than the budget; restored afterwards."""
from __future__ import annotations

import gc

import pytest

from graph_cache.events import BuildFinished, BuildPlanned, EventBus, NodeDecided
from graph_cache.model import Decision
from promptgen import service
from promptgen.collector import BuildCollector
from promptgen.entry import QUIET_GC


@pytest.fixture
def collector_state():
    """The collector's settings before the test, restored after it whatever the test did."""
    before = gc.get_threshold(), gc.isenabled()
    yield before
    gc.set_threshold(*before[0])
    gc.enable() if before[1] else gc.disable()
    gc.unfreeze()


def decided(decision: str) -> NodeDecided:
    return NodeDecided("doc:x", "doc", decision, None, 0.0)


def test_off_during_a_change_driven_build_until_the_budget_is_spent(collector_state):
    thresholds, enabled = collector_state
    with BuildCollector(budget=3) as c:
        assert not gc.isenabled() and gc.get_threshold() == QUIET_GC
        assert gc.get_freeze_count() > 0  # what was alive before the build is out of the way
        c(BuildPlanned("changes", 5))
        for _ in range(20):
            c(decided(Decision.HIT))  # hits cost nothing
        c(decided(Decision.MISS))
        c(decided(Decision.CUTOFF))
        assert not gc.isenabled() and c.recomputed == 2
        c(decided(Decision.MISS))
        assert gc.isenabled() and c.collecting  # the third recomputed node: on from now on
        assert gc.get_threshold() == QUIET_GC
    assert gc.get_threshold() == thresholds and gc.isenabled() == enabled
    assert gc.get_freeze_count() == 0


def test_on_as_soon_as_the_engine_plans_a_full_build(collector_state):
    with BuildCollector() as c:
        assert not gc.isenabled()
        c(BuildPlanned("full", 12))
        assert gc.isenabled()
        frozen = gc.get_freeze_count()
        c(decided(Decision.MISS))  # nothing more to do
        assert gc.get_freeze_count() == frozen


def test_a_first_build_keeps_the_collector_on(collector_state):
    with BuildCollector(quiet=False) as c:
        assert gc.isenabled() and c.collecting and gc.get_threshold() == QUIET_GC
    assert gc.get_threshold() == collector_state[0]


def test_a_disabled_collector_stays_disabled_after_the_build(collector_state):
    gc.disable()
    with BuildCollector(budget=1) as c:
        c(decided(Decision.MISS))
        assert gc.isenabled()
    assert not gc.isenabled()


def test_real_builds_collect_only_when_they_compute_everything(workspace, monkeypatch, collector_state):
    """A first build and a build whose rules changed (full) run with the collector on; an edit build
    (change-driven, a few nodes) finishes with it off; after each build it is back as it was."""
    seen: list[bool] = []
    emit = EventBus.emit

    def spy(bus, event):
        if type(event) is BuildFinished:
            seen.append(gc.isenabled())
        emit(bus, event)

    monkeypatch.setattr(EventBus, "emit", spy)

    def build():
        outcome = service.build(str(workspace))
        outcome.close()
        assert gc.isenabled() == collector_state[1] and gc.get_threshold() == collector_state[0]
        return outcome

    first = build()
    execution = sorted(workspace.rglob("EXECUTION_TASK_*.md"))[0]
    execution.write_text(execution.read_text(encoding="utf-8") + "\n- one more note\n", encoding="utf-8")
    edit = build()
    assert edit.result.mode == "changes" and 0 < len(edit.counts.recomputed) < len(first.counts.recomputed)
    monkeypatch.setattr("promptgen.pipeline.global_version", lambda key: "another rule version")
    full = build()
    assert full.result.mode == "full" and len(full.counts.recomputed) == len(first.counts.recomputed)
    assert seen == [True, False, True]

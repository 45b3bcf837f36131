"""`.promptgen/discovery.bin` (promptgen/discovery_cache.py): reused while the scanned paths stay the same,
and its root specs handed to the engine when they changed (a plan added or deleted)."""
from __future__ import annotations

import shutil

from graph_cache.dirty import ROOTS_KEY
from graph_cache.graph_index import GraphIndex
from graph_cache.spec_rows import SpecRows
from graph_cache.store import Store
from promptgen import discovery_cache, service
from promptgen.config import load_config


def built(workspace) -> tuple:
    """(the outcome, closed, its plan statuses, the state directory) of a build of `workspace`."""
    outcome = service.build(str(workspace))
    statuses = outcome.statuses
    outcome.close()
    return outcome, statuses, load_config(str(workspace)).state_dir


def test_the_last_roots_come_back_whatever_the_key(workspace):
    state_dir = load_config(str(workspace)).state_dir
    assert discovery_cache.load(state_dir, b"any key") == (None, None)  # no file yet
    _, _, state_dir = built(workspace)
    key = discovery_cache._read(state_dir)[0]
    cached, last = discovery_cache.load(state_dir, key)
    assert cached is not None and isinstance(last, SpecRows)
    other, last_again = discovery_cache.load(state_dir, b"another key")
    assert other is None and last_again.rows() == last.rows()
    store, _ = Store.open(state_dir, read_only=True)
    try:
        assert last.digest() == store.meta(ROOTS_KEY)  # the engine's digest of the last roots
    finally:
        store.close()
    (workspace / ".promptgen" / discovery_cache.FILE).write_bytes(b"garbled")
    assert discovery_cache.load(state_dir, key) == (None, None)


def test_a_deleted_plan_is_compared_with_the_last_roots_not_the_index(workspace, monkeypatch):
    """The build after a plan folder was deleted is change-driven; it compares the new roots with the
    last build's, read from the discovery cache, and builds no root spec from the graph index (0.5 s
    at 100k documents). Its answers equal a cold build's."""
    first, _, _ = built(workspace)
    shutil.rmtree(workspace / "plans" / "ORBIT-SYNC")
    built_specs: list[str] = []
    real_spec = GraphIndex.spec
    monkeypatch.setattr(GraphIndex, "spec", lambda self, nid: built_specs.append(nid) or real_spec(self, nid))
    after, statuses, _ = built(workspace)
    assert after.result.mode == "changes"
    assert set(after.counts.recomputed) >= set(built_specs)  # only visited nodes were looked up
    assert len(after.counts.recomputed) < first.counts.nodes_total // 4
    monkeypatch.undo()
    shutil.rmtree(workspace / ".promptgen")
    cold, cold_statuses, _ = built(workspace)
    assert cold.result.mode == "full" and statuses == cold_statuses

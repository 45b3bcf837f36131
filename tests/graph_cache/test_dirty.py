"""Change-driven builds (graph_cache/dirty.py): only the dirty closure is visited, the answer is a full build's."""
from __future__ import annotations

import pytest

from graph_cache.engine import Engine
from graph_cache.errors import CycleError
from graph_cache.events import EventBus, NodeDecided, NodesHit, RecordingSink
from graph_cache.fs_memory import MemoryFileSystem
from graph_cache.model import Decision, FileChanges, NodeSpec, ReasonCode, Rule
from graph_cache.store import Store

N = 40


def rules(version="1", drop=None):
    def doc(spec, ctx):
        try:
            return ctx.read_file(spec.files[0]).decode()
        except FileNotFoundError:
            return "<missing>"

    def total(spec, ctx):
        return sum(len(ctx.output_of(d)) for d in spec.deps)

    def gen(spec, ctx):
        return ctx.read_file(spec.files[0]).decode().split()

    def kids(spec, out):
        return [NodeSpec(f"kid:{w}", "kid", (), (spec.id,)) for w in out if w != drop]

    def kid(spec, ctx):
        return spec.key.upper()

    return {"doc": Rule("doc", version, doc), "total": Rule("total", "1", total),
            "gen": Rule("gen", "1", gen, kids), "kid": Rule("kid", "1", kid)}


def roots(extra=()):
    docs = [NodeSpec(f"doc:{i}", "doc", (f"d{i}.md",)) for i in range(N)]
    return docs + [NodeSpec("total:all", "total", (), tuple(d.id for d in docs)),
                   NodeSpec("gen:words", "gen", ("words.txt",))] + list(extra)


def world():
    fs = MemoryFileSystem()
    for i in range(N):
        fs.write(f"d{i}.md", f"doc {i}")
    fs.write("words.txt", "alpha beta")
    fs.clock.advance(10)
    return fs


def build(fs, store, rs=None, specs=None, **kw):
    bus, rec = EventBus(), RecordingSink()
    bus.subscribe(rec)
    result = Engine(fs, store, rs or rules(), "g", bus, workers=1).build(specs or roots(), **kw)
    return result, rec


def test_an_edit_visits_only_its_dirty_closure_and_counts_every_node():
    fs, store = world(), Store.memory()
    build(fs, store)
    fs.write("d7.md", "doc seven!")
    fs.touch("d8.md")  # stat moved, same bytes: hashed, not visited
    fs.clock.advance(10)
    result, rec = build(fs, store)
    assert result.mode == "changes"
    visited = [e.node_id for e in rec.of_type(NodeDecided)]
    assert visited == ["doc:7", "total:all"]  # depth order; kids and other docs untouched
    (hits,) = rec.of_type(NodesHit)
    assert hits.by_type == {"doc": N - 1, "gen": 1, "kid": 2}
    assert result.counts.total(Decision.HIT) == N + 2 and result.counts.nodes_total == N + 4
    assert result.output("total:all") == sum(len(f"doc {i}") for i in range(N)) + len("doc seven!") - len("doc 7")
    full, _ = build(fs, Store.memory())  # a clean build agrees
    assert {n: full.output(n) for n in full.decisions} == {n: result.output(n) for n in result.decisions}
    again, rec = build(fs, store)  # the touched file's new stat was recorded: nothing to hash, nothing to visit
    assert again.mode == "changes" and rec.of_type(NodeDecided) == []


def test_cutoff_stops_the_wave():
    fs, store = world(), Store.memory()
    build(fs, store)
    fs.write("d3.md", "doc X")  # same length: total's output is unchanged
    fs.clock.advance(10)
    result, rec = build(fs, store)
    assert [(e.node_id, e.decision) for e in rec.of_type(NodeDecided)] == [("doc:3", Decision.MISS),
                                                                           ("total:all", Decision.CUTOFF)]


def test_a_file_that_appears_is_seen_and_a_generator_can_drop_children():
    fs, store = world(), Store.memory()
    fs.delete("d5.md")
    build(fs, store)
    fs.write("d5.md", "back")
    fs.write("words.txt", "alpha gamma")
    fs.clock.advance(10)
    result, _ = build(fs, store)
    assert result.mode == "changes"
    assert result.decisions["doc:5"][1].code == ReasonCode.INPUT_CHANGED
    assert "kid:beta" not in result.decisions and "kid:gamma" in result.decisions
    assert "kid:beta" not in store.traces() and store.load_output("kid:beta") is None
    assert result.output("kid:gamma") == "GAMMA"


def test_a_dependent_of_a_dropped_child_fails_like_a_full_build():
    fs, store = world(), Store.memory()
    user = NodeSpec("total:beta", "total", (), ("kid:beta",))
    build(fs, store, specs=roots([user]))
    fs.write("words.txt", "alpha")
    fs.clock.advance(10)
    with pytest.raises(CycleError, match="kid:beta"):
        build(fs, store, specs=roots([user]))
    with pytest.raises(CycleError, match="kid:beta"):
        build(fs, store, specs=roots([user]), change_driven=False)


@pytest.mark.parametrize("change", ["version", "reset", "opt-out"])
def test_falls_back_to_a_full_build_when_the_graph_may_differ(change):
    fs, store = world(), Store.memory()
    build(fs, store)
    kw, rs, specs = {}, None, None
    if change == "version":
        rs = rules(version="2")
    elif change == "reset":
        store = Store.memory(reset_warning="state was corrupt")
    else:
        kw["change_driven"] = False
    result, rec = build(fs, store, rs, specs, **kw)
    assert result.mode == "full" and rec.of_type(NodesHit) == []
    assert len(rec.of_type(NodeDecided)) == len(result.decisions)


def _on_disk(tmp_path, fs, tamper=None):
    """A full build into an on-disk store, then `tamper(sqlite connection)` as if our own last commit had
    written it (the stamp is renewed: the next open trusts the file and reads rows on demand)."""
    import sqlite3

    from graph_cache.store import _mark_committed

    store, _ = Store.open(tmp_path)
    build(fs, store)
    store.close()
    if tamper is not None:
        db = str(tmp_path / "state.db")
        conn = sqlite3.connect(db, isolation_level=None)
        tamper(conn)
        conn.close()
        _mark_committed(db)
    store, _ = Store.open(tmp_path)
    return store


def test_an_edit_reads_only_the_rows_it_visits(tmp_path):
    fs = world()
    store = _on_disk(tmp_path, fs)
    fs.write("d7.md", "doc seven!")
    fs.clock.advance(10)
    result, rec = build(fs, store)
    assert result.mode == "changes" and [e.node_id for e in rec.of_type(NodeDecided)] == ["doc:7", "total:all"]
    assert store._traces._fetch_all is not None  # the trace table was never read in bulk
    full, _ = build(fs, Store.memory())
    assert {n: full.output(n) for n in full.decisions} == {n: result.output(n) for n in result.decisions}
    assert dict(result.fingerprints.items()) != {} and result.fingerprints["doc:3"] == full.fingerprints["doc:3"]
    store.close()


def test_a_garbled_row_fetched_on_demand_is_recomputed_as_cache_corrupt(tmp_path):
    fs = world()
    store = _on_disk(tmp_path, fs, lambda c: c.execute(
        "UPDATE traces SET inputs = x'00ff13' WHERE node_id = 'doc:7'"))
    fs.write("d7.md", "doc seven!")
    fs.clock.advance(10)
    result, _ = build(fs, store)
    assert result.mode == "changes"
    assert result.decisions["doc:7"][1].code == ReasonCode.CACHE_CORRUPT
    assert "damaged records" in result.damage_warning()
    store.close()


def test_an_unreadable_fingerprint_of_an_unvisited_dep_is_visited_first(tmp_path):
    fs = world()
    store = _on_disk(tmp_path, fs, lambda c: c.execute(
        "UPDATE traces SET output_fp = x'00' WHERE node_id = 'doc:11'"))  # a blob: not text
    fs.write("d7.md", "doc seven!")
    fs.clock.advance(10)
    result, rec = build(fs, store)
    assert result.mode == "changes"
    assert [e.node_id for e in rec.of_type(NodeDecided)] == ["doc:7", "doc:11", "total:all"]
    assert result.decisions["doc:11"][1].code == ReasonCode.CACHE_CORRUPT
    full, _ = build(fs, Store.memory())
    assert result.output("total:all") == full.output("total:all")
    store.close()


def test_without_a_valid_graph_index_the_build_is_full(tmp_path):
    fs = world()
    store = _on_disk(tmp_path, fs, lambda c: c.execute("DELETE FROM blobs WHERE key = 'graph_cache.index'"))
    fs.write("d7.md", "doc seven!")
    fs.clock.advance(10)
    result, rec = build(fs, store)
    assert result.mode == "full" and len(rec.of_type(NodeDecided)) == len(result.decisions)
    store.close()
    store, _ = Store.open(tmp_path)  # the full build wrote a new index
    fs.write("d7.md", "doc 7")
    fs.clock.advance(10)
    assert build(fs, store)[0].mode == "changes"
    store.close()


# -- FileChanges: the caller names the changed files -------------------------------------------------------
def stats_of(fs, paths=None):
    return {p: fs.stat(p) for p in (paths if paths is not None else [f"d{i}.md" for i in range(N)] + ["words.txt"])}


def test_file_changes_replace_the_comparison_of_every_file(tmp_path):
    fs = world()
    store = _on_disk(tmp_path, fs)
    store.close()
    store, _ = Store.open(tmp_path)
    last = store.meta("files_snapshot")
    assert last
    fs.write("d7.md", "doc seven!")
    fs.write("d8.md", "doc EIGHT")  # changed too, but the caller does not say so: it is trusted
    fs.clock.advance(10)
    result, rec = build(fs, store, stats=stats_of(fs), changes=FileChanges(last, frozenset({"d7.md"})))
    assert result.mode == "changes" and result.changes_used
    assert [e.node_id for e in rec.of_type(NodeDecided)] == ["doc:7", "total:all"]
    assert store._files._fetch_all is not None  # the file rows were read one by one, not in bulk
    assert set(result.fingerprinted) == {"d7.md"}
    assert result.files_snapshot not in (None, last) and store.meta("files_snapshot") == result.files_snapshot
    store.close()


def test_file_changes_made_against_another_snapshot_are_ignored():
    fs, store = world(), Store.memory()
    first, _ = build(fs, store)
    build(fs, store)  # another build committed since: a new snapshot
    fs.write("d7.md", "doc seven!")
    fs.write("d8.md", "doc EIGHT")
    fs.clock.advance(10)
    result, rec = build(fs, store, stats=stats_of(fs), changes=FileChanges(first.files_snapshot, frozenset({"d7.md"})))
    assert not result.changes_used
    assert [e.node_id for e in rec.of_type(NodeDecided)] == ["doc:7", "doc:8", "total:all"]


def test_files_outside_the_callers_stats_are_still_compared():
    fs, store = world(), Store.memory()
    first, _ = build(fs, store)
    fs.write("words.txt", "alpha gamma")
    fs.clock.advance(10)
    docs = stats_of(fs, [f"d{i}.md" for i in range(N)])  # the caller saw only the documents
    result, _ = build(fs, store, stats=docs, changes=FileChanges(first.files_snapshot, frozenset()))
    assert result.changes_used and "kid:gamma" in result.decisions and "kid:beta" not in result.decisions
    full, _ = build(fs, Store.memory())
    assert {n: full.output(n) for n in full.decisions} == {n: result.output(n) for n in result.decisions}


def test_a_new_snapshot_at_every_commit_and_none_for_a_dry_run():
    fs, store = world(), Store.memory()
    ids = [build(fs, store)[0].files_snapshot for _ in range(3)]
    assert len(set(ids)) == 3 and all(ids)
    assert build(fs, store, dry_run=True)[0].files_snapshot is None
    assert store.meta("files_snapshot") == ids[-1]

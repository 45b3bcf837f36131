"""Change-driven builds whose roots changed (graph_cache/root_changes.py): new, changed and removed roots
are visited or leave the graph; the answer is a full build's; anything unprovable is a full build."""
from __future__ import annotations

import pytest

from graph_cache.errors import CycleError
from graph_cache.events import NodeDecided, NodesHit
from graph_cache.model import Decision, NodeSpec, ReasonCode, Rule
from graph_cache.store import Store
from graph_cache.trace_table import TraceView

from test_dirty import N, build, roots, rules, world


def docs_total(extra_docs=(), drop=(), extra=()):
    """The roots of test_dirty with documents added / dropped (total:all follows them)."""
    docs = [NodeSpec(f"doc:{i}", "doc", (f"d{i}.md",)) for i in range(N) if i not in drop]
    docs += [NodeSpec(f"doc:{name}", "doc", (path,)) for name, path in extra_docs]
    return docs + [NodeSpec("total:all", "total", (), tuple(d.id for d in docs)),
                   NodeSpec("gen:words", "gen", ("words.txt",))] + list(extra)


def same_as_full(fs, result, specs):
    full, _ = build(fs, Store.memory(), specs=specs)
    assert {n: full.output(n) for n in full.decisions} == {n: result.output(n) for n in result.decisions}
    assert set(full.decisions) == set(result.decisions)
    totals = lambda r: {t: sum(c.values()) for t, c in r.counts.by_type.items() if sum(c.values())}  # noqa: E731
    assert totals(result) == totals(full)  # nodes per type, visited or not
    return full


def visited(rec):
    return [(e.node_id, e.decision) for e in rec.of_type(NodeDecided)]


def test_a_new_root_is_visited_with_the_roots_that_now_depend_on_it():
    fs, store = world(), Store.memory()
    build(fs, store)
    fs.write("new.md", "brand new")
    fs.clock.advance(10)
    specs = docs_total(extra_docs=[("new", "new.md")])
    result, rec = build(fs, store, specs=specs)
    assert result.mode == "changes"
    assert visited(rec) == [("doc:new", Decision.MISS), ("total:all", Decision.MISS)]
    assert result.decisions["doc:new"][1].code == ReasonCode.NEW
    assert result.decisions["total:all"][1].code == ReasonCode.DEPENDENCY_CHANGED
    (hits,) = rec.of_type(NodesHit)
    assert hits.by_type == {"doc": N, "gen": 1, "kid": 2}
    same_as_full(fs, result, specs)
    again, rec = build(fs, store, specs=specs)  # the index knows the new roots: nothing to visit
    assert again.mode == "changes" and rec.of_type(NodeDecided) == []


def test_a_removed_root_leaves_the_graph_with_the_children_it_generated():
    fs, store = world(), Store.memory()
    build(fs, store)
    specs = docs_total(drop=(3,))[:-1]  # doc:3 and gen:words (with kid:alpha, kid:beta) are gone
    result, rec = build(fs, store, specs=specs)
    assert result.mode == "changes" and visited(rec) == [("total:all", Decision.MISS)]
    for gone in ("doc:3", "gen:words", "kid:alpha", "kid:beta"):
        assert gone not in result.decisions and gone not in store.traces() and store.load_output(gone) is None
    same_as_full(fs, result, specs)
    again, rec = build(fs, store, specs=specs)
    assert again.mode == "changes" and rec.of_type(NodeDecided) == []


def test_a_renamed_root_is_a_removal_and_an_addition():
    fs, store = world(), Store.memory()
    build(fs, store)
    fs.write("d3-renamed.md", "doc 3")
    fs.delete("d3.md")
    fs.clock.advance(10)
    specs = docs_total(drop=(3,), extra_docs=[("3r", "d3-renamed.md")])
    result, rec = build(fs, store, specs=specs)
    assert result.mode == "changes"
    assert visited(rec) == [("doc:3r", Decision.MISS), ("total:all", Decision.CUTOFF)]  # same total
    assert "doc:3" not in result.decisions
    same_as_full(fs, result, specs)


def test_a_root_still_needed_by_a_kept_node_fails_like_a_full_build():
    fs, store = world(), Store.memory()
    build(fs, store)
    specs = [s for s in roots() if s.id != "doc:3"]  # total:all still depends on doc:3
    with pytest.raises(CycleError, match="doc:3"):
        build(fs, store, specs=specs)
    with pytest.raises(CycleError, match="doc:3"):
        build(fs, Store.memory(), specs=specs)


def shared_rules():
    rs = rules()

    def kids(spec, out):
        return [NodeSpec("kid:shared", "kid", (), ())]

    rs["gen2"] = Rule("gen2", "1", rs["gen"].compute, kids)
    rs["gen"] = Rule("gen", "1", rs["gen"].compute, kids)
    return rs


@pytest.mark.parametrize("case", ["child-becomes-root", "shared-child", "duplicate-root", "too-many"])
def test_what_cannot_be_proven_is_a_full_build(case):
    fs, store = world(), Store.memory()
    rs, first = rules(), roots()
    if case == "shared-child":
        rs = shared_rules()
        first = roots([NodeSpec("gen2:words", "gen2", ("words.txt",))])
    build(fs, store, rs=rs, specs=first)
    if case == "child-becomes-root":
        specs = roots([NodeSpec("kid:alpha", "kid", (), ("gen:words",))])
    elif case == "shared-child":
        specs = [s for s in first if s.id != "gen:words"]  # gen2 still generates kid:shared
    elif case == "duplicate-root":
        specs = roots([NodeSpec("doc:new", "doc", ("d1.md",))] * 2)
    else:
        specs = docs_total(extra_docs=[(f"n{i}", f"d{i % N}.md") for i in range(100)])
    try:
        result, rec = build(fs, store, rs=rs, specs=specs)
    except Exception as exc:  # the full build's own verdict (duplicate roots)
        with pytest.raises(type(exc)):
            build(fs, Store.memory(), rs=rs, specs=specs)
        return
    assert result.mode == "full" and rec.of_type(NodesHit) == []
    full, _ = build(fs, Store.memory(), rs=rs, specs=specs)
    assert set(full.decisions) == set(result.decisions)
    if case == "shared-child":
        assert "kid:shared" in result.decisions


@pytest.mark.parametrize("on_disk", [False, True])
def test_graph_json_from_specs_equals_the_one_from_traces(on_disk, tmp_path):
    """... with the children read from the stored traces' `children` column alone (a store on disk,
    opened again for each build as by each command) or from the traces themselves."""
    from graph_cache.graph import to_json, to_json_of

    fs, store = world(), Store.memory()
    steps = [roots(), docs_total(extra_docs=[("new", "d1.md")]), docs_total(drop=(3,))[:-1], roots()]
    for i, specs in enumerate(steps):
        if i == 3:
            fs.write("words.txt", "alpha gamma delta")  # the generator's children change too
            fs.clock.advance(10)
        if on_disk:
            store, _ = Store.open(tmp_path)
        result, _ = build(fs, store, specs=specs)
        assert result.mode == ("full" if i == 0 else "changes")
        children = result.traces.children()
        assert ("gen:words" in children) == (i != 2)
        assert to_json_of(result.specs, children) == to_json(result.traces)
        if on_disk:
            store.close()
            stored, _ = Store.open(tmp_path, read_only=True)  # every row read up front
            assert TraceView(dict.fromkeys(result.traces), {}, stored.traces()).children() == children
            stored.close()


@pytest.mark.parametrize("on_disk", [False, True])
def test_new_and_dropped_roots_leave_the_file_records_of_a_full_build(on_disk, tmp_path):
    """The stored file records and the build's `files` after a change-driven build whose roots changed
    (a new document, a dropped one, a vanished file) are the ones a full build of the same roots makes."""
    fs = world()
    store = Store.open(tmp_path)[0] if on_disk else Store.memory()
    build(fs, store)
    fs.write("new.md", "a new document")
    fs.delete("d5.md")
    fs.clock.advance(10)
    specs = docs_total(extra_docs=[("new", "new.md")], drop=(3,))
    if on_disk:
        store.close()
        store, _ = Store.open(tmp_path)
    result, _ = build(fs, store, specs=specs)
    assert result.mode == "changes"
    full_store = Store.memory()
    full, _ = build(fs, full_store, specs=specs)
    assert dict(result.files.items()) == dict(full.files.items())
    assert "d3.md" not in result.files and "d5.md" not in result.files and "new.md" in result.files
    if on_disk:
        store.close()
        store, _ = Store.open(tmp_path)
    assert dict(store.files().items()) == dict(full_store.files().items())


def after_a_first_build(case):
    """(fs, store, new roots): a first build of `roots()`, then the change `case` to its roots."""
    fs, store = world(), Store.memory()
    build(fs, store)
    if case == "new":
        fs.write("new.md", "brand new")
        specs = docs_total(extra_docs=[("new", "new.md")])
    elif case == "removed":
        specs = docs_total(drop=(3,))[:-1]
    elif case == "renamed":
        fs.write("d3-renamed.md", "doc 3")
        fs.delete("d3.md")
        specs = docs_total(drop=(3,), extra_docs=[("3r", "d3-renamed.md")])
    else:
        specs = roots([NodeSpec("kid:alpha", "kid", (), ("gen:words",))])
    fs.clock.advance(10)
    return fs, store, specs


@pytest.mark.parametrize("last", ["kept", "stale", "none"])
@pytest.mark.parametrize("case", ["new", "removed", "renamed", "child-becomes-root"])
def test_roots_compared_with_the_callers_copy_of_the_last_roots(case, last, monkeypatch):
    """Given the last build's roots (`last_roots`, e.g. from an application's cache file) with the stored
    graph's digest, a build whose roots changed compares its roots with those rows and builds no spec
    from the graph index; a copy that is not the last build's (another digest) is ignored. Either way the
    build visits what it visits without the copy, and ends like a full build."""
    from graph_cache.graph_index import GraphIndex
    from graph_cache.spec_rows import SpecRows

    fs, store, specs = after_a_first_build(case)
    expected, expected_rec = build(fs, store, specs=specs)
    fs, store, specs = after_a_first_build(case)
    first = roots()
    copy = {"kept": SpecRows(first), "stale": SpecRows(first[1:]), "none": None}[last]
    built_specs: list[str] = []
    real_spec = GraphIndex.spec
    monkeypatch.setattr(GraphIndex, "spec", lambda self, nid: built_specs.append(nid) or real_spec(self, nid))
    result, rec = build(fs, store, specs=specs, last_roots=copy)
    assert result.mode == expected.mode == ("full" if case == "child-becomes-root" else "changes")
    assert visited(rec) == visited(expected_rec)
    same_as_full(fs, result, specs)
    first_ids = {s.id for s in first}
    if last == "kept" and result.mode == "changes":
        assert not first_ids & set(built_specs)  # no spec of a last root built from the index
    elif result.mode == "changes":
        assert first_ids & set(specs) <= set(built_specs)  # compared with the index's specs


def test_a_kept_generator_whose_children_cannot_be_read_means_a_full_build():
    """The children column of a generator that stays is garbled: whether it also generated a child that
    leaves cannot be read from it, and its trace row is damaged too: the build is full."""
    fs, store = world(), Store.memory()
    rs = shared_rules()
    first = roots([NodeSpec("gen2:words", "gen2", ("words.txt",))])
    build(fs, store, rs=rs, specs=first)
    from graph_cache.store_db import encode_trace
    from graph_cache.trace_table import CHILDREN

    table = store._traces  # the memory store's table: the row as if read back from the file, garbled
    row = encode_trace(table._decoded.pop("gen2:words"))
    table._rows["gen2:words"] = (*row[:CHILDREN], b"\xff\x00", *row[CHILDREN + 1:])
    specs = [s for s in first if s.id != "gen:words"]
    result, rec = build(fs, store, rs=rs, specs=specs)
    assert result.mode == "full" and "kid:shared" in result.decisions
    full, _ = build(fs, Store.memory(), rs=rs, specs=specs)
    assert {n: full.output(n) for n in full.decisions} == {n: result.output(n) for n in result.decisions}

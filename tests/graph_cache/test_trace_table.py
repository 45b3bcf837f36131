"""Stored traces decoded lazily; hits proven from the raw inputs blob; old encodings re-encoded once."""
from __future__ import annotations

import marshal
import sqlite3

from graph_cache.engine import Engine
from graph_cache.fs_memory import MemoryFileSystem
from graph_cache.model import Decision, NodeSpec, ReasonCode, Rule, Trace
from graph_cache.store import Store
from graph_cache.store_db import encode_inputs, encode_trace
from graph_cache.trace_table import INPUTS, TraceTable, TraceView


def trace(node_id: str, fp: str = "f") -> Trace:
    return Trace(node_id, "t", "v", (("file:a", "1"), ("node:x", "2")), fp)


def test_rows_decode_on_access_and_a_damaged_row_reads_as_absent():
    good, bad = encode_trace(trace("t:1")), list(encode_trace(trace("t:2")))
    bad[INPUTS] = b"\x00\xff\x13"
    table = TraceTable({"t:1": good, "t:2": tuple(bad)})
    assert len(table) == 2 and list(table) == ["t:1", "t:2"] and "t:2" in table
    assert table.raw("t:1") == good  # undecoded
    assert table["t:1"] == trace("t:1")
    assert table.get("t:2") is None and table.damaged == {"t:2"}
    table.put(trace("t:3"))
    table.pop("t:1")
    assert list(table) == ["t:2", "t:3"] and table.raw("t:1") is None
    copy = table.copy()
    copy.pop("t:3")
    assert "t:3" in table and "t:3" not in copy


def test_trace_view_lists_the_reached_nodes_only():
    table = TraceTable({"t:1": encode_trace(trace("t:1"))})
    view = TraceView({"t:1": None, "t:2": None}, {"t:2": trace("t:2", "new")}, table)
    assert dict(view) == {"t:1": trace("t:1"), "t:2": trace("t:2", "new")}
    assert "t:9" not in view and len(view) == 2


def test_equal_inputs_always_encode_to_equal_bytes():
    a = (("".join(["file:", "x"]), "abc"), ("node:y", "".join(["d", "ef"])))
    b = (("file:x", "abc"), ("node:y", "def"))
    assert a[0][0] is not b[0][0] and encode_inputs(a) == encode_inputs(b)


def one_document():
    fs = MemoryFileSystem()
    fs.write("a.md", "alpha")
    fs.clock.advance(10)
    return fs, {"doc": Rule("doc", "1", lambda spec, ctx: ctx.read_file("a.md").decode())}, [
        NodeSpec("doc:a", "doc", ("a.md",))]


def test_a_row_in_another_encoding_still_hits_and_is_reencoded_once(tmp_path):
    fs, rules, roots = one_document()

    def build(**kw):
        store, _ = Store.open(tmp_path)
        try:
            return Engine(fs, store, rules, "g", workers=1).build(roots, **kw)
        finally:
            store.close()

    build()
    inputs = Store.open(tmp_path)[0].traces()["doc:a"].inputs
    conn = sqlite3.connect(tmp_path / "state.db")
    conn.execute("UPDATE traces SET inputs = ? WHERE node_id = 'doc:a'", (marshal.dumps(inputs, 4),))
    conn.commit()
    conn.close()
    assert Store.open(tmp_path)[0].traces().raw("doc:a")[INPUTS] != encode_inputs(inputs)
    result = build(change_driven=False)
    assert result.decisions["doc:a"] == (Decision.HIT, None)
    assert Store.open(tmp_path)[0].traces().raw("doc:a")[INPUTS] == encode_inputs(inputs)


def test_a_damaged_trace_row_is_recomputed_as_cache_corrupt(tmp_path):
    fs, rules, roots = one_document()
    store, _ = Store.open(tmp_path)
    Engine(fs, store, rules, "g", workers=1).build(roots)
    store.close()
    conn = sqlite3.connect(tmp_path / "state.db")
    conn.execute("UPDATE traces SET inputs = x'00ff13', children = x'00' WHERE node_id = 'doc:a'")
    conn.commit()
    conn.close()
    store, _ = Store.open(tmp_path)
    assert store.changed_externally  # written behind our back: every node is verified
    result = Engine(fs, store, rules, "g", workers=1).build(roots)
    assert result.mode == "full"
    assert result.decisions["doc:a"][1].code == ReasonCode.CACHE_CORRUPT
    assert result.decisions["doc:a"][0] == Decision.MISS  # no usable trace to compare with
    assert "state.db" in result.damage_warning() and "doc:a" in result.damage_warning()
    store.close()


def test_prefetch_reads_many_rows_at_once_and_remembers_the_absent_ones():
    stored = {f"t:{i}": encode_trace(trace(f"t:{i}")) for i in range(5)}
    point, bulk = [], []

    def fetch(node_id):
        point.append(node_id)
        return stored.get(node_id)

    def fetch_many(ids):
        bulk.append(list(ids))
        return {n: stored[n] for n in ids if n in stored}

    table = TraceTable(fetch=fetch, fetch_many=fetch_many, fetch_all=lambda: dict(stored))
    table.put(trace("t:4", fp="new"))  # replaced in this build: never read from the store
    assert table.raw("t:0") == stored["t:0"] and point == ["t:0"]
    table.prefetch(["t:0", "t:1", "t:2", "t:4", "gone"])
    assert bulk == [["t:1", "t:2", "gone"]]  # only rows not known yet
    assert table.raw("t:1") == stored["t:1"] and table["t:2"] == trace("t:2")
    assert table.raw("gone") is None and "gone" not in table and table["t:4"].output_fp == "new"
    assert point == ["t:0"]  # the prefetched (and the absent) ones needed no point read
    table.prefetch(["t:1", "gone"])
    assert len(bulk) == 1


def test_store_prefetch_matches_point_reads(tmp_path):
    fs = MemoryFileSystem()
    for i in range(3):
        fs.write(f"d{i}.md", b"x%d" % i)
    specs = [NodeSpec(f"doc:{i}", "doc", files=(f"d{i}.md",)) for i in range(3)]
    rules = {"doc": Rule("doc", "1", lambda spec, ctx: {"n": len(ctx.read_file(spec.files[0]))})}
    store, _ = Store.open(tmp_path)
    Engine(fs, store, rules, "g").build(specs)
    store.close()
    store, _ = Store.open(tmp_path)  # under no lock, but a file only we wrote: rows on demand
    bulk, point = store.traces(), store.traces()
    assert bulk._fetch_many is not None  # rows are read on demand here
    bulk.prefetch(["doc:0", "doc:1", "doc:2", "nope"])
    assert [bulk.raw(f"doc:{i}") for i in range(3)] == [point.raw(f"doc:{i}") for i in range(3)]
    assert bulk.raw("nope") is None and all(bulk.raw(f"doc:{i}") is not None for i in range(3))
    store.close()

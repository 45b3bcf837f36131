"""The graph index (graph_cache/graph_index.py): round trip, damage, and how commits keep or drop it."""
from __future__ import annotations

import marshal

from hypothesis import given, settings
from hypothesis import strategies as st

from graph_cache import graph_index
from graph_cache.graph_index import GraphIndex
from graph_cache.model import NodeSpec, node_spec
from graph_cache.store import Store


def graph(n: int = 150) -> dict[str, NodeSpec]:
    docs = [NodeSpec(f"doc:{i}", "doc", (f"d{i}.md", "shared.md"), (), (("p", str(i)),)) for i in range(n)]
    out = {d.id: d for d in docs}
    out["sum:all"] = NodeSpec("sum:all", "sum", (), tuple(d.id for d in reversed(docs)))
    out["kid:x"] = NodeSpec("kid:x", "kid", (), ("sum:all", "doc:3"))
    return out


def test_round_trip_gives_specs_readers_dependents_and_counts():
    specs = graph()
    index = GraphIndex.decode(graph_index.encode("R", "V", specs))
    assert index is not None and (index.roots_key, index.versions_key) == ("R", "V")
    assert index.ids == tuple(specs) and set(index.paths) == {f"d{i}.md" for i in range(150)} | {"shared.md"}
    assert index.by_type == {"doc": 150, "sum": 1, "kid": 1}
    assert index.spec("kid:x") == specs["kid:x"] and index.spec("sum:all") == specs["sum:all"]
    assert index.spec("nope") is None
    assert index.readers("d7.md") == ("doc:7",) and index.readers("shared.md") == tuple(f"doc:{i}" for i in range(150))
    assert index.readers("other.md") == ()
    assert index.dependents("doc:3") == ("sum:all", "kid:x") and index.dependents("kid:x") == ()
    assert index.all_specs() == specs and list(index.all_specs()) == list(specs)  # graph order kept


def test_types_and_membership_without_building_specs(monkeypatch):
    specs = graph()  # 152 nodes: three buckets
    index = GraphIndex.decode(graph_index.encode("R", "V", specs))
    monkeypatch.setattr(graph_index, "node_spec", None)  # building a NodeSpec would fail
    assert index.ids_of_types({"kid", "sum"}) == ["sum:all", "kid:x"]
    assert index.ids_of_types({"doc"}) == [f"doc:{i}" for i in range(150)]
    assert index.ids_of_types({"absent"}) == [] and index.ids_of_types(set()) == []
    assert [index.type_of(n) for n in ("doc:149", "sum:all", "kid:x")] == ["doc", "sum", "kid"]
    assert "kid:x" in index and "doc:0" in index and "nope" not in index


def test_damaged_foreign_or_incomplete_indexes_are_refused():
    blob = graph_index.encode("R", "V", graph())
    flipped = bytearray(blob)
    flipped[len(flipped) // 2] ^= 0x01
    assert GraphIndex.decode(bytes(flipped)) is None  # checksum
    assert GraphIndex.decode(b"") is None and GraphIndex.decode(None) is None
    assert GraphIndex.decode(b"XXXX" + blob[4:]) is None
    body = marshal.dumps((99,) + marshal.loads(blob[36:])[1:])
    assert GraphIndex.decode(graph_index.MAGIC + graph_index.hash_bytes(body).encode() + body) is None
    dangling = {"a:1": NodeSpec("a:1", "a", (), ("missing:1",))}
    assert graph_index.encode("R", "V", dangling) is None  # such a build fails: no index


def test_node_spec_builds_an_equal_nodespec():
    a = node_spec("t:1", "t", ("f",), ("d:1",), (("k", "v"),))
    b = NodeSpec("t:1", "t", ("f",), ("d:1",), (("k", "v"),))
    assert a == b and hash(a) == hash(b) and a.key == "1"


def test_a_commit_without_an_index_drops_it_unless_told_to_keep_it(tmp_path):
    store, _ = Store.open(tmp_path)
    blob = graph_index.encode("R", "V", graph(3))
    store.commit(graph=blob)
    assert store.graph_index() == blob
    store.commit(outputs={"doc:1": b'"x"'}, keep_graph=True)  # e.g. a repaired output
    assert store.graph_index() == blob
    store.commit(outputs={"doc:1": b'"y"'})  # anything else may have changed the graph
    assert store.graph_index() is None
    store.close()


def test_an_index_decoded_ahead_is_taken_once_and_only_for_the_same_blob(tmp_path):
    """`decode_ahead` (a daemon's child, before its build) keeps the index under the blob's header; the
    build takes it if the store's header is the same (equal checksums: equal bodies), else decodes."""
    store, _ = Store.open(tmp_path)
    first = graph_index.encode("R", "V", graph(5))
    store.commit(graph=first)
    assert store.graph_index_head() == first[:graph_index.HEAD]
    peeked = Store.peek_graph_index(tmp_path)  # read-only, outside any lock
    assert peeked == first and graph_index.decode_ahead(peeked)
    ahead = graph_index.take_ahead(store.graph_index_head())
    assert ahead is not None and ahead.all_specs() == graph(5)
    assert graph_index.take_ahead(store.graph_index_head()) is None  # once
    assert graph_index.decode_ahead(Store.peek_graph_index(tmp_path))
    store.commit(graph=graph_index.encode("R", "V", graph(6)))  # another build stored another graph
    assert graph_index.take_ahead(store.graph_index_head()) is None
    assert not graph_index.decode_ahead(b"garbled") and graph_index.take_ahead(first[:graph_index.HEAD]) is None
    store.commit(outputs={"doc:1": b'"y"'})  # the index dropped
    assert store.graph_index_head() is None and Store.peek_graph_index(tmp_path) is None
    store.close()
    assert Store.peek_graph_index(tmp_path / "nowhere") is None and not (tmp_path / "nowhere").exists()


def test_shape_ignores_graph_order_and_sees_every_spec_field():
    specs = graph()
    reordered = dict(reversed(list(specs.items())))
    shape = graph_index.shape_of(specs)
    assert graph_index.shape_of(reordered) == shape
    assert GraphIndex.decode(graph_index.encode("R", "V", reordered)).shape == shape
    for changed in (NodeSpec("kid:x", "kid", (), ("doc:3", "sum:all")),  # dep order is part of a spec
                    NodeSpec("kid:x", "kid2", (), ("sum:all", "doc:3")),
                    NodeSpec("kid:x", "kid", ("f.md",), ("sum:all", "doc:3")),
                    NodeSpec("kid:x", "kid", (), ("sum:all", "doc:3"), (("p", "1"),))):
        assert graph_index.shape_of({**specs, "kid:x": changed}) != shape, changed
    assert graph_index.shape_of({k: v for k, v in specs.items() if k != "kid:x"}) != shape


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.integers(0, 10**6), max_size=4), min_size=1, max_size=40), st.randoms())
def test_stored_depth_is_the_longest_dependency_chain_below_each_node(dep_picks, rnd):
    """Node i depends on nodes before it (a DAG); the specs come in any order."""
    deps = [sorted({p % i for p in picks}) if i else [] for i, picks in enumerate(dep_picks)]
    specs = [NodeSpec(f"n:{i}", "n", (), tuple(f"n:{d}" for d in ds)) for i, ds in enumerate(deps)]
    rnd.shuffle(specs)
    index = GraphIndex.decode(graph_index.encode("R", "V", {s.id: s for s in specs}))
    expected: dict[int, int] = {}
    for i, ds in enumerate(deps):  # deps come first: a single pass
        expected[i] = 1 + max((expected[d] for d in ds), default=-1)
    assert {i: index.depth(f"n:{i}") for i in range(len(deps))} == expected
    assert index.depth("n:missing") is None


def test_a_cycle_gives_no_index():
    cyclic = {"a:1": NodeSpec("a:1", "a", (), ("b:1",)), "b:1": NodeSpec("b:1", "b", (), ("a:1",))}
    assert graph_index.encode("R", "V", cyclic) is None

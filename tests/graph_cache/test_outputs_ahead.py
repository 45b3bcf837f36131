"""Stored outputs of a many-deps node read in bulk (outputs_ahead.py): fewer SELECTs, the same bytes."""
from __future__ import annotations

import json

from graph_cache.engine import Engine, canonical_json
from graph_cache.events import EventBus
from graph_cache.fs_memory import MemoryFileSystem
from graph_cache.model import Decision, NodeSpec, Rule
from graph_cache.outputs_ahead import BULK_DEPS, WINDOW, OutputsAhead
from graph_cache.store import Store


def recording_loader(stored: dict[str, bytes]):
    calls: list[list[str]] = []

    def load_many(ids: list[str]) -> dict[str, bytes]:
        calls.append(list(ids))
        return {n: stored[n] for n in ids if n in stored}

    return load_many, calls


def test_announced_outputs_come_in_windows_each_once():
    ids = [f"n{i}" for i in range(2 * WINDOW + 10)]
    stored = {n: n.encode() for n in ids if n != "n5"}  # n5: not found in bulk
    load_many, calls = recording_loader(stored)
    ahead = OutputsAhead(load_many)
    ahead.expect(ids)
    assert [ahead.take(n) for n in ids] == [stored.get(n) for n in ids]
    assert calls == [ids[:WINDOW], ids[WINDOW:2 * WINDOW], ids[2 * WINDOW:]]
    assert ahead.take("n1") is None and ahead.take("n5") is None  # once; the caller reads n5 itself
    assert ahead.take("other") is None and len(calls) == 3  # not announced: no read
    ahead.expect(ids)
    ahead.take(ids[-1])  # read out of order: from there on
    ahead.clear()
    assert ahead.take(ids[0]) is None and len(calls) == 4  # forgotten after the rule


class Totals:
    """`n` documents and a total over all of them, reading each dep's stored bytes."""

    def __init__(self, n: int, version: str = "1") -> None:
        self.fs, self.store, self.n = MemoryFileSystem(), Store.memory(), n
        for i in range(n):
            self.fs.write(f"d{i}.md", f"document {i}")
        self.fs.clock.advance(10)
        self.point_reads = 0
        self.bulk_reads = 0
        load_output, load_outputs = self.store.load_output, self.store.load_outputs

        def counted_point(node_id):
            self.point_reads += 1
            return load_output(node_id)

        def counted_bulk(ids):
            self.bulk_reads += 1
            return load_outputs(ids)

        self.store.load_output, self.store.load_outputs = counted_point, counted_bulk

    def build(self, total_version: str = "1"):
        rules = {
            "doc": Rule("doc", "1", lambda s, c: c.read_file(s.files[0]).decode()),
            "total": Rule("total", total_version,
                          lambda s, c: [json.loads(c.output_bytes(d)) for d in s.deps]),
        }
        docs = [NodeSpec(f"doc:{i}", "doc", (f"d{i}.md",)) for i in range(self.n)]
        roots = docs + [NodeSpec("total:all", "total", (), tuple(d.id for d in docs))]
        self.point_reads = self.bulk_reads = 0
        return Engine(self.fs, self.store, rules, "g", EventBus(), workers=1).build(roots)


def test_a_many_deps_node_reads_its_hit_deps_in_bulk_with_the_same_result():
    w = Totals(BULK_DEPS + 36)
    first = w.build()  # every dep computed now: staged or written in this build's transaction
    assert first.output("total:all") == [f"document {i}" for i in range(w.n)]
    result = w.build(total_version="2")  # the total recomputes, every document is a hit
    assert (w.bulk_reads, w.point_reads) == (1, 0)
    assert result.decisions["doc:0"] == (Decision.HIT, None)
    assert result.output("total:all") == [f"document {i}" for i in range(w.n)]


def test_a_damaged_output_read_in_bulk_is_still_recomputed():
    w = Totals(BULK_DEPS)
    w.build()
    w.store._conn.execute("UPDATE outputs SET data = ? WHERE node_id = 'doc:7'", (canonical_json("forged"),))
    result = w.build(total_version="2")
    assert result.output("total:all")[7] == "document 7"  # its fingerprint did not match: recomputed
    assert w.store.load_output("doc:7") == canonical_json("document 7")


def test_few_deps_are_read_one_by_one():
    w = Totals(BULK_DEPS - 1)
    w.build()
    w.build(total_version="2")
    assert (w.bulk_reads, w.point_reads) == (0, BULK_DEPS - 1)

"""Outputs and blobs: large values are written and read in pieces, and store exactly what the plain
statements store (store_values.py)."""
from __future__ import annotations

import sqlite3

import pytest

from graph_cache import store_values
from graph_cache.store import Store

SMALL = 64  # LARGE_VALUE for these tests: pieces of 64 bytes


@pytest.fixture(params=["pieces", "plain"])
def mode(request, monkeypatch):
    monkeypatch.setattr(store_values, "LARGE_VALUE", SMALL)
    if request.param == "plain":
        monkeypatch.setattr(store_values, "PIECES", False)
    elif not store_values.PIECES:
        pytest.skip("incremental blob I/O needs Python >= 3.11")
    return request.param


def values() -> dict[str, bytes]:
    return {"empty": b"", "below": bytes(range(SMALL - 1)), "exact": b"x" * SMALL,
            "pieces": bytes(i % 251 for i in range(3 * SMALL + 5)), "utf8": "é€😀".encode() * 40}


def test_every_size_round_trips_through_staging_commit_and_reopen(tmp_path, mode):
    s, _ = Store.open(tmp_path)
    for key, data in values().items():
        s.stage_output(key, data)
    s.commit(outputs={"committed": b"y" * (2 * SMALL)}, blobs={"blob": b"z" * (5 * SMALL + 1)})
    s.put_blob("small-blob", b"ab")
    s.close()
    s, _ = Store.open(tmp_path)
    assert {k: s.load_output(k) for k in values()} == values()
    assert s.load_output("committed") == b"y" * (2 * SMALL)
    assert (s.get_blob("blob"), s.get_blob("small-blob"), s.get_blob("absent")) == (b"z" * (5 * SMALL + 1), b"ab", None)
    assert s.load_output("absent") is None
    s.close()
    rows = dict(sqlite3.connect(tmp_path / "state.db").execute("SELECT node_id, data FROM outputs"))
    assert rows == {**values(), "committed": b"y" * (2 * SMALL)}  # plain SELECTs see the same bytes


def test_a_value_replaced_by_a_larger_or_smaller_one(mode):
    s = Store.memory()
    s.commit(outputs={"a": b"1", "b": b"2" * (4 * SMALL)})
    s.commit(outputs={"a": b"3" * (4 * SMALL), "b": b"4"})
    assert (s.load_output("a"), s.load_output("b")) == (b"3" * (4 * SMALL), b"4")
    assert s._conn.execute("SELECT count(*) FROM outputs").fetchone()[0] == 2


def test_large_values_are_inserted_as_zeroblobs_and_filled(mode):
    s = Store.memory()
    inserts = []
    s._conn.set_trace_callback(lambda sql: inserts.append(sql) if sql.startswith("INSERT") else None)
    s.commit(outputs={"small": b"s", "large": b"L" * (3 * SMALL)})
    with_zeroblob = [sql for sql in inserts if "zeroblob" in sql]
    assert len(with_zeroblob) == (1 if mode == "pieces" else 0)
    assert s.load_output("large") == b"L" * (3 * SMALL)


def selects_of(store: Store) -> list[str]:
    seen: list[str] = []
    store._conn.set_trace_callback(lambda sql: seen.append(sql) if sql.lstrip().startswith("SELECT") else None)
    return seen


def test_a_large_value_this_store_wrote_is_read_back_without_a_select(tmp_path, mode):
    """The answers of a large workspace are read right after the build wrote them: the store hands back
    the bytes it wrote. A smaller value or a removal under the same key, or a rolled back write, is never
    answered from memory."""
    s, _ = Store.open(tmp_path)
    large = bytes(i % 253 for i in range(5 * SMALL))
    s.stage_output("staged", large)
    s.commit(outputs={"committed": large[::-1], "small": b"s"})
    selects = selects_of(s)
    assert (s.load_output("staged"), s.load_output("committed")) == (large, large[::-1])
    assert selects == []
    assert s.load_output("small") == b"s" and len(selects) == 1  # small values: read from the file
    s.commit(outputs={"staged": b"now small"}, removed_nodes=["committed"])
    assert (s.load_output("staged"), s.load_output("committed")) == (b"now small", None)
    s.stage_output("rolled back", large)
    s.stage_output("filler", b"f")
    s._flush_staged()  # written inside the build's transaction...
    assert s.load_output("rolled back") == large
    s.abort()  # ...which fails
    assert s.load_output("rolled back") is None
    s.close()
    s, _ = Store.open(tmp_path)  # another process: reads the file
    selects = selects_of(s)
    assert s.load_output("staged") == b"now small" and selects


def test_written_values_keep_at_most_their_cap(mode):
    kept = store_values.WrittenValues(cap=3 * SMALL)
    kept.wrote([("a", b"a" * (2 * SMALL)), ("b", b"b" * (2 * SMALL))])
    kept.committed()
    assert kept.get("a") == b"a" * (2 * SMALL) and kept.get("b") is None  # b would pass the cap
    kept.wrote([("a", b"small")])
    kept.committed()
    kept.wrote([("b", b"b" * (2 * SMALL))])
    kept.committed()
    assert kept.get("a") is None and kept.get("b") == b"b" * (2 * SMALL)


def test_a_prefix_is_the_values_first_bytes_both_ways(tmp_path, mode):
    s, _ = Store.open(tmp_path)
    s.commit(blobs={k: v for k, v in values().items()})
    for key, data in values().items():
        for size in (0, 1, 36, SMALL, len(data) + 10):
            assert store_values.get_prefix(s._conn, "blobs", key, size) == data[:size]
    assert store_values.get_prefix(s._conn, "blobs", "absent", 36) is None
    s.close()

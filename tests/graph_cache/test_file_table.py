"""Stored file records as raw rows (graph_cache/file_table.py): loaded on first use, records on access."""
from __future__ import annotations

from graph_cache.file_table import FileTable
from graph_cache.fingerprint import FileRecord
from graph_cache.fs import StatSig


def test_rows_load_once_on_first_use_and_records_are_built_on_access():
    calls = []

    def fetch():
        calls.append(1)
        return {"a.md": (1, 2, 3, "d1"), "b.md": ("garbled", 2, 3, None)}

    table = FileTable(fetch_all=fetch)
    copy = table.copy()
    assert calls == []
    assert copy["a.md"] == FileRecord(StatSig(1, 2, 3), "d1") and copy.get("a.md") is copy["a.md"]
    assert copy.raw("b.md") == ("garbled", 2, 3, None) and copy.get("zz") is None and "zz" not in copy
    assert copy.get("b.md").stat != StatSig(1, 2, 3)  # a garbled row never matches a real stat
    assert sorted(copy) == ["a.md", "b.md"] and len(copy) == 2 and calls == [1]
    table.update({"c.md": FileRecord(StatSig(4, 5, 6), "d3")})  # not loaded: the db already has it
    table.pop("a.md")
    assert calls == [1] and sorted(table) == ["a.md", "b.md"]  # read from the (here unchanged) db
    copy.update({"a.md": FileRecord(StatSig(7, 8, 9), "d4")})
    copy.pop("b.md")
    assert copy["a.md"].digest == "d4" and sorted(copy) == ["a.md"]


def test_single_rows_until_many_are_asked_then_all_at_once(monkeypatch):
    import graph_cache.file_table as ft

    monkeypatch.setattr(ft, "POINT_READS", 3)
    rows = {f"{i}.md": (i, 1, 1, f"d{i}") for i in range(10)}
    one, bulk = [], []
    table = FileTable(fetch_all=lambda: bulk.append(1) or dict(rows),
                      fetch_one=lambda p: one.append(p) or rows.get(p))
    assert table.raw("1.md") == rows["1.md"] and table.get("nope.md") is None
    assert table["2.md"] == FileRecord(StatSig(2, 1, 1), "d2") and table.raw("1.md") == rows["1.md"]
    assert one == ["1.md", "nope.md", "2.md"] and bulk == []  # each row read once
    table.update({"2.md": FileRecord(StatSig(7, 7, 7), "d7")})  # committed: read again when asked
    rows["2.md"] = (7, 7, 7, "d7")
    assert table["2.md"].digest == "d7" and bulk == []
    assert table.raw("5.md") == rows["5.md"] and bulk == [1]  # past POINT_READS: the bulk read
    assert len(table) == 10 and one == ["1.md", "nope.md", "2.md", "2.md"]

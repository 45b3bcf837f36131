"""The no-op fast path: manifest.bin round trip, quick_check semantics, and import hygiene."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from graph_cache.fingerprint import RECHECK, FileRecord, fingerprint_file, hash_bytes
from graph_cache.fs import StatSig
from graph_cache.fs_memory import MemoryFileSystem
from graph_cache.manifest import (DIGESTS, MANIFEST_SCHEMA, MAGIC, PREFIX, STATS, Damaged, Manifest, QuickResult,
                                  encode, quick_check, stat_tuple)

REPO = Path(__file__).resolve().parents[2]


def setup():
    fs = MemoryFileSystem()
    fs.write("a.md", "alpha")
    fs.write("b.md", "beta")
    fs.clock.advance(10)
    records = {p: fingerprint_file(fs, p, None)[0] for p in ("a.md", "b.md")}
    return fs, Manifest.from_records("key1", records, b"report", {"doc": 2})


def stats(fs, *paths):
    return {p: fs.stat(p) for p in (paths or ("a.md", "b.md"))}


def test_save_load_roundtrip(tmp_path):
    _, m = setup()
    path = str(tmp_path / "manifest.bin")
    m.save(path)
    loaded = Manifest.load(path)
    assert loaded.global_key == "key1" and loaded.payload == b"report" and loaded.counts_by_type == {"doc": 2}
    assert loaded.files == m.files and loaded.files["a.md"][3] == hash_bytes(b"alpha")
    assert list(loaded.stats) == ["a.md", "b.md"] and loaded.digests["b.md"] == hash_bytes(b"beta")
    assert loaded.sections() == {}
    loaded.close()
    assert os.listdir(tmp_path) == ["manifest.bin"]


def test_sections_are_read_on_demand(tmp_path):
    fs, m0 = setup()
    m = Manifest(m0.global_key, m0.stats, m0.digests, b"p", {}, {"big": b"x" * 100_000, "small": b"s"})
    path = str(tmp_path / "manifest.bin")
    m.save(path)
    loaded = Manifest.load(path)
    assert loaded._stats is None and loaded._digests is None and loaded._sections == {}  # header only
    assert loaded.section("small") == b"s" and loaded.section("big") == b"x" * 100_000
    assert loaded.section("missing") is None
    assert loaded.sections() == {"big": b"x" * 100_000, "small": b"s"}
    plain = {p: tuple(st) for p, st in stats(fs).items()}
    assert loaded.same_stats(plain) and loaded._stats is None  # one byte comparison, nothing decoded
    loaded.close()


def test_sections_come_from_the_file_that_was_loaded(tmp_path):
    """Another build may replace manifest.bin between the load and the read of an answer: the answer
    still comes from the loaded file (its descriptor), never from a mix of two files."""
    path = str(tmp_path / "manifest.bin")
    Manifest("k", {}, {}, b"", {}, {"answer": b"old answer"}).save(path)
    loaded = Manifest.load(path)
    Manifest("k", {}, {}, b"", {}, {"answer": b"NEW", "other": b"x" * 50}).save(path)
    assert loaded.section("answer") == b"old answer"
    loaded.close()


def test_update_files_keeps_the_sections(tmp_path):
    fs, m0 = setup()
    path = str(tmp_path / "manifest.bin")
    Manifest("k", m0.stats, m0.digests, b"p", {"doc": 2}, {"answer": b"42"}).save(path)
    loaded = Manifest.load(path)
    loaded.update_files({"b.md": (1, 2, 3), "a.md": (4, 5, 6)}, {"a.md": "da", "b.md": "db"})
    loaded.save(path)
    again = Manifest.load(path)
    assert list(again.stats.items()) == [("b.md", (1, 2, 3)), ("a.md", (4, 5, 6))]
    assert again.files["a.md"] == (4, 5, 6, "da") and again.section("answer") == b"42"
    assert again.payload == b"p" and again.counts_by_type == {"doc": 2}
    again.close()


def _saved(tmp_path, sections=None) -> bytes:
    _, m0 = setup()
    path = tmp_path / "src.bin"
    Manifest("k", m0.stats, m0.digests, b"p", {}, sections or {"answer": b"0123456789"}).save(str(path))
    return path.read_bytes()


def test_load_failures_return_none(tmp_path):
    p = tmp_path / "m.bin"
    assert Manifest.load(str(p)) is None
    good = _saved(tmp_path)
    for data in (b"", b"\x00garbage", PREFIX, good[:-1], good + b"\0", good[:len(good) // 2],
                 PREFIX + (10 ** 9).to_bytes(8, "little") + good[len(PREFIX) + 8:]):
        p.write_bytes(data)
        assert Manifest.load(str(p)) is None
    import marshal
    blobs = [(STATS, b""), (DIGESTS, b"")]
    p.write_bytes(encode("k", b"", {}, blobs, schema=MANIFEST_SCHEMA + 1))
    assert Manifest.load(str(p)) is None
    p.write_bytes(encode("k", b"", {}, blobs, magic="other"))
    assert Manifest.load(str(p)) is None
    p.write_bytes(encode("k", b"", {}, blobs[:1]))  # no digests section
    assert Manifest.load(str(p)) is None
    # schema 1: one marshal tuple with the records and the answers inside
    p.write_bytes(marshal.dumps((MAGIC, 1, "k", {"a": (1, 2, 3, "d")}, b"", {})))
    assert Manifest.load(str(p)) is None
    p.write_bytes(encode("k", b"", {}, blobs))
    assert Manifest.load(str(p)) is not None
    assert sorted(os.listdir(tmp_path)) == ["m.bin", "src.bin"]


def test_a_damaged_section_raises(tmp_path):
    good = bytearray(_saved(tmp_path))
    p = tmp_path / "m.bin"
    at = good.index(b"0123456789")
    good[at + 3] ^= 1
    p.write_bytes(bytes(good))
    m = Manifest.load(str(p))  # the header is fine
    with pytest.raises(Damaged):
        m.section("answer")
    m.close()


def test_damaged_records_raise(tmp_path):
    import marshal
    p = tmp_path / "m.bin"
    for stats_blob in (b"\x00garbage", marshal.dumps({"a.md": "y"}, 2), marshal.dumps([1], 2)):
        p.write_bytes(encode("k", b"", {}, [(STATS, stats_blob), (DIGESTS, marshal.dumps({}))]))
        m = Manifest.load(str(p))
        assert not m.same_stats({"a.md": (1, 2, 3)})
        with pytest.raises(Damaged):
            quick_check(None, m, {"a.md": (1, 2, 3)}, "k")
        m.close()


def test_unchanged_with_equal_stats_reads_nothing():
    fs, m = setup()
    reads = fs.read_count()
    r = quick_check(fs, m, stats(fs), "key1")
    assert r == QuickResult(True, {}, set()) and fs.read_count() == reads
    unchanged, touched, changed = r
    assert unchanged and touched == {} and changed == set()
    plain = {p: tuple(st) for p, st in stats(fs).items()}  # plain tuples work too
    assert quick_check(fs, m, plain, "key1").unchanged


def test_touched_file_is_still_unchanged():
    fs, m = setup()
    fs.touch("a.md")
    fs.clock.advance(10)
    r = quick_check(fs, m, stats(fs), "key1")
    assert r.unchanged and set(r.touched) == {"a.md"} and r.changed == set()
    assert r.touched["a.md"] == FileRecord(fs.stat("a.md"), hash_bytes(b"alpha"))


def test_content_change_and_path_set_changes():
    fs, m = setup()
    fs.write("a.md", "ALPHA")
    fs.clock.advance(10)
    assert quick_check(fs, m, stats(fs), "key1") == QuickResult(False, {}, {"a.md"})
    fs.write("c.md", "new")
    # the changed set is complete: the added file and the modified one (what FileChanges needs)...
    assert quick_check(fs, m, stats(fs, "a.md", "b.md", "c.md"), "key1") == QuickResult(False, {}, {"a.md", "c.md"})
    assert quick_check(fs, m, stats(fs, "a.md"), "key1").changed == {"a.md", "b.md"}
    # ...unless the caller only wants to know whether anything changed
    assert quick_check(fs, m, stats(fs, "a.md", "b.md", "c.md"), "key1", stop_early=True).changed == {"c.md"}
    assert not quick_check(fs, m, stats(fs), "key2").unchanged
    assert not quick_check(fs, None, stats(fs), "key1").unchanged


def test_touched_files_are_reported_when_the_path_set_changed_too():
    fs, m = setup()
    fs.touch("a.md")
    fs.clock.advance(10)
    r = quick_check(fs, m, stats(fs, "a.md"), "key1")
    assert not r.unchanged and r.changed == {"b.md"} and set(r.touched) == {"a.md"}


def test_deleted_file_passed_as_none_is_a_change():
    fs, m = setup()
    fs.delete("b.md")
    assert quick_check(fs, m, {"a.md": fs.stat("a.md"), "b.md": None}, "key1").changed == {"b.md"}


def test_same_records_in_another_order_are_unchanged(tmp_path):
    fs, m = setup()
    path = str(tmp_path / "manifest.bin")
    m.save(path)
    loaded = Manifest.load(path)
    reordered = {p: tuple(fs.stat(p)) for p in ("b.md", "a.md")}
    assert not loaded.same_stats(reordered)
    assert quick_check(fs, loaded, reordered, "key1") == QuickResult(True, {}, set())
    in_order = {p: tuple(fs.stat(p)) for p in ("a.md", "b.md")}
    assert Manifest.load(path).same_stats(in_order)
    loaded.close()


def test_loaded_manifest_checks_touched_and_changed_files(tmp_path):
    fs, m = setup()
    path = str(tmp_path / "manifest.bin")
    m.save(path)
    fs.touch("a.md")
    fs.write("b.md", "BETA")
    fs.clock.advance(10)
    loaded = Manifest.load(path)
    r = quick_check(fs, loaded, {p: tuple(st) for p, st in stats(fs).items()}, "key1")
    assert not r.unchanged and set(r.touched) == {"a.md"} and r.changed == {"b.md"}
    loaded.close()


def test_stop_early():
    fs, m = setup()
    fs.write("a.md", "1")
    fs.write("b.md", "2")
    fs.clock.advance(10)
    assert len(quick_check(fs, m, stats(fs), "key1", stop_early=True).changed) == 1
    assert quick_check(fs, m, stats(fs), "key1").changed == {"a.md", "b.md"}


def test_racy_record_is_rehashed():
    fs = MemoryFileSystem()
    fs.write("a.md", "ab")
    rec, _ = fingerprint_file(fs, "a.md", None)
    assert rec.stat.mtime_ns == RECHECK
    m = Manifest.from_records("k", {"a.md": rec})
    fs.write("a.md", "ba")  # same tick, same size, same inode
    assert quick_check(fs, m, stats(fs, "a.md"), "k").changed == {"a.md"}


def test_stat_tuple(tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"123")
    st = os.stat(f)
    assert stat_tuple(str(f)) == (st.st_mtime_ns, 3, st.st_ino) == StatSig(st.st_mtime_ns, 3, st.st_ino)
    assert stat_tuple(str(tmp_path / "missing")) is None


def test_manifest_import_is_light():
    code = "import sys; import graph_cache.manifest; print(','.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(REPO))).stdout
    mods = set(out.strip().split(","))
    assert {"graph_cache", "graph_cache.manifest"} <= mods
    for heavy in ("sqlite3", "json", "typing", "dataclasses", "xxhash", "graph_cache.fs", "graph_cache.store",
                  "pydantic", "networkx", "typer", "rich", "prometheus_client", "tomllib"):
        assert heavy not in mods, heavy

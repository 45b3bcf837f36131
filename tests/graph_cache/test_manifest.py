"""The no-op fast path: manifest.bin round trip, quick_check semantics, and import hygiene."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from graph_cache.fingerprint import RECHECK, FileRecord, fingerprint_file, hash_bytes
from graph_cache.fs import StatSig
from graph_cache.fs_memory import MemoryFileSystem
from graph_cache.manifest import MANIFEST_SCHEMA, MAGIC, Manifest, QuickResult, quick_check, stat_tuple

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
    assert os.listdir(tmp_path) == ["manifest.bin"]


def test_load_failures_return_none(tmp_path):
    p = tmp_path / "m.bin"
    assert Manifest.load(str(p)) is None
    for data in (b"", b"\x00garbage", Manifest("k").dumps()[:-3]):
        p.write_bytes(data)
        assert Manifest.load(str(p)) is None
    import marshal
    p.write_bytes(marshal.dumps((MAGIC, MANIFEST_SCHEMA + 1, "k", {}, b"", {})))
    assert Manifest.load(str(p)) is None
    p.write_bytes(marshal.dumps(("other", MANIFEST_SCHEMA, "k", {}, b"", {})))
    assert Manifest.load(str(p)) is None
    p.write_bytes(marshal.dumps((MAGIC, MANIFEST_SCHEMA, "k", {"a": (1, 2)}, b"", {})))
    assert Manifest.load(str(p)) is None


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
    assert quick_check(fs, m, stats(fs, "a.md", "b.md", "c.md"), "key1") == QuickResult(False, {}, {"c.md"})
    assert quick_check(fs, m, stats(fs, "a.md"), "key1").changed == {"b.md"}
    assert not quick_check(fs, m, stats(fs), "key2").unchanged
    assert not quick_check(fs, None, stats(fs), "key1").unchanged


def test_deleted_file_passed_as_none_is_a_change():
    fs, m = setup()
    fs.delete("b.md")
    assert quick_check(fs, m, {"a.md": fs.stat("a.md"), "b.md": None}, "key1").changed == {"b.md"}


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

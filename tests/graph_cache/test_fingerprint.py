"""Content fingerprints: xxh3_128, stat shortcut, touch = same digest, absent/unreadable, racy-clean."""
from __future__ import annotations

import xxhash

from graph_cache.fingerprint import ABSENT, RECHECK, FileRecord, digest_of, fingerprint_file, hash_bytes
from graph_cache.fs_memory import MemoryFileSystem


def _fs(**kw):
    fs = MemoryFileSystem(**kw)
    fs.write("a.md", "alpha")
    fs.clock.advance(10)  # the file is old enough not to be racy
    return fs


def test_hash_bytes_is_xxh3_128():
    assert hash_bytes(b"abc") == xxhash.xxh3_128_hexdigest(b"abc")
    assert len(hash_bytes(b"")) == 32


def test_stat_shortcut_skips_reading():
    fs = _fs()
    rec, hashed = fingerprint_file(fs, "a.md", None)
    assert hashed and rec.digest == hash_bytes(b"alpha") and rec.stat == fs.stat("a.md")
    again, hashed = fingerprint_file(fs, "a.md", rec)
    assert not hashed and again is rec and fs.reads["a.md"] == 1


def test_touch_rehashes_to_same_digest_and_edit_changes_it():
    fs = _fs()
    rec, _ = fingerprint_file(fs, "a.md", None)
    fs.touch("a.md")
    fs.clock.advance(10)
    touched, hashed = fingerprint_file(fs, "a.md", rec)
    assert hashed and touched.digest == rec.digest and touched.stat != rec.stat
    fs.write("a.md", "beta!")
    fs.clock.advance(10)
    edited, hashed = fingerprint_file(fs, "a.md", touched)
    assert hashed and edited.digest != rec.digest


def test_missing_file_is_absent():
    fs = _fs()
    rec, hashed = fingerprint_file(fs, "nope.md", None)
    assert rec is None and not hashed and digest_of(rec) == ABSENT == "absent"


def test_unreadable_file_digest_and_recheck():
    fs = _fs(fail_reads={"a.md"})
    st = fs.stat("a.md")
    rec, hashed = fingerprint_file(fs, "a.md", None)
    assert not hashed and rec.digest == f"unreadable:13:{st.mtime_ns}:{st.size}"
    assert rec.stat.mtime_ns == RECHECK  # never trusted by the stat shortcut
    fs.fail_reads.clear()  # permissions fixed without touching mtime
    fixed, hashed = fingerprint_file(fs, "a.md", rec)
    assert hashed and fixed.digest == hash_bytes(b"alpha")


def test_stat_failure_is_unreadable():
    fs = _fs(fail_stats={"a.md"})
    rec, hashed = fingerprint_file(fs, "a.md", None)
    assert rec.digest == "unreadable:13:0:0" and not hashed


def test_racily_clean_file_is_rehashed():
    fs = MemoryFileSystem()
    fs.write("a.md", "ab")  # written "now": a same-tick rewrite could keep the stat
    rec, _ = fingerprint_file(fs, "a.md", None)
    assert rec.stat.mtime_ns == RECHECK
    fs.write("a.md", "ba")  # same size, same mtime, same inode
    rec2, hashed = fingerprint_file(fs, "a.md", rec)
    assert hashed and rec2.digest == hash_bytes(b"ba")
    fs.clock.advance(1)
    rec3, hashed = fingerprint_file(fs, "a.md", rec2)
    assert hashed and rec3.stat == fs.stat("a.md")  # no longer racy: recorded with its real stat
    assert fingerprint_file(fs, "a.md", rec3) == (rec3, False)


def test_given_stat_avoids_stat_call_and_content_is_captured():
    fs = _fs()
    st = fs.stat("a.md")
    fs.fail_stats.add("a.md")
    content: dict[str, bytes] = {}
    rec, hashed = fingerprint_file(fs, "a.md", FileRecord(st._replace(size=1), "old"), st, content=content)
    assert hashed and content == {"a.md": b"alpha"} and rec.stat == st

"""MemoryFileSystem (the fake used by engine tests) and RealFileSystem basics."""
from __future__ import annotations

import os

import pytest

from graph_cache.fs import DirEntryInfo, RealFileSystem, StatSig
from graph_cache.fs_memory import FakeClock, MemoryFileSystem


def test_write_read_stat_and_inodes():
    fs = MemoryFileSystem()
    fs.write("d/a.txt", "hello")
    st = fs.stat("d/a.txt")
    assert isinstance(st, StatSig) and st.size == 5 and st.mtime_ns == fs.clock.now_ns()
    assert fs.read_bytes("d/a.txt") == b"hello" and fs.reads == {"d/a.txt": 1}
    fs.clock.advance(1)
    fs.write("d/a.txt", b"bye")  # in-place overwrite keeps the inode
    st2 = fs.stat("d/a.txt")
    assert st2.ino == st.ino and st2.size == 3 and st2.mtime_ns > st.mtime_ns
    fs.write("d/b.txt", "x")
    assert fs.stat("d/b.txt").ino != st.ino
    assert fs.stat("missing") is None and not fs.exists("missing") and fs.exists("d")


def test_touch_rename_delete():
    fs = MemoryFileSystem()
    fs.write("a", "x")
    before = fs.stat("a")
    fs.clock.advance(2.5)
    fs.touch("a")
    after = fs.stat("a")
    assert after.mtime_ns == before.mtime_ns + 2_500_000_000 and after[1:] == before[1:]
    fs.rename("a", "sub/b")
    assert fs.stat("a") is None and fs.stat("sub/b") == after and fs.read_bytes("sub/b") == b"x"
    fs.delete("sub/b")
    assert not fs.exists("sub/b")
    with pytest.raises(FileNotFoundError):
        fs.delete("sub/b")
    fs.remove("sub/b")  # remove tolerates missing files
    fs.touch("new")  # touch creates, like the shell
    assert fs.read_bytes("new") == b""


def test_recreate_gets_new_inode():
    fs = MemoryFileSystem()
    fs.write("a", "x")
    ino = fs.stat("a").ino
    fs.delete("a")
    fs.write("a", "x")
    assert fs.stat("a").ino != ino


def test_failure_injection_and_errors():
    fs = MemoryFileSystem(fail_reads={"a"}, fail_stats={"b"})
    fs.write("a", "x")
    fs.write("b", "y")
    with pytest.raises(PermissionError):
        fs.read_bytes("a")
    with pytest.raises(PermissionError):
        fs.stat("b")
    with pytest.raises(FileNotFoundError):
        fs.read_bytes("nope")
    fs.makedirs("dir/sub")
    with pytest.raises(IsADirectoryError):
        fs.read_bytes("dir")
    with pytest.raises(NotADirectoryError):
        fs.listdir("a")


def test_listdir_and_makedirs():
    fs = MemoryFileSystem()
    fs.write("p/b.md", "1")
    fs.write("p/a.md", "2")
    fs.makedirs("p/sub/deeper")
    assert fs.listdir("p") == [DirEntryInfo("a.md", False, True, False), DirEntryInfo("b.md", False, True, False),
                               DirEntryInfo("sub", True, False, False)]
    assert [e.name for e in fs.listdir("")] == ["p"]
    assert fs.realpath("p/./sub/../a.md") == "p/a.md"


def test_fake_clock():
    c = FakeClock(start_ns=10)
    assert c.now_ns() == 10
    c.advance(0.5)
    assert c.now_ns() == 10 + 500_000_000


def test_real_filesystem(tmp_path):
    fs = RealFileSystem(tmp_path)
    fs.makedirs("x/y")
    fs.write_bytes_atomic("x/y/f.txt", b"data")
    assert fs.read_bytes("x/y/f.txt") == b"data"
    st = fs.stat("x/y/f.txt")
    real = os.stat(tmp_path / "x/y/f.txt")
    assert st == (real.st_mtime_ns, 4, real.st_ino)
    assert fs.stat("x/nope") is None and fs.stat("x/y/f.txt/below") is None
    assert fs.stat(str(tmp_path / "x/y/f.txt")) == st  # absolute paths pass through
    (tmp_path / "x" / "link").symlink_to("y")
    names = {e.name: e for e in fs.listdir("x")}
    assert names["link"].is_symlink and names["link"].is_dir and names["y"].is_dir
    assert fs.realpath("x/link/f.txt") == str((tmp_path / "x/y/f.txt").resolve())
    fs.write_bytes_atomic("x/y/f.txt", b"new")  # replace: no temp files left behind
    assert sorted(os.listdir(tmp_path / "x/y")) == ["f.txt"] and fs.read_bytes("x/y/f.txt") == b"new"
    fs.remove("x/y/f.txt")
    fs.remove("x/y/f.txt")
    assert not fs.exists("x/y/f.txt")

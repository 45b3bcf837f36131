"""SQLite store on disk: persistence, corrupt/foreign state recovery, read-only views, write failures,
atomic commits under SIGKILL."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from graph_cache.engine import Engine
from graph_cache.errors import GraphCacheError, StateDirError
from graph_cache.fingerprint import FileRecord
from graph_cache.fs import StatSig
from graph_cache.fs_memory import MemoryFileSystem
from graph_cache.lock import StateLock
from graph_cache.model import Decision, NodeSpec, Reason, ReasonCode, Rule, Trace
from graph_cache.store import SCHEMA_VERSION, Store

REPO = Path(__file__).resolve().parents[2]


def snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def make_fs() -> MemoryFileSystem:
    fs = MemoryFileSystem()
    for i in range(30):
        fs.write(f"docs/{i}.md", f"document {i} " + "x" * 3000)  # several pages of outputs
    fs.clock.advance(10)
    return fs


RULES = {
    "doc": Rule("doc", "1", lambda s, c: c.read_file(s.files[0]).decode()),
    "sum": Rule("sum", "1", lambda s, c: sum(len(c.output_of(d)) for d in s.deps)),
}
ROOTS = [NodeSpec(f"doc:{i}", "doc", (f"docs/{i}.md",)) for i in range(30)] + [
    NodeSpec("sum:all", "sum", (), tuple(f"doc:{i}" for i in range(30)))]


def build(fs, state_dir, **kw):
    store, warning = Store.open(state_dir, read_only=kw.pop("read_only", False))
    try:
        result = Engine(fs, store, RULES, "g1").build(ROOTS, **kw)
        outputs = None if result.dry_run else {n: result.output(n) for n in result.decisions}
        return store, warning, result, outputs
    finally:
        store.close()


def test_roundtrip_persists_everything(tmp_path):
    state = tmp_path / ".promptgen"
    s, w = Store.open(state)
    assert w is None and (state / "state.db").exists() and s.traces() == {} and s.last_run_id == 0
    rec = FileRecord(StatSig(5, 6, 7), "d" * 32)
    child = NodeSpec("c:1", "c", ("x.md",), ("t:1",), (("layout", "flat"),))
    tr = Trace("t:1", "t", "v", (("file:x.md", "fp"), ("node:u:1", "fu")), "out", (child,), Decision.CUTOFF,
               Reason(ReasonCode.INPUT_CHANGED, "x.md", "a", None), 12.5, 3)
    s.commit(files={"x.md": rec}, traces={"t:1": tr}, outputs={"t:1": b'"o"'}, blobs={"report": b"R"}, run_id=3)
    s.put_blob("other", b"\x00\x01")
    assert s.append_run({"run_id": 3, "hits": 1}, keep=2) == 3
    assert s.append_run({"hits": 2}, keep=2) == 4
    s.append_run({"hits": 3}, keep=2)
    s.close()
    s, w = Store.open(state)
    assert w is None and s.files() == {"x.md": rec} and s.traces() == {"t:1": tr}
    assert s.load_output("t:1") == b'"o"' and s.load_output("nope") is None
    assert s.get_blob("report") == b"R" and s.get_blob("other") == b"\x00\x01" and s.get_blob("x") is None
    assert s.last_run_id == 3 and s.next_run_id() == 6
    assert [r["hits"] for r in s.runs()] == [3, 2] and s.runs(1) == [{"hits": 3, "run_id": 5}]
    s.commit(removed_nodes={"t:1"}, removed_files={"x.md"})
    assert s.traces() == {} and s.files() == {} and s.load_output("t:1") is None
    s.close()
    with sqlite3.connect(state / "state.db") as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_engine_state_survives_reopen(tmp_path):
    fs = make_fs()
    _, _, first, outputs = build(fs, tmp_path)
    assert first.counts.total(Decision.MISS) == 31
    _, _, second, outputs2 = build(fs, tmp_path)
    assert second.counts.total(Decision.HIT) == 31 and outputs2 == outputs


def _truncate(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


def _zero(db: Path) -> None:
    db.write_bytes(b"")


def _garbage(db: Path) -> None:
    db.write_bytes(os.urandom(5000))


def _garble_pages(db: Path) -> None:
    data = bytearray(db.read_bytes())
    for i in range(4096, len(data), 1024):  # keep the header page, scribble over the b-tree pages
        data[i:i + 200] = b"\xff" * 200
    db.write_bytes(bytes(data))


def _newer_schema(db: Path) -> None:
    with sqlite3.connect(db) as c:
        c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")


def _older_schema(db: Path) -> None:
    with sqlite3.connect(db) as c:
        c.execute("PRAGMA user_version = 0")
        c.execute("DROP TABLE runs")


@pytest.mark.parametrize("damage, why", [
    (_truncate, "corrupt"), (_zero, "zero length"), (_garbage, "not an SQLite database"),
    (_garble_pages, "corrupt"), (_newer_schema, f"newer schema {SCHEMA_VERSION + 1}"),
    (_older_schema, "older schema 0"),
])
def test_unusable_state_gives_one_warning_and_a_clean_identical_rebuild(tmp_path, damage, why):
    fs = make_fs()
    _, _, _, outputs = build(fs, tmp_path)
    damage(tmp_path / "state.db")
    before = snapshot(tmp_path)

    # read-only open: the warning, an empty view, and nothing written
    _, warning, dry, _ = build(fs, tmp_path, read_only=True, dry_run=True)
    assert warning and why in warning and str(tmp_path) in warning and "\n" not in warning
    assert {r.code for _, r in dry.decisions.values()} == {ReasonCode.STATE_RESET}
    assert snapshot(tmp_path) == before

    store, warning, result, outputs2 = build(fs, tmp_path)
    assert warning and why in warning
    assert result.reset_warning == warning
    assert {r for _, r in result.decisions.values()} == {Reason(ReasonCode.STATE_RESET, warning)}
    assert result.counts.total(Decision.MISS) == 31 and outputs2 == outputs
    # replaced in place, no leftovers (state.db.checked: the db's stat after our last commit)
    assert sorted(os.listdir(tmp_path)) == ["state.db", "state.db.checked"]

    _, warning, again, _ = build(fs, tmp_path)
    assert warning is None and again.counts.total(Decision.HIT) == 31


def test_read_only_open_of_missing_state_writes_nothing(tmp_path):
    state = tmp_path / "none"
    s, w = Store.open(state, read_only=True)
    assert w is None and s.traces() == {} and s.files() == {} and s.load_output("x") is None
    assert not state.exists()
    with pytest.raises(GraphCacheError, match="read-only"):
        s.commit(traces={})


def test_dry_run_leaves_state_dir_byte_identical(tmp_path):
    fs = make_fs()
    state = tmp_path / ".promptgen"
    with StateLock(state):
        build(fs, state)
    (state / "manifest.bin").write_bytes(b"app data")
    fs.write("docs/3.md", "edited")
    fs.clock.advance(10)
    before = snapshot(state)
    mtimes = {p: os.stat(state / p).st_mtime_ns for p in before}
    with StateLock(state, timeout=0, shared=True):
        _, warning, result, _ = build(fs, state, read_only=True, dry_run=True)
    assert warning is None
    assert result.decisions["doc:3"][1].code == ReasonCode.INPUT_CHANGED
    assert result.decisions["sum:all"][1] == Reason(ReasonCode.DEPENDENCY_CHANGED, "doc:3",
                                                    result.traces["doc:3"].output_fp, None)
    assert snapshot(state) == before
    assert {p: os.stat(state / p).st_mtime_ns for p in before} == mtimes


def test_state_dir_that_cannot_be_created(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StateDirError) as ei:
        Store.open(tmp_path / "file" / ".promptgen")
    msg = str(ei.value)
    assert str(tmp_path / "file" / ".promptgen") in msg and "\n" not in msg


def test_read_only_state_dir(tmp_path):
    fs = make_fs()
    state = tmp_path / "state"
    build(fs, state)
    before = snapshot(state)
    os.chmod(state, 0o555)
    try:
        if os.access(state, os.W_OK):
            pytest.skip("running as root: chmod does not make the directory read-only")
        fs.write("docs/1.md", "changed")
        fs.clock.advance(10)
        with pytest.raises(StateDirError) as ei:
            build(fs, state)
        assert str(state) in str(ei.value) and "\n" not in str(ei.value)
        with pytest.raises(StateDirError):
            Store.open(state / "sub")
    finally:
        os.chmod(state, 0o755)
    assert snapshot(state) == before


def test_disk_full_raises_state_dir_error_and_keeps_old_state(tmp_path):
    fs = make_fs()
    _, _, _, outputs = build(fs, tmp_path)
    before = snapshot(tmp_path)
    store, _ = Store.open(tmp_path)
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")  # the "disk" is now full
    for i in range(30):
        fs.write(f"docs/{i}.md", "y" * 20000)
    fs.clock.advance(10)
    with pytest.raises(StateDirError) as ei:
        Engine(fs, store, RULES, "g1").build(ROOTS)
    assert str(tmp_path) in str(ei.value) and "full" in str(ei.value)
    assert store.traces()["doc:0"].output_fp  # in-memory view unchanged too
    store.close()
    assert snapshot(tmp_path) == before


CRASHER = textwrap.dedent("""
    import sys
    from graph_cache.model import Trace
    from graph_cache.store import Store
    store, _ = Store.open(sys.argv[1])
    print("ready", flush=True)
    gen = store.last_run_id
    while True:
        gen += 1
        traces = {f"n:{i}": Trace(f"n:{i}", "n", "v", (), f"gen{gen}") for i in range(200)}
        outputs = {k: str(gen).encode() * 500 for k in traces}
        store.commit(traces=traces, outputs=outputs, run_id=gen)
""")


@pytest.mark.parametrize("delay", [0.05, 0.13, 0.31])
def test_commit_is_atomic_under_sigkill(tmp_path, delay):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", CRASHER, str(tmp_path)], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(delay)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    store, warning = Store.open(tmp_path)
    assert warning is None
    traces = store.traces()
    gen = store.last_run_id
    if gen:
        assert {t.output_fp for t in traces.values()} == {f"gen{gen}"} and len(traces) == 200
        assert store.load_output("n:7") == str(gen).encode() * 500
    else:
        assert traces == {}
    store.close()


def test_quick_check_runs_only_when_the_db_changed_since_our_last_commit(tmp_path, monkeypatch):
    from graph_cache import store as store_mod

    s, _ = Store.open(tmp_path)
    s.commit(files={"x.md": FileRecord(StatSig(1, 2, 3), "d")}, run_id=1)
    s.close()
    db = tmp_path / "state.db"
    assert store_mod._unchanged_since_commit(str(db))
    checks = []
    real_connect = store_mod.connect

    def counting_connect(path, read_only):
        conn = real_connect(path, read_only)
        conn.set_trace_callback(lambda sql: checks.append(sql) if "quick_check" in sql else None)
        return conn

    monkeypatch.setattr(store_mod, "connect", counting_connect)
    Store.open(tmp_path)[0].close()
    assert checks == []  # untouched since our commit: skipped
    os.utime(db, ns=(1, 1))  # written by someone else (any stat change)
    assert not store_mod._unchanged_since_commit(str(db))
    Store.open(tmp_path)[0].close()
    assert len(checks) == 1


def test_staged_outputs_are_read_without_a_flush_and_written_in_batches(monkeypatch):
    from graph_cache import store as store_mod

    monkeypatch.setattr(store_mod, "STAGE_BATCH", 3)
    s = Store.memory()
    s.commit(outputs={"old": b"1", "kept": b"2"})
    writes = []
    s._conn.set_trace_callback(lambda sql: writes.append(sql) if sql.startswith("INSERT") else None)
    s.stage_output("a", b"10")
    s.stage_output("old", b"11")
    assert (s.load_output("old"), s.load_output("kept"), s.load_output("a")) == (b"11", b"2", b"10")
    assert writes == []  # the staged ones came from memory, the other from the table
    s.stage_output("b", b"12")  # third staged output: one batch
    assert len(writes) == 3 and s.load_output("a") == b"10"
    s.commit()
    assert [s.load_output(n) for n in ("old", "kept", "a", "b")] == [b"11", b"2", b"10", b"12"]

"""The fast path's comparison handed to the full build (promptgen/handoff.py): the engine is told which
files changed instead of comparing every file again, and the new manifest starts from the old one's
records. In-process, as the console script runs them: `fastpath.try_run`, then the build."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from graph_cache.fingerprint import FileRecord, hash_bytes
from graph_cache.fs import StatSig
from graph_cache.manifest import Manifest
from promptgen import fastpath, handoff, manifest_write, service
from promptgen.scan import scan

DOC = "plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_32_01.md"
OTHER = "plans/ORBIT-SYNC/subplans/SUBPLAN_ORBIT-SYNC_12.md"


def build(root: str, fast_path_first: bool = False):
    if fast_path_first:
        assert fastpath.try_run(["build", "--root", root]) is None  # something changed: falls through
    outcome = service.build(root)
    outcome.close()
    return outcome


def settle(root: Path, *paths: str, ago: float = 3600) -> None:
    """Give files an mtime in the past (not racily clean: their records are final)."""
    when = time.time() - ago
    for p in paths or [str(f.relative_to(root)) for f in root.rglob("*.md")
                       if ".promptgen" not in f.parts and f.is_file() and not f.is_symlink()]:
        os.utime(root / p, (when, when))


def manifest_records(root: Path) -> tuple[dict, dict, dict]:
    import marshal

    m = Manifest.load(str(root / ".promptgen" / "manifest.bin"))
    try:
        return dict(m.stats), dict(m.digests), marshal.loads(m.payload)
    finally:
        m.close()


def test_an_edit_build_takes_over_the_fast_paths_comparison(workspace):
    root = str(workspace)
    settle(workspace)
    build(root)
    assert manifest_records(workspace)[2]["files_snapshot"]
    (workspace / DOC).write_bytes((workspace / DOC).read_bytes() + b"\nOne more line.\n")
    settle(workspace, DOC, OTHER, ago=1800)  # DOC edited, OTHER only touched
    outcome = build(root, fast_path_first=True)
    result = outcome.result
    assert result.changes_used and result.mode == "changes"
    assert set(result.fingerprinted) == {DOC}  # the touched file was hashed once, by the fast path
    assert DOC.rsplit("/", 1)[1].removesuffix(".md") in " ".join(outcome.counts.recomputed)
    stats, digests, payload = manifest_records(workspace)
    walk = scan(root)
    assert list(stats.items()) == [(p, st) for p, st in walk.items() if st is not None]  # walk order
    assert digests == {p: hash_bytes((workspace / p).read_bytes()) for p in stats}
    assert payload["files_snapshot"] == result.files_snapshot
    assert fastpath.try_run(["build", "--root", root]) == 0  # and the next run is a no-op again


def test_the_answers_equal_those_of_a_build_without_the_handoff(workspace, tmp_path):
    root = str(workspace)
    settle(workspace)
    build(root)
    twin = tmp_path / "twin"
    shutil.copytree(workspace, twin, symlinks=True)
    for folder in (workspace, twin):
        doc = folder / DOC
        doc.write_bytes(doc.read_bytes().replace(b"Status", b"Stat", 1) + b"\n- iteration note\n")
        settle(folder, DOC, ago=1800)
    mine = build(root, fast_path_first=True)
    theirs = build(str(twin))
    assert mine.result.changes_used and not theirs.result.changes_used
    assert sorted(mine.counts.recomputed) == sorted(theirs.counts.recomputed)  # (the twin's build is full)
    assert {n: d for n, (d, _) in mine.result.decisions.items()} == {n: d for n, (d, _) in theirs.result.decisions.items()}
    assert mine.diagnostics == theirs.diagnostics
    for name in ("status_json", "check_json", "diagnostics_json"):
        a, b = Manifest.load(str(workspace / ".promptgen" / "answers.bin")), Manifest.load(str(twin / ".promptgen" / "answers.bin"))
        try:
            assert a.section(name).replace(str(workspace).encode(), b"") == b.section(name).replace(str(twin).encode(), b"")
        finally:
            a.close()
            b.close()


def test_a_snapshot_another_build_replaced_is_not_trusted(workspace):
    root = str(workspace)
    settle(workspace)
    build(root)
    (workspace / DOC).write_bytes((workspace / DOC).read_bytes() + b"\nedited\n")
    settle(workspace, DOC, ago=1800)
    assert fastpath.try_run(["build", "--root", root]) is None
    seen = handoff._pending[os.path.abspath(root)]
    seen.snapshot = "another-build"  # as if a build had committed between the comparison and the lock
    outcome = build(root)
    assert not outcome.result.changes_used and outcome.result.mode == "changes"
    assert outcome.counts.recomputed  # the edit was found by comparing every file
    assert manifest_records(workspace)[2]["files_snapshot"] == outcome.result.files_snapshot


def test_a_handoff_is_taken_once_and_only_for_its_own_walk():
    walk = {"a.md": (1, 2, 3)}
    handoff.remember("/ws", handoff.Handoff(walk, "s", set(), {}, {}))
    assert handoff.take("/ws", dict(walk)) is None  # an equal but other walk: not this comparison
    handoff.remember("/ws", handoff.Handoff(walk, "s", set(), {}, {}))
    assert handoff.take("/ws", walk).snapshot == "s" and handoff.take("/ws", walk) is None


def test_the_manifest_vouches_only_for_records_that_agree_with_the_engine(tmp_path):
    (tmp_path / "a.md").write_bytes(b"alpha")
    st = os.stat(tmp_path / "a.md")
    walk = {"a.md": (st.st_mtime_ns, st.st_size, st.st_ino)}
    cfg = SimpleNamespace(workspace_dir=str(tmp_path))
    spec = SimpleNamespace(stats=walk)
    for digest, agree in ((hash_bytes(b"alpha"), True), (hash_bytes(b"what the build read"), False)):
        # the engine's record has another stat (racily clean, or written while the build ran)
        result = SimpleNamespace(files={"a.md": FileRecord(StatSig(-1, 5, st.st_ino), digest)}, fingerprinted={})
        stats, digests, ok = manifest_write.manifest_files(cfg, spec, result)
        assert ok is agree and digests == {"a.md": hash_bytes(b"alpha")}


def _count_answer_reads(monkeypatch) -> list:
    """Every construction of `answers.Answers` (a read of the answers node's output) appends to the list."""
    from promptgen import answers

    reads, real = [], answers.Answers.__init__

    def counting(self, data):
        reads.append(len(data))
        real(self, data)

    monkeypatch.setattr(answers.Answers, "__init__", counting)
    return reads


def test_an_edit_that_changes_no_answer_neither_reads_nor_writes_the_answers(workspace, monkeypatch):
    """The answers output (6 MB at 10k documents) is read by a build only when something needs it: an
    edit that leaves every answer as it was takes the answer fields from the last manifest (whose
    answers.bin still holds them), and everything it leaves equals what a clean build writes."""
    root = str(workspace)
    settle(workspace)
    first = build(root)
    answers_file = workspace / ".promptgen" / "answers.bin"
    kept = (answers_file.stat().st_ino, answers_file.read_bytes())
    fields = {k: manifest_records(workspace)[2][k] for k in handoff.ANSWER_FIELDS}
    (workspace / DOC).write_bytes((workspace / DOC).read_bytes() + b"\n- an iteration note\n")
    settle(workspace, DOC, ago=1800)
    reads = _count_answer_reads(monkeypatch)
    outcome = build(root, fast_path_first=True)
    assert outcome.counts.recomputed and "answers:workspace" not in outcome.counts.recomputed
    assert reads == [] and outcome.collected.known == fields
    assert outcome.diag_summary() == first.diag_summary()
    assert {k: manifest_records(workspace)[2][k] for k in handoff.ANSWER_FIELDS} == fields
    assert (answers_file.stat().st_ino, answers_file.read_bytes()) == kept  # not rewritten
    shutil.rmtree(workspace / ".promptgen")
    clean = build(root)
    assert {k: manifest_records(workspace)[2][k] for k in handoff.ANSWER_FIELDS} == fields
    assert answers_file.read_bytes() == kept[1] and clean.diag_summary() == outcome.diag_summary()


def test_a_plan_rendered_again_reads_its_own_fragment_not_the_whole_answers(workspace, monkeypatch):
    """An edit that changes a plan's next prompt but no answer renders that plan's files again; its
    status.json comes from the plan's answer fragment (the answers output, 6 MB at 10k documents, is
    not read), and every artifact equals what a clean build writes."""
    plan_doc = "plans/LANTERN-INDEX/PLAN_LANTERN-INDEX.md"
    root = str(workspace)
    settle(workspace)
    build(root)
    (workspace / plan_doc).write_bytes((workspace / plan_doc).read_bytes() + b"\n- an iteration note\n")
    settle(workspace, plan_doc, ago=1800)
    reads = _count_answer_reads(monkeypatch)
    outcome = build(root, fast_path_first=True)
    assert outcome.artifacts_changed == ["plans/LANTERN-INDEX/next.md"]  # (its group: status.json too)
    assert "answers:workspace" not in outcome.counts.recomputed and reads == []
    art = workspace / ".promptgen" / "artifacts"

    def artifacts() -> dict:
        return {str(f.relative_to(art)): f.read_bytes() for f in art.rglob("*") if f.is_file()
                and f.name != "graph.json" and not f.name.startswith(".")}

    edited = artifacts()
    shutil.rmtree(workspace / ".promptgen")
    build(root)
    assert artifacts() == edited


def test_the_answers_are_read_when_answers_bin_no_longer_holds_them(workspace, monkeypatch):
    root = str(workspace)
    settle(workspace)
    build(root)
    answers_file = workspace / ".promptgen" / "answers.bin"
    answers_file.unlink()  # e.g. removed by a fast path that found it damaged
    (workspace / DOC).write_bytes((workspace / DOC).read_bytes() + b"\n- an iteration note\n")
    settle(workspace, DOC, ago=1800)
    reads = _count_answer_reads(monkeypatch)
    outcome = build(root, fast_path_first=True)
    assert outcome.collected.known is None and len(reads) == 1
    m = Manifest.load(str(answers_file))
    try:
        assert m.global_key == manifest_records(workspace)[2]["answers_key"]
    finally:
        m.close()


def test_answer_fields_are_taken_only_when_answers_bin_holds_the_same_answers(workspace):
    root = str(workspace)
    settle(workspace)
    outcome = build(root)
    result = outcome.result
    cfg = outcome.cfg
    gkey = fastpath.global_key(cfg.root)
    names = outcome.collected.names
    payload = manifest_records(workspace)[2]
    fields = handoff.answer_fields(payload)
    base = handoff.Handoff({}, None, set(), {}, {}, fields)
    assert manifest_write.unchanged_answers(cfg, result, base, gkey, names) == fields
    assert manifest_write.unchanged_answers(cfg, result, None, gkey, names) is None  # no fast path ran
    for wrong in ({"answers_key": "another"}, {"diag_summary": None}, {"check_exit": "1"}):
        other = handoff.Handoff({}, None, set(), {}, {}, {**fields, **wrong})
        assert manifest_write.unchanged_answers(cfg, result, other, gkey, names) is None
    assert manifest_write.unchanged_answers(cfg, result, base, gkey + b"x", names) is None  # other code/config
    assert manifest_write.unchanged_answers(cfg, result, base, gkey, [*names, "NEW-PLAN"]) is None
    (workspace / ".promptgen" / "answers.bin").write_bytes(b"garbled")
    assert manifest_write.unchanged_answers(cfg, result, base, gkey, names) is None


def test_the_manifest_records_start_from_the_handoffs_and_keep_the_walk_order(tmp_path):
    """With a trusted handoff the new records are the walk's stats and the old digests, corrected for
    the files that changed (modified, added, removed): equal to the records made from scratch; a handoff
    whose digests name a file the comparison did not report is not used."""
    for name, body in (("a.md", b"alpha"), ("b.md", b"beta, edited"), ("c.md", b"new")):
        (tmp_path / name).write_bytes(body)
    walk = {}
    for name in ("b.md", "a.md", "c.md"):  # the walk's order, not sorted
        st = os.stat(tmp_path / name)
        walk[name] = (st.st_mtime_ns, st.st_size, st.st_ino)
    records = {n: FileRecord(StatSig(*walk[n]), hash_bytes((tmp_path / n).read_bytes())) for n in walk}
    cfg = SimpleNamespace(workspace_dir=str(tmp_path))
    spec = SimpleNamespace(stats=walk)
    result = SimpleNamespace(files=records, fingerprinted={"b.md": records["b.md"], "c.md": records["c.md"]})
    old = {"a.md": hash_bytes(b"alpha"), "b.md": hash_bytes(b"beta"), "d.md": hash_bytes(b"removed")}
    base = handoff.Handoff(walk, "s", {"b.md", "c.md", "d.md"}, {}, old)
    expected = manifest_write.manifest_files(cfg, spec, result)
    got = manifest_write.manifest_files(cfg, spec, result, base)
    assert got == expected and list(got[0]) == ["b.md", "a.md", "c.md"] and got[2] is True
    assert got[1] == {n: r.digest for n, r in records.items()}
    stray = handoff.Handoff(walk, "s", {"b.md", "c.md"}, {}, old)  # d.md removed but not reported
    assert manifest_write.manifest_files(cfg, spec, result, stray) == expected


def test_an_edit_build_looks_only_at_the_artifacts_of_the_plans_it_recomputed(workspace, monkeypatch):
    """With the fast path's handoff, the artifacts of plans whose status and next nodes were not
    recomputed keep the key of the folder's state file and the stats the fast path just checked: no
    trace read, no stat. A group missing from the state file (a killed writer forgot it) is looked at
    again; the recorded stats are the files' real ones."""
    import json
    import marshal

    from promptgen import artifacts

    root = str(workspace)
    settle(workspace)
    build(root)
    art = workspace / ".promptgen" / "artifacts"
    state_file = art / artifacts.STATE_FILE
    state = json.loads(state_file.read_text())
    del state["plans/LANTERN-INDEX"]  # as a build killed while rewriting that plan leaves it
    state_file.write_text(json.dumps(state))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stray = art / "plans" / "LANTERN-INDEX" / f".next.md.{dead}.tmp"  # what the killed build left
    stray.write_text("partial")
    (workspace / DOC).write_bytes((workspace / DOC).read_bytes() + b"\n- an iteration note\n")
    settle(workspace, DOC, ago=1800)
    looked: list[str] = []
    listed: list[str] = []
    real_stat, real_listdir = artifacts._file_stat, artifacts._listdir
    monkeypatch.setattr(artifacts, "_file_stat", lambda path: looked.append(path) or real_stat(path))
    monkeypatch.setattr(artifacts, "_listdir", lambda path: listed.append(path) or real_listdir(path))
    outcome = build(root, fast_path_first=True)
    assert outcome.result.changes_used
    plans = {os.path.relpath(p, art).split(os.sep)[1] for p in looked if os.sep + "plans" + os.sep in p}
    assert plans == {"ORBIT-SYNC", "LANTERN-INDEX"}  # the edited plan, the forgotten one
    assert sorted(os.path.relpath(p, art) for p in listed) == [".", "plans/LANTERN-INDEX", "plans/ORBIT-SYNC"]
    assert not stray.exists()  # swept: the folder of a group the state file does not vouch for
    assert "plans/LANTERN-INDEX" in json.loads(state_file.read_text())
    m = Manifest.load(str(workspace / ".promptgen" / "manifest.bin"))
    try:
        recorded = marshal.loads(m.payload)["artifacts"]
    finally:
        m.close()
    assert recorded == {p: (os.stat(p).st_mtime_ns, os.stat(p).st_size) for p in recorded}
    assert set(recorded) == {str(p) for p in art.rglob("*") if p.is_file() and p.name != artifacts.STATE_FILE}
    assert fastpath.try_run(["build", "--root", root]) == 0  # the next run is a no-op


def test_a_new_and_a_deleted_plan_are_change_driven_and_match_the_cli_graph(workspace, cli):
    """Root changes (graph_cache/root_changes.py) at the application level: a copied plan folder is new
    roots, a removed one vanished roots; both builds visit only their closure, leave nothing of the
    removed plan in state.db, and `graph.json` equals what `promptgen graph --format json` prints."""
    import sqlite3

    root = str(workspace)
    settle(workspace)
    build(root)
    src, new = workspace / "plans" / "LANTERN-INDEX", workspace / "plans" / "LANTERN-COPY"
    shutil.copytree(src, new)
    for f in list(new.rglob("*LANTERN-INDEX*")):
        f.rename(f.with_name(f.name.replace("LANTERN-INDEX", "LANTERN-COPY")))
    settle(workspace)
    added = build(root, fast_path_first=True)
    assert added.result.mode == "changes"
    assert any("LANTERN-COPY" in n for n in added.counts.recomputed)
    assert not any("ORBIT-SYNC" in n for n in added.counts.recomputed)
    graph_json = (workspace / ".promptgen" / "artifacts" / "graph.json").read_text(encoding="utf-8")
    assert graph_json == cli("graph", "--root", root, "--format", "json").out
    assert "LANTERN-COPY" in graph_json
    shutil.rmtree(new)
    removed = build(root, fast_path_first=True)
    assert removed.result.mode == "changes" and not any("LANTERN-COPY" in n for n in removed.result.decisions)
    with sqlite3.connect(workspace / ".promptgen" / "state.db") as db:
        left = [n for (n,) in db.execute("SELECT node_id FROM traces UNION SELECT node_id FROM outputs")
                if "LANTERN-COPY" in n]
    assert left == []
    graph_json = (workspace / ".promptgen" / "artifacts" / "graph.json").read_text(encoding="utf-8")
    assert graph_json == cli("graph", "--root", root, "--format", "json").out

"""Workspace discovery (R-LAYOUT-1..3, R-NAME-2, R-READ-LINK) over the in-memory and the real filesystem."""
import os

import pytest

from graph_cache.fs import RealFileSystem, StatSig
from graph_cache.fs_memory import MemoryFileSystem
from promptgen.discover import discover, discover_paths, scan, walk


def mem(*paths: str) -> MemoryFileSystem:
    fs = MemoryFileSystem()
    for p in paths:
        fs.write(p, b"x")
    return fs


def codes(diags, severity=None):
    return sorted((d["code"], d["path"]) for d in diags if severity is None or d["severity"] == severity)


def plan(disc, name):
    return next(p for p in disc.plans if p.name == name)


def paths(refs):
    return [r.path for r in refs]


def test_nested_plan_and_its_files():
    fs = mem("plans/F/PLAN_F.md", "plans/F/subplans/SUBPLAN_F_11.md", "plans/F/execution/EXECUTION_TASK_F_11_01.md",
             "plans/F/execution/feedbacks/APPROVED_11.md", "plans/F/parallel.json", "plans/F/end.txt")
    d = discover(fs)
    p = plan(d, "F")
    assert p.info() == {"name": "F", "plan_file": "plans/F/PLAN_F.md", "plan_dir": "plans/F", "layout": "nested",
                        "category": None, "feedback_usable": True}
    assert paths(p.subplans) == ["plans/F/subplans/SUBPLAN_F_11.md"]
    assert paths(p.executions) == ["plans/F/execution/EXECUTION_TASK_F_11_01.md"]
    assert paths(p.feedback) == ["plans/F/execution/feedbacks/APPROVED_11.md"]
    assert p.parallel.path == "plans/F/parallel.json"
    assert [r.kind for r in p.documents()] == ["plan", "subplan", "execution", "feedback", "parallel"]
    assert set(d.documents) == {r.path for r in p.documents()}
    assert codes(d.diagnostics, "warning") == []


def test_categories_flat_plans_and_backlog():
    fs = mem("plans/a_paused/H/PLAN_H.md", "plans/a_paused/PLAN_Q.md", "plans/PLAN_TOP.md",
             "backlog-plans/B/PLAN_B.md", "backlog-plans/x/C/PLAN_C.md", "plans/a/b/D/PLAN_D.md")
    d = discover(fs)
    got = {p.name: (p.layout, p.plan_dir, p.category) for p in d.plans}
    assert got == {
        "H": ("nested", "plans/a_paused/H", "a_paused"),
        "Q": ("flat", "plans/a_paused", "a_paused"),
        "TOP": ("flat", "plans", None),
        "B": ("nested", "backlog-plans/B", "backlog-plans"),
        "C": ("nested", "backlog-plans/x/C", "backlog-plans/x"),
        "D": ("nested", "plans/a/b/D", "a/b"),
    }


def test_plan_search_depth_is_three_levels():
    d = discover(mem("plans/a/b/c/D/PLAN_D.md", "plans/a/b/c/PLAN_E.md"))
    assert [p.name for p in d.plans] == ["E"]


def test_lookalike_plan_file():
    d = discover(mem("plans/L/PLAN_L.md", "plans/L/PLAN_NOTES.md"))
    assert [p.name for p in d.plans] == ["L"]
    assert codes(plan(d, "L").diagnostics) == [("extra-plan-file", "plans/L/PLAN_NOTES.md")]
    assert "plans/L/PLAN_NOTES.md" not in d.documents


def test_grammaplan_and_north_star_are_not_plans():
    d = discover(mem("plans/GRAMMAPLAN_X.md", "plans/NORTH_STAR_X.md", "plans/F/PLAN_F.md"))
    assert [p.name for p in d.plans] == ["F"]
    assert codes(d.diagnostics, "warning") == []


def test_flat_plan_files_and_split_layout():
    fs = mem("plans/a/PLAN_Q.md", "subplans/SUBPLAN_Q_01.md", "execution/EXECUTION_TASK_Q_01_01.md",
             "plans/a/execution/feedbacks/APPROVED_01.md", "plans/a/execution/SKIPPED_02.md",
             "plans/a/execution/APPROVED_03.md", "execution/feedbacks/APPROVED_04.md")
    d = discover(fs)
    q = plan(d, "Q")
    assert paths(q.subplans) == ["subplans/SUBPLAN_Q_01.md"]
    assert paths(q.executions) == ["execution/EXECUTION_TASK_Q_01_01.md"]
    assert paths(q.feedback) == ["plans/a/execution/SKIPPED_02.md", "plans/a/execution/feedbacks/APPROVED_01.md"]
    ignored = codes(d.diagnostics, "info")
    assert ("ignored-file", "execution/feedbacks/APPROVED_04.md") in ignored
    assert ("ignored-file", "plans/a/execution/APPROVED_03.md") in ignored
    assert codes(d.diagnostics, "warning") == []


def test_duplicate_file_plan_copy_wins():
    fs = mem("plans/H/PLAN_H.md", "plans/H/subplans/SUBPLAN_H_11.md", "subplans/SUBPLAN_H_11.md",
             "subplans/SUBPLAN_H_02.md", "plans/H/execution/EXECUTION_TASK_H_11_01.md",
             "execution/EXECUTION_TASK_H_11_01.md")
    d = discover(fs)
    h = plan(d, "H")
    assert paths(h.subplans) == ["plans/H/subplans/SUBPLAN_H_11.md", "subplans/SUBPLAN_H_02.md"]
    assert paths(h.executions) == ["plans/H/execution/EXECUTION_TASK_H_11_01.md"]
    assert codes(h.diagnostics) == [("duplicate-file", "execution/EXECUTION_TASK_H_11_01.md"),
                                    ("duplicate-file", "subplans/SUBPLAN_H_11.md")]
    assert "subplans/SUBPLAN_H_11.md" not in d.documents


def test_archived_subplans():
    fs = mem("plans/O/PLAN_O.md", "archive/SUBPLAN_O_22_ARCHIVED.md", "archive/old/SUBPLAN_O_23.md",
             "plans/O/subplans/SUBPLAN_O_24_ARCHIVED.md", "archive/SUBPLAN_GONE_01.md",
             "plans/O/execution/EXECUTION_TASK_O_11_01_ARCHIVED.md")
    d = discover(fs)
    o = plan(d, "O")
    assert paths(o.archived) == ["archive/SUBPLAN_O_22_ARCHIVED.md", "archive/old/SUBPLAN_O_23.md",
                                 "plans/O/subplans/SUBPLAN_O_24_ARCHIVED.md"]
    assert all(r.archived for r in o.archived)
    assert o.subplans == [] and o.executions == []
    assert codes(d.diagnostics, "warning") == []


def test_nested_stale_copy_is_ignored():
    fs = mem("plans/O/PLAN_O.md", "plans/O/O-old/execution/feedbacks/APPROVED_31.md", "plans/O/O-old/PLAN_O.md",
             "plans/O/O-old/subplans/SUBPLAN_O_31.md")
    d = discover(fs)
    assert [p.name for p in d.plans] == ["O"]
    o = plan(d, "O")
    assert o.feedback == [] and o.subplans == []
    assert codes(d.diagnostics, "warning") == []
    assert len(codes(d.diagnostics, "info")) == 3


def test_orphans_without_plan_and_unrecognized_names():
    fs = mem("plans/Q/PLAN_Q.md", "execution/EXECUTION_TASK_QX_02_02.md", "subplans/SUBPLAN_NOPE_01.md",
             "plans/Q/execution/feedbacks/APPROVED_1.1.md", "subplans/SUBPLAN_Q_7.md", "plans/PLAN_lower.md",
             "plans/Q/subplans/SUBPLAN_OTHER_01.md")
    d = discover(fs)
    assert codes(d.workspace_diagnostics, "warning") == [
        ("orphan-file", "execution/EXECUTION_TASK_QX_02_02.md"), ("orphan-file", "subplans/SUBPLAN_NOPE_01.md"),
        ("unrecognized-name", "plans/PLAN_lower.md"), ("unrecognized-name", "subplans/SUBPLAN_Q_7.md")]
    assert codes(plan(d, "Q").diagnostics) == [("orphan-file", "plans/Q/subplans/SUBPLAN_OTHER_01.md"),
                                               ("unrecognized-name", "plans/Q/execution/feedbacks/APPROVED_1.1.md")]
    assert len(codes(d.diagnostics, "warning")) == 6


def test_two_flat_plans_share_a_folder():
    fs = mem("plans/a/PLAN_X.md", "plans/a/PLAN_Y.md", "plans/a/execution/feedbacks/APPROVED_01.md",
             "plans/a/parallel.json")
    d = discover(fs)
    for name in ("X", "Y"):
        p = plan(d, name)
        assert not p.feedback_usable and p.feedback == [] and p.parallel is None
        assert codes(p.diagnostics) == [("ambiguous-feedback-dir", f"plans/a/PLAN_{name}.md")]


def test_duplicate_plan_names_first_by_depth_wins():
    d = discover(mem("plans/F/PLAN_F.md", "plans/cat/F/PLAN_F.md"))
    assert [p.plan_file for p in d.plans] == ["plans/F/PLAN_F.md"]
    assert codes(d.diagnostics) == [("duplicate-plan", "plans/cat/F/PLAN_F.md")]


def test_root_is_plans_container_when_no_plans_folder():
    fs = mem("F/PLAN_F.md", "F/subplans/SUBPLAN_F_11.md", "subplans/SUBPLAN_F_12.md", "PLAN_G.md",
             "subplans/SUBPLAN_G_01.md")
    d = discover(fs)
    assert {p.name: (p.layout, p.plan_dir) for p in d.plans} == {"F": ("nested", "F"), "G": ("flat", "")}
    assert paths(plan(d, "F").subplans) == ["F/subplans/SUBPLAN_F_11.md", "subplans/SUBPLAN_F_12.md"]
    assert paths(plan(d, "G").subplans) == ["subplans/SUBPLAN_G_01.md"]


def test_walk_skips_hidden_and_vendor_folders_and_is_bounded():
    fs = mem("plans/F/PLAN_F.md", "plans/.git/PLAN_X.md", "plans/node_modules/PLAN_Y.md",
             "plans/F/documentation/PLAN_Z.md", "plans/a/b/c/d/e/f/g/h/PLAN_DEEP.md", "other/PLAN_OUT.md",
             "plans/F/notes.md")
    files = scan(fs)
    assert sorted(files) == ["plans/F/PLAN_F.md"]
    assert isinstance(files["plans/F/PLAN_F.md"], StatSig)


def test_discover_paths_is_pure_and_deterministic():
    ps = ["plans/F/PLAN_F.md", "plans/F/subplans/SUBPLAN_F_11.md", "subplans/SUBPLAN_F_11.md"]
    a, b = discover_paths(ps), discover_paths(list(reversed(ps)))
    assert a.diagnostics == b.diagnostics and list(a.documents) == list(b.documents)


def test_symlink_outside_root_is_skipped(tmp_path):
    root, outside = tmp_path / "ws", tmp_path / "outside"
    (root / "plans" / "F").mkdir(parents=True)
    (root / "plans" / "F" / "PLAN_F.md").write_text("# PLAN: F\n")
    outside.mkdir()
    (outside / "PLAN_EVIL.md").write_text("x")
    os.symlink(outside, root / "plans" / "evil")
    os.symlink(outside / "PLAN_EVIL.md", root / "plans" / "PLAN_EVIL.md")
    os.symlink(root / "plans" / "F", root / "plans" / "inside")  # inside the root: followed
    w = walk(RealFileSystem(root))
    assert codes(w.diagnostics) == [("symlink-skipped", "plans/PLAN_EVIL.md"), ("symlink-skipped", "plans/evil")]
    assert "plans/inside/PLAN_F.md" in w.files
    assert not any("EVIL" in p for p in w.files)
    d = discover(RealFileSystem(root))
    assert [p.plan_file for p in d.plans] == ["plans/F/PLAN_F.md"]
    assert ("symlink-skipped", "plans/evil") in codes(d.workspace_diagnostics)


def test_fixture_layout():
    here = os.path.dirname(__file__)
    d = discover(RealFileSystem(os.path.join(here, "..", "data", "methodology-workspace")))
    assert [p.name for p in d.plans] == ["CINDER-FORGE", "EMBER-NOTES", "HARBOR-LEDGER", "LANTERN-INDEX",
                                         "ORBIT-SYNC", "QUILL-MIGRATION"]
    assert sorted(codes(d.diagnostics, "warning")) == [
        ("duplicate-file", "subplans/SUBPLAN_HARBOR-LEDGER_11.md"),
        ("extra-plan-file", "plans/LANTERN-INDEX/PLAN_NOTES.md"),
        ("orphan-file", "execution/EXECUTION_TASK_QUILL-MIGRATON_02_02.md")]
    h = plan(d, "HARBOR-LEDGER")
    assert "plans/a_paused/HARBOR-LEDGER/execution/SKIPPED_22.md" in paths(h.feedback)
    assert "subplans/SUBPLAN_HARBOR-LEDGER_02.md" in paths(h.subplans)
    assert paths(plan(d, "ORBIT-SYNC").archived) == ["archive/SUBPLAN_ORBIT-SYNC_22_ARCHIVED.md"]


@pytest.mark.slow
def test_many_files_fast():  # pragma: no cover - timing smoke test
    import time
    fs = MemoryFileSystem()
    for i in range(200):
        for j in range(50):
            fs.write(f"plans/P{i}/subplans/SUBPLAN_P{i}_{j + 10}.md", b"")
        fs.write(f"plans/P{i}/PLAN_P{i}.md", b"")
    t = time.perf_counter()
    d = discover(fs)
    assert len(d.plans) == 200 and time.perf_counter() - t < 30


def test_folder_that_cannot_be_listed_is_an_unreadable_error(tmp_path, monkeypatch):
    """A permission error listing a folder (as root, chmod cannot produce one: simulated) is reported
    with the folder's path, instead of its plans silently vanishing."""
    from promptgen import scan

    (tmp_path / "plans" / "LOCKED").mkdir(parents=True)
    (tmp_path / "plans" / "LOCKED" / "PLAN_LOCKED.md").write_text("# PLAN\n", encoding="utf-8")
    (tmp_path / "plans" / "OPEN").mkdir()
    (tmp_path / "plans" / "OPEN" / "PLAN_OPEN.md").write_text("# PLAN\n", encoding="utf-8")
    real = os.scandir

    def scandir(path="."):
        if str(path).endswith(os.path.join("plans", "LOCKED")):
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(scan.os, "scandir", scandir)
    files, _, notes = scan.scan_tree(str(tmp_path))
    assert list(files) == ["plans/OPEN/PLAN_OPEN.md"]
    assert [(n["code"], n["severity"], n["path"]) for n in notes] == [("unreadable", "error", "plans/LOCKED")]
    assert "Permission denied" in notes[0]["message"]

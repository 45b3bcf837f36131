"""Confinement: promptgen reads only inside the root and writes only to `.promptgen/` and `--out`.

* Symbolic links under the root that point outside it (to a plan folder, to single documents, to a
  folder of executions) are not followed: info `symlink-skipped` on the link path, and the targets'
  content never influences any result (the outside documents would add a plan, a SUBPLAN, approvals).
* References written inside documents (`**Mother Plan**: ../../etc/passwd`, absolute paths, markdown
  links, parallel.json ids like `../x`) are never opened: the sentinel they point to is a FIFO, so any
  `open()` of it would block the build (the test would time out), and its content never shows up.
* Nothing is written outside `.promptgen/` and the chosen `--out` directory: the whole temporary tree
  (root, a folder outside, the out folder, the working directory) is snapshotted before and after a
  series of commands; `build --dry-run` writes nothing at all.
* A state directory that cannot be written ends the command with exit code 4 and one line naming
  `.promptgen` and the OS error, without traceback and without partial state; once the obstacle is
  gone the next build is normal.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "methodology-workspace"
SENTINEL = "SENTINEL-7731-OUTSIDE-CONTENT"


def copy_fixture(dest: Path) -> Path:
    shutil.copytree(FIXTURE, dest, symlinks=True)
    for p in [dest, *dest.rglob("*")]:
        if not p.is_symlink():
            p.chmod(0o755 if p.is_dir() else 0o644)
    return dest


def build(cli, root: Path, *extra: str, cwd: Path | None = None) -> dict:
    res = cli("build", "--root", str(root), "--json", *extra, cwd=cwd)
    assert res.code == 0, res.err
    return res.json()


def status(cli, root: Path) -> dict:
    res = cli("status", "--root", str(root), "--json")
    assert res.code == 0, res.err
    return res.json()


TOUCHED_PLANS = ("ORBIT-SYNC", "LANTERN-INDEX", "EMBER-NOTES", "QUILL-MIGRATION")  # the ones the tests target


def answers(cli, root: Path) -> dict:
    """What a user reads: status (plans + diagnostics), the next prompt of the targeted plans, ready."""
    st = status(cli, root)
    out = {"plans": st["plans"], "diagnostics": st["diagnostics"]}
    for plan in TOUCHED_PLANS:
        res = cli("next", plan, "--root", str(root), "--json")
        assert res.code == 0, res.err
        out[f"next {plan}"] = res.json()
    res = cli("ready", "--root", str(root), "--json")
    assert res.code == 0, res.err
    out["ready"] = res.json()
    return out


EDITED = "plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_32_01.md"


def edit_doc(root: Path) -> None:
    p = root / EDITED
    p.write_text(p.read_text(encoding="utf-8") + "\nedited\n", encoding="utf-8")


@pytest.fixture(scope="module")
def clean_status(tmp_path_factory) -> dict[bool, dict]:
    """status --json of clean builds of the fixture: as is (False) and with EDITED edited (True)."""
    import subprocess
    import sys

    out = {}
    for edited in (False, True):
        root = copy_fixture(tmp_path_factory.mktemp("clean") / "ws")
        if edited:
            edit_doc(root)
        proc = subprocess.run([sys.executable, "-m", "promptgen", "status", "--root", str(root), "--json"],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        out[edited] = json.loads(proc.stdout)
    return out


def without(diags: list[dict], code: str) -> list[dict]:
    return [d for d in diags if d["code"] != code]


def outside_documents(outside: Path) -> dict[str, Path]:
    """Documents outside the root that WOULD change results if they were read."""
    evil = outside / "EVIL"
    (evil / "subplans").mkdir(parents=True)
    (evil / "PLAN_EVIL.md").write_text(f"# PLAN: {SENTINEL}\n\n**Type**: PLAN\n\n## 📋 Achievement Index\n\n"
                                       "- Achievement 0.1: Exfiltrate\n\n**Achievement 0.1**: Exfiltrate\n")
    (evil / "subplans" / "SUBPLAN_EVIL_01.md").write_text("# SUBPLAN: x\n\n**Mother Plan**: PLAN_EVIL.md\n"
                                                          "**Achievement**: 0.1\n")
    sub = (FIXTURE / "plans/ORBIT-SYNC/subplans/SUBPLAN_ORBIT-SYNC_21.md").read_text(encoding="utf-8")
    (outside / "SUBPLAN_ORBIT-SYNC_22.md").write_text(
        sub.replace("**Achievement**: 2.1", "**Achievement**: 2.2").replace("Relay Fan-out", SENTINEL))
    (outside / "APPROVED_21.md").write_text(f"# APPROVED\n\n{SENTINEL}\n")
    (outside / "APPROVED_12.md").write_text(f"# APPROVED\n\n{SENTINEL}\n")
    execs = outside / "execs"
    execs.mkdir()
    (execs / "EXECUTION_TASK_EMBER-NOTES_01_01.md").write_text(
        f"# EXECUTION_TASK: {SENTINEL}\n\n**Mother Plan**: PLAN_EMBER-NOTES.md\n**Status**: ✅ Complete\n")
    (outside / "SUBPLAN_QUILL-MIGRATION_11.md").write_text(
        f"# SUBPLAN: {SENTINEL}\n\n**Mother Plan**: PLAN_QUILL-MIGRATION.md\n**Achievement**: 1.1\n")
    return {"plan-folder": evil, "execs": execs}


def test_symlinks_pointing_outside_the_root_are_not_followed(tmp_path, cli):
    clean = copy_fixture(tmp_path / "clean")
    root = copy_fixture(tmp_path / "root")
    outside = tmp_path / "outside"
    outside.mkdir()
    dirs = outside_documents(outside)
    links = {  # link path (relative to the root) -> target (absolute or relative)
        "plans/EVIL": str(dirs["plan-folder"]),  # a whole plan folder
        "plans/ORBIT-SYNC/subplans/SUBPLAN_ORBIT-SYNC_22.md": "../../../../outside/SUBPLAN_ORBIT-SYNC_22.md",
        "plans/ORBIT-SYNC/execution/feedbacks/APPROVED_21.md": str(outside / "APPROVED_21.md"),
        "plans/LANTERN-INDEX/execution/feedbacks/APPROVED_12.md": "../../../../../outside/APPROVED_12.md",
        "plans/EMBER-NOTES/execution": str(dirs["execs"]),  # a folder of executions
        "subplans/SUBPLAN_QUILL-MIGRATION_11.md": str(outside / "SUBPLAN_QUILL-MIGRATION_11.md"),
        "plans/STOLEN/PLAN_STOLEN.md": str(dirs["plan-folder"] / "PLAN_EVIL.md"),  # a PLAN file, real folder
    }
    (root / "plans" / "STOLEN").mkdir()
    for rel, target in links.items():
        (root / rel).symlink_to(target)
        assert (root / rel).exists()  # the link resolves: only the confinement keeps it out
    doc = build(cli, root)
    skipped = sorted(d["path"] for d in doc["diagnostics"] if d["code"] == "symlink-skipped")
    assert skipped == sorted(links)
    assert all(d["severity"] == "info" for d in doc["diagnostics"] if d["code"] == "symlink-skipped")
    assert not any(n.startswith(("plan:plans/EVIL", "subplan:plans/EVIL")) for n in doc["recomputed"])
    got, ref = answers(cli, root), answers(cli, clean)
    assert SENTINEL not in json.dumps(got, ensure_ascii=False)
    assert without(got["diagnostics"], "symlink-skipped") == ref["diagnostics"]
    assert got["plans"] == ref["plans"]
    for key in ref:
        if key != "diagnostics":
            assert got[key] == ref[key], key
    artifacts = root / ".promptgen" / "artifacts"
    assert not (artifacts / "plans" / "EVIL").exists() and not (artifacts / "plans" / "STOLEN").exists()
    assert SENTINEL not in "".join(p.read_text(encoding="utf-8") for p in artifacts.rglob("*") if p.is_file())
    # Editing the outside targets changes nothing: they are not inputs.
    for p in outside.rglob("*.md"):
        p.write_text(p.read_text(encoding="utf-8") + "\n**Status**: ✅ Complete\n")
    again = build(cli, root)
    assert again["recomputed"] == []  # no input changed, so no output either
    assert status(cli, root)["plans"] == got["plans"]


def test_symlinks_inside_the_root_and_loops_terminate(tmp_path, cli):
    """A link to a folder inside the root is not `symlink-skipped`; a loop back to the root ends."""
    root = copy_fixture(tmp_path / "root")
    (root / "plans" / "LOOP").symlink_to("..")
    (root / "plans" / "ORBIT-SYNC" / "again").symlink_to(root / "plans" / "ORBIT-SYNC")
    doc = build(cli, root)
    assert not [d for d in doc["diagnostics"] if d["code"] == "symlink-skipped"]
    assert status(cli, root)["plans"]


def test_workspace_setting_cannot_escape_through_a_symlink(tmp_path, cli):
    """`workspace = "w"` where `w` is a link to a folder outside the root: either a config error
    (exit 2 naming `workspace`) or a build that reads nothing outside. Never the outside plans."""
    outside = copy_fixture(tmp_path / "outside-ws")
    root = tmp_path / "root"
    (root / ".promptgen").mkdir(parents=True)
    (root / "w").symlink_to(outside)
    (root / ".promptgen" / "config.toml").write_text('workspace = "w"\n')
    res = cli("status", "--root", str(root), "--json")
    if res.code == 2:
        assert "workspace" in res.err
    else:
        assert res.code == 0, res.err
        assert res.json()["plans"] == []


def make_fifo(path: Path) -> None:
    os.mkfifo(path)
    assert stat.S_ISFIFO(path.lstat().st_mode)


def hostile_references(root: Path, target_rel: str, target_abs: str) -> None:
    """Rewrite documents so they reference files outside the root by `..` and absolute paths."""
    def edit(rel: str, old: str, new: str) -> None:
        p = root / rel
        text = p.read_text(encoding="utf-8")
        assert old in text, (rel, old)
        p.write_text(text.replace(old, new, 1), encoding="utf-8")

    edit("plans/ORBIT-SYNC/subplans/SUBPLAN_ORBIT-SYNC_21.md", "**Mother Plan**: PLAN_ORBIT-SYNC.md",
         f"**Mother Plan**: {target_rel}")
    edit("plans/ORBIT-SYNC/subplans/SUBPLAN_ORBIT-SYNC_31.md", "**Mother Plan**: PLAN_ORBIT-SYNC.md",
         "**Mother Plan**: ../../etc/passwd")
    edit("plans/ORBIT-SYNC/subplans/SUBPLAN_ORBIT-SYNC_32.md", "**Mother Plan**: PLAN_ORBIT-SYNC.md",
         f"**Mother Plan**: {target_abs}")
    edit("plans/LANTERN-INDEX/subplans/SUBPLAN_LANTERN-INDEX_11.md", "**PLAN**: LANTERN-INDEX",
         "**PLAN**: /etc/passwd")
    plan = root / "plans/ORBIT-SYNC/PLAN_ORBIT-SYNC.md"
    plan.write_text(plan.read_text(encoding="utf-8") + f"\nSee [the sentinel]({target_rel}) and "
                    f"[passwd](/etc/passwd), ![img]({target_abs}).\n", encoding="utf-8")
    ex = root / "plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_21_01.md"
    ex.write_text(ex.read_text(encoding="utf-8") + f"\n**SUBPLAN**: {target_rel}\n**Mother Plan**: {target_abs}\n",
                  encoding="utf-8")
    par = root / "plans/ORBIT-SYNC/parallel.json"
    doc = json.loads(par.read_text(encoding="utf-8-sig"))
    doc["plan_name"] = target_rel
    doc["achievements"] += [{"achievement_id": "../x", "dependencies": [target_rel]},
                            {"achievement_id": "/etc/passwd", "dependencies": ["../x", target_abs]},
                            {"achievement_id": target_rel, "dependencies": []}]
    doc["achievements"][0]["dependencies"] = ["../../etc/passwd"]
    par.write_text(json.dumps(doc), encoding="utf-8")


def test_dotdot_and_absolute_references_are_never_opened(tmp_path, cli):
    root = copy_fixture(tmp_path / "root")
    outside = tmp_path / "outside"
    outside.mkdir()
    sentinel = outside / "PLAN_ORBIT-SYNC.md"
    make_fifo(sentinel)  # open() for reading would block the build until the cli timeout
    hostile_references(root, "../../../../outside/PLAN_ORBIT-SYNC.md", str(sentinel))
    res = cli("build", "--root", str(root), "--json", timeout=60)
    assert res.code == 0, res.err
    got = answers(cli, root)
    text = json.dumps(got, ensure_ascii=False)
    assert "root:x:0:0" not in text
    assert stat.S_ISFIFO(sentinel.lstat().st_mode)
    # Same answers when the sentinel is a regular file full of content that would matter if read.
    sentinel.unlink()
    src = (FIXTURE / "plans/ORBIT-SYNC/PLAN_ORBIT-SYNC.md").read_text(encoding="utf-8")
    sentinel.write_text(src.replace("PLAN: Orbit Sync Relay", f"PLAN: {SENTINEL}")
                        .replace("- Achievement 1.2", "- ✅ Achievement 1.2"), encoding="utf-8")
    assert build(cli, root)["recomputed"] == []  # not an input: nothing to recompute
    st = status(cli, root)
    assert st["plans"] == got["plans"] and st["diagnostics"] == got["diagnostics"]
    assert SENTINEL not in json.dumps(st, ensure_ascii=False)
    # The ids `../x`, `/etc/passwd` never became paths: nothing was created outside the artifacts.
    assert sorted(p.name for p in outside.iterdir()) == ["PLAN_ORBIT-SYNC.md"]


# -- writes ------------------------------------------------------------------------------------------
def snapshot(top: Path) -> dict[str, tuple]:
    """Every path under `top` (itself included): type, mtime, size and content digest / link target."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in ["", *dirnames, *filenames]:
            p = os.path.join(dirpath, name) if name else dirpath
            rel = os.path.relpath(p, top)
            if rel in out:
                continue
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", st.st_mtime_ns, tuple(sorted(os.listdir(p))))
            else:
                with open(p, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
                out[rel] = ("file", st.st_mtime_ns, st.st_size, digest)
    return out


def changed_paths(before: dict, after: dict) -> set[str]:
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def under(path: str, *prefixes: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


def test_nothing_is_written_outside_state_dir_and_out(tmp_path, cli):
    top = tmp_path / "tree"
    root = copy_fixture(top / "root")
    (top / "outside").mkdir()
    (top / "outside" / "notes.txt").write_text("outside the root\n")
    (root / "plans" / "ext").symlink_to(top / "outside")
    for d in ("out", "cwd", "cwd/rel-out"):
        (top / d).mkdir()
    (root / ".promptgen").mkdir()  # pre-created, so the root folder itself must stay unchanged
    edited = EDITED
    before = snapshot(top)
    cwd = top / "cwd"
    build(cli, root, cwd=cwd)
    build(cli, root, "--out", str(top / "out"), cwd=cwd)
    with open(root / edited, "a", encoding="utf-8") as fh:  # an in-place edit (the test's own write)
        fh.write("\n**Status**: ✅ Complete\n")
    build(cli, root, "--out", "rel-out", cwd=cwd)  # relative --out: resolved against the cwd
    build(cli, root, cwd=cwd)
    for args in (("status", "--json"), ("next", "ORBIT-SYNC"), ("ready",), ("check",), ("graph",),
                 ("explain", "--last"), ("stats",), ("build", "--dry-run")):
        res = cli(*args, "--root", str(root), cwd=cwd)
        assert res.code in (0, 1), (args, res.err)
    after = snapshot(top)
    changed = changed_paths(before, after)
    stray = sorted(p for p in changed if not under(p, "root/.promptgen", "out", "cwd/rel-out")
                   and p != f"root/{edited}")
    assert stray == [], f"written outside .promptgen/ and --out: {stray}"
    assert any(under(p, "out/plans") for p in changed) and any(under(p, "cwd/rel-out/plans") for p in changed)
    assert after["outside/notes.txt"] == before["outside/notes.txt"]


def test_dry_run_writes_nothing_at_all(tmp_path, cli):
    top = tmp_path / "tree"
    root = copy_fixture(top / "root")
    build(cli, root)
    edit_doc(root)
    before = snapshot(top)
    res = cli("build", "--root", str(root), "--dry-run", "--json")
    assert res.code == 0, res.err
    assert res.json()["recomputed"]
    assert changed_paths(before, snapshot(top)) == set()


# -- unusable state directory --------------------------------------------------------------------------
# (obstacle path under the root, what is put there, OS error in the message, paths under .promptgen/ that
# may change: the lock file, and what an earlier step committed before the failing write)
UNWRITABLE = [
    pytest.param(".promptgen", "file", "File exists", (), id="promptgen-is-a-file"),
    pytest.param(".promptgen/state.db", "dir", "Is a directory", ("state.lock",), id="state-db-is-a-folder"),
    pytest.param(".promptgen/state.lock", "dir", "Is a directory", (), id="state-lock-is-a-folder"),
    pytest.param(".promptgen/state.db-journal", "dir", None, ("state.lock",), id="journal-is-a-folder"),
    pytest.param(".promptgen/artifacts", "file", None, ("state.lock", "state.db"), id="artifacts-is-a-file"),
    pytest.param(".promptgen/manifest.bin", "dir", "Is a directory",
                 ("state.lock", "state.db", "artifacts", "answers.bin"), id="manifest-is-a-folder"),
    pytest.param(".promptgen/history.jsonl", "dir", "Is a directory",
                 ("state.lock", "state.db", "artifacts", "manifest.bin"),
                 id="history-is-a-folder"),
]
# The failing build above saved the manifest before the history append failed, so the `status` that
# follows is a no-op answered by the fast path, whose only write is its informational history record:
# it may skip it and answer (exit 0, the right answer) instead of exiting 4.
NOOP_MAY_ANSWER = {".promptgen/history.jsonl"}


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
@pytest.mark.parametrize("rel, kind, os_error, may_change", UNWRITABLE)
def test_unwritable_state_dir_exits_4_with_one_line(tmp_path, cli, clean_status, rel, kind, os_error, may_change,
                                                    warm):
    """Where the state must go there is a file instead of a folder (or the reverse): as root, chmod
    cannot make a folder unwritable, but ENOTDIR / EISDIR / EEXIST are real OS errors just the same.
    warm: the root was built before, then a document was edited (the next build has work to do)."""
    root = copy_fixture(tmp_path / "root")
    if warm:
        build(cli, root)
        edit_doc(root)
    obstacle = root / rel
    _remove(obstacle)
    obstacle.parent.mkdir(parents=True, exist_ok=True)
    obstacle.mkdir() if kind == "dir" else obstacle.write_text("in the way\n")
    before = snapshot(tmp_path)
    for args in (("build", "--json"), ("status", "--json")) if warm else (("build", "--json"),):
        res = cli(*args, "--root", str(root))
        if args[0] == "status" and rel in NOOP_MAY_ANSWER and res.code == 0:
            assert res.json() == clean_status[warm]
            continue
        assert res.code == 4, (args, res.code, res.err)
        assert res.out == ""
        lines = res.err.strip().splitlines()
        assert len(lines) == 1, res.err
        assert ".promptgen" in lines[0], lines[0]
        if os_error:
            assert os_error in lines[0], lines[0]
    # No partial state: besides the lock file and what was committed before the failing write (whole),
    # nothing changed; in particular no temp file is left behind.
    # state.db.checked goes with state.db (its stat after our commit), discovery.bin and answers.bin (written
    # just before it, named by it) with manifest.bin
    companions = {"state.db": ("state.db.checked",), "manifest.bin": ("discovery.bin", "answers.bin")}
    names = set(may_change) | {c for name in may_change for c in companions.get(name, ())}
    allowed = {f"root/.promptgen/{name}" for name in names}
    changed = changed_paths(before, snapshot(tmp_path))
    stray = sorted(p for p in changed if not under(p, *allowed) and p != "root/.promptgen")
    assert stray == [], stray
    # Remove the obstacle: the next command works and agrees with a clean build.
    _remove(obstacle)
    assert status(cli, root) == clean_status[warm]


def test_unwritable_out_dir_is_reported_not_a_crash(tmp_path, cli):
    """`--out` naming a file: a one-line error naming it (exit 4, or 2 as a usage error), no traceback."""
    root = copy_fixture(tmp_path / "root")
    out = tmp_path / "out-file"
    out.write_text("in the way\n")
    res = cli("build", "--root", str(root), "--out", str(out))
    assert res.code in (2, 4), (res.code, res.err)
    assert len(res.err.strip().splitlines()) == 1 and "out-file" in res.err, res.err


@pytest.mark.parametrize("name, content", [("manifest.bin", b"garbage\x00\x01"), ("state.lock", b"not a pid\n"),
                                           ("history.jsonl", b"{torn line\n\xff\xfe\n")])
def test_garbage_in_side_files_is_ignored(tmp_path, cli, clean_status, name, content):
    """Corrupt (but writable) side files are not fatal: the build rebuilds what it needs, exit 0."""
    root = copy_fixture(tmp_path / "root")
    build(cli, root)
    (root / ".promptgen" / name).write_bytes(content)
    res = cli("build", "--root", str(root), "--json")
    assert res.code == 0, res.err
    assert status(cli, root) == clean_status[False]

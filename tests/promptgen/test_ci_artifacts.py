"""CI artifacts of `promptgen build [--out DIR]`: contents, rewrite-only-when-changed, pruning, containment,
and a fresh clone that restores `.promptgen/` from a cache (100 % hits, no trace of the old location)."""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

PLAN_FILES = ("status.json", "next.md")
TOP_FILES = ("summary.md", "summary.json", "graph.json")


def build(cli, root: Path, *extra: str, cwd=None) -> dict:
    res = cli("build", "--root", str(root), "--json", *extra, cwd=cwd)
    assert res.code == 0, res.err
    return res.json()


def artifact_files(out: Path) -> dict[str, bytes]:
    """Artifact files by relative path (the hidden bookkeeping file `.promptgen-artifacts.json` excluded)."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def identities(out: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime_ns) per artifact file: a rewrite (atomic replace) changes both."""
    return {p.relative_to(out).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(out.rglob("*")) if p.is_file() and not p.name.startswith(".")}


def totals(doc: dict) -> tuple[int, int, int]:
    t = doc["by_type"].values()
    return sum(c["hit"] for c in t), sum(c["miss"] for c in t), sum(c["cutoff"] for c in t)


@pytest.fixture(scope="module")
def plan_names() -> list[str]:
    data = json.loads((Path(__file__).resolve().parents[1] / "data" / "expected.json").read_text(encoding="utf-8"))
    return sorted(p["name"] for p in data["plans"])


# -- contents -----------------------------------------------------------------------------------------------

def test_out_dir_contents(cli, workspace, tmp_path, plan_names):
    out = tmp_path / "ci-out"
    build(cli, workspace, "--out", str(out))
    files = artifact_files(out)
    assert set(files) == {f"plans/{n}/{f}" for n in plan_names for f in PLAN_FILES} | set(TOP_FILES)
    assert not any(".tmp" in name for name in files)

    status = cli("status", "--root", str(workspace), "--json").json()
    check = cli("check", "--root", str(workspace), "--json").json()
    by_name = {p["name"]: p for p in status["plans"]}

    # per plan: status.json is the plan's `status PLAN --json` entry plus its diagnostics; next.md the prompt
    for name in plan_names:
        doc = json.loads(files[f"plans/{name}/status.json"])
        diags = doc.pop("diagnostics")
        assert doc == by_name[name]
        assert all(d in check["diagnostics"] for d in diags)
        assert files[f"plans/{name}/next.md"].strip()
    one = cli("status", "ORBIT-SYNC", "--root", str(workspace), "--json").json()
    assert json.loads(files["plans/ORBIT-SYNC/status.json"])["diagnostics"] == one["diagnostics"]
    nxt = cli("next", "ORBIT-SYNC", "--root", str(workspace))
    assert files["plans/ORBIT-SYNC/next.md"].decode("utf-8") == nxt.out

    # summary.json: portfolio rows and every diagnostic
    summary = json.loads(files["summary.json"])
    assert [r["name"] for r in summary["plans"]] == [p["name"] for p in status["plans"]]
    assert summary["diagnostics"] == check["diagnostics"]

    # graph.json: what `promptgen graph --format json` prints
    assert files["graph.json"].decode("utf-8") == cli("graph", "--root", str(workspace), "--format", "json").out

    # summary.md: progress per plan, next actions, mermaid graphs coloured by state, diagnostics
    md = files["summary.md"].decode("utf-8")
    assert md.startswith("# promptgen summary\n")
    for plan in status["plans"]:
        done = plan["progress"]["approved"] + plan["progress"]["skipped"]
        assert f"| {plan['name']} | {done}/{plan['progress']['total']} |" in md
        assert f"- **{plan['name']}**" in md
    assert "## Next actions" in md and "- **ORBIT-SYNC** 2.1: `review`" in md
    blocks = re.findall(r"```mermaid\n(.*?)```", md, flags=re.S)
    assert len(blocks) == sum(1 for p in status["plans"] if p["achievements"])
    assert all(b.startswith("flowchart") for b in blocks)
    orbit = next(b for b in blocks if "ORBIT_SYNC_0_1" in b)
    for ach in by_name["ORBIT-SYNC"]["achievements"]:
        node = "ORBIT_SYNC_" + ach["id"].replace(".", "_")
        assert re.search(rf'^  {node}\[".*{ach["state"]}"\]$', orbit, flags=re.M), node
        assert re.search(rf"^  class (\S+,)*{node}(,\S+)* {ach['state']}$", orbit, flags=re.M), node
    assert "ORBIT_SYNC_0_1 --> ORBIT_SYNC_0_2" in orbit  # parallel.json dependency
    assert "classDef approved fill:#" in orbit and "classDef fix_pending fill:#" in orbit
    assert "## Diagnostics" in md and f"{check['errors']} error(s), {check['warnings']} warning(s)" in md
    for d in check["diagnostics"]:
        if d["severity"] != "info":
            assert f"`{d['code']}`" in md


def test_default_dir_holds_the_same_artifacts(cli, workspace, tmp_path):
    out = tmp_path / "ci-out"
    build(cli, workspace)
    build(cli, workspace, "--out", str(out))
    assert artifact_files(workspace / ".promptgen" / "artifacts") == artifact_files(out)


def test_a_no_op_build_restores_missing_default_artifacts(cli, workspace, tmp_path):
    build(cli, workspace, "--out", str(tmp_path / "ci-out"))  # the default dir was never written
    build(cli, workspace)
    assert (workspace / ".promptgen" / "artifacts" / "summary.md").is_file()
    (workspace / ".promptgen" / "artifacts" / "summary.md").unlink()
    build(cli, workspace)
    assert (workspace / ".promptgen" / "artifacts" / "summary.md").is_file()


def test_relative_out_is_relative_to_the_current_directory(cli, workspace, tmp_path):
    here = tmp_path / "here"
    here.mkdir()
    build(cli, workspace, "--out", "site/promptgen", cwd=here)
    assert (here / "site" / "promptgen" / "summary.md").is_file()


# -- rewritten only when changed --------------------------------------------------------------------------

def test_artifacts_rewritten_only_when_their_content_changes(cli, workspace, tmp_path):
    out = tmp_path / "ci-out"
    build(cli, workspace, "--out", str(out))
    before = identities(out)

    # a no-op build, a touched document (same bytes) and a file promptgen does not read: nothing rewritten
    assert cli("build", "--root", str(workspace), "--out", str(out), "--fail-if-changed").code == 0
    later = 2_000_000_000
    os.utime(workspace / "plans/ORBIT-SYNC/PLAN_ORBIT-SYNC.md", (later, later))
    (workspace / "plans/ORBIT-SYNC/notes.md").write_text("scratch notes\n", encoding="utf-8")
    res = cli("build", "--root", str(workspace), "--out", str(out), "--fail-if-changed")
    assert (res.code, res.err) == (0, "")
    assert identities(out) == before

    # a change in LANTERN-INDEX rewrites its files and the workspace-wide ones, nothing of the other plans
    approved = workspace / "plans/LANTERN-INDEX/execution/feedbacks/APPROVED_12.md"
    approved.write_text("# APPROVED: Achievement 1.2 - Shard crawler\n\n**Status**: ✅ APPROVED\n", encoding="utf-8")
    res = cli("build", "--root", str(workspace), "--out", str(out), "--fail-if-changed")
    assert res.code == 1  # like a formatter: artifacts changed
    assert "plans/LANTERN-INDEX/status.json" in res.err
    after = identities(out)
    changed = {rel for rel in before if after[rel] != before[rel]}
    assert "plans/LANTERN-INDEX/status.json" in changed and "summary.md" in changed
    assert not {rel for rel in changed if rel.startswith("plans/") and not rel.startswith("plans/LANTERN-INDEX/")}
    status = json.loads((out / "plans/LANTERN-INDEX/status.json").read_text(encoding="utf-8"))
    assert {a["id"]: a["state"] for a in status["achievements"]}["1.2"] == "approved"


# -- pruning ------------------------------------------------------------------------------------------------

def test_stale_plan_artifacts_are_removed_and_nothing_else(cli, workspace, tmp_path):
    out = tmp_path / "ci-out"
    build(cli, workspace, "--out", str(out))
    build(cli, workspace)
    foreign = out / "plans" / "NOT-A-PLAN" / "keep.txt"  # something promptgen did not write
    foreign.parent.mkdir(parents=True)
    foreign.write_text("mine\n", encoding="utf-8")

    shutil.rmtree(workspace / "plans" / "EMBER-NOTES")
    res = cli("build", "--root", str(workspace), "--out", str(out), "--fail-if-changed")
    assert res.code == 1 and "plans/EMBER-NOTES/" in res.err
    assert not (out / "plans" / "EMBER-NOTES").exists()
    assert (out / "plans" / "ORBIT-SYNC" / "status.json").is_file()
    assert foreign.read_text(encoding="utf-8") == "mine\n"
    build(cli, workspace)
    assert not (workspace / ".promptgen" / "artifacts" / "plans" / "EMBER-NOTES").exists()
    assert "EMBER-NOTES" not in (out / "summary.md").read_text(encoding="utf-8")


def test_out_dir_inside_the_workspace_deletes_no_document(cli, workspace):
    """`--out .` on a workspace root: its `plans/` folder is the user's; pruning must not touch it."""
    docs = {p: p.read_bytes() for p in workspace.rglob("*") if p.is_file()}
    build(cli, workspace, "--out", str(workspace))
    build(cli, workspace, "--out", str(workspace))
    for path, data in docs.items():
        assert path.read_bytes() == data, path


def test_out_dir_keeps_foreign_files_named_like_plan_artifacts(cli, workspace, tmp_path):
    """A `plans/<name>/` folder of the `--out` folder that promptgen never wrote keeps its `next.md` and
    `status.json` (they are the user's), while a plan that promptgen did write is pruned when it goes."""
    out = tmp_path / "ci-out"
    mine = {out / "plans" / "NOTES" / name: f"mine: {name}\n" for name in ("next.md", "status.json")}
    for path, text in mine.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    build(cli, workspace, "--out", str(out))
    shutil.rmtree(workspace / "plans" / "EMBER-NOTES")
    build(cli, workspace, "--out", str(out))
    assert not (out / "plans" / "EMBER-NOTES").exists()
    for path, text in mine.items():
        assert path.read_text(encoding="utf-8") == text


# -- containment ----------------------------------------------------------------------------------------------

def snapshot(top: Path, skip: tuple[Path, ...]) -> dict[str, tuple]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if here / d not in skip]
        for name in dirnames:  # a new entry shows up by name; a folder's own mtime moves with .promptgen/
            out[(here / name).relative_to(top).as_posix()] = "dir"
        for name in filenames:
            st = (here / name).lstat()
            out[(here / name).relative_to(top).as_posix()] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return out


def test_nothing_written_outside_the_out_dir_and_the_state_dir(cli, workspace, tmp_path):
    out = tmp_path / "ci-out"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    skip = (out, workspace / ".promptgen")
    before = snapshot(tmp_path, skip)
    build(cli, workspace, "--out", str(out), cwd=cwd)  # cold
    assert snapshot(tmp_path, skip) == before
    with (workspace / "plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_32_01.md").open("a") as fh:
        fh.write("\nmore\n")
    before = snapshot(tmp_path, skip)
    build(cli, workspace, "--out", str(out), cwd=cwd)  # incremental
    cli("check", "--root", str(workspace), cwd=cwd)
    assert snapshot(tmp_path, skip) == before
    assert set(os.listdir(workspace / ".promptgen")) >= {"state.db", "manifest.bin"}


# -- fresh clone with a restored cache ------------------------------------------------------------------------

def test_fresh_clone_with_restored_state_is_all_hits(cli, workspace, tmp_path):
    old = workspace
    first = build(cli, old)
    old_check = cli("check", "--root", str(old), "--json")
    old_artifacts = artifact_files(old / ".promptgen" / "artifacts")

    # the clone: same bytes, new inodes and new mtimes; then `.promptgen/` restored from the cache
    new = tmp_path / "ci" / "checkout"
    later = 1_900_000_000
    for src in sorted(old.rglob("*")):
        rel = src.relative_to(old)
        if rel.parts[0] == ".promptgen" or not src.is_file():
            continue
        dst = new / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
        os.utime(dst, (later, later))
        assert dst.stat().st_ino != src.stat().st_ino
    shutil.copytree(old / ".promptgen", new / ".promptgen")

    outputs = []
    res = cli("build", "--root", str(new), "--json", "--fail-if-changed")  # full path (engine verifies)
    assert res.code == 0, res.err  # and no artifact had to be rewritten
    doc = res.json()
    outputs.append(res.out + res.err)
    assert doc["recomputed"] == []
    assert totals(doc) == (first["nodes_total"], 0, 0)
    again = cli("build", "--root", str(new), "--json")
    outputs.append(again.out + again.err)
    assert totals(again.json()) == (first["nodes_total"], 0, 0)
    new_check = cli("check", "--root", str(new), "--json")
    outputs.append(new_check.out + new_check.err)
    assert (new_check.code, new_check.out) == (old_check.code, old_check.out)
    ci_out = tmp_path / "ci" / "artifacts"
    outputs.append(json.dumps(build(cli, new, "--out", str(ci_out))))
    assert artifact_files(ci_out) == old_artifacts == artifact_files(new / ".promptgen" / "artifacts")

    needles = {str(old).encode(), os.path.realpath(old).encode()}
    for text in outputs:
        assert not any(n.decode() in text for n in needles)
    for top in (new / ".promptgen", ci_out):
        for path in top.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert not any(n in data for n in needles), path


def test_only_single_plan_folders_of_the_state_file_are_touched():
    """Group names come from a file on disk: a garbled one never names a folder outside `plans/`
    (no sweep there, no removal of the artifacts folder itself)."""
    from promptgen.artifacts import _plan_folder

    assert _plan_folder("plans/ORBIT-SYNC") and _plan_folder("plans/a.b")
    for name in ("plans/", "plans/.", "plans/..", "plans/a/b", "plans/../x", "summary", "graph", "plansX"):
        assert not _plan_folder(name), name

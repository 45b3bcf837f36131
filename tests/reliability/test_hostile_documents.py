"""Hostile documents, end to end through the CLI (a separate process, like a user runs it).

Workspaces full of documents a real corpus could contain or an attacker could plant: random encodings,
NUL bytes, CRLF / CR line ends, a 10 MB single-line document (over the 5 MiB cap), Markdown nested 10 000
levels deep, adversarial long lines under the cap, giant achievement ids, JSON bombs in parallel.json
(deep nesting, huge arrays, huge numbers), a dangling symlink and a symlink loop named like documents,
FIFOs named like documents, empty files. Every command exits 0 (check: 0 or 1) within a generous
timeout, prints no traceback, and the diagnostics carry the spec's codes (`encoding`,
`invalid-parallel-json`, `too-large`, `unreadable`, `empty-file`) with the workspace-relative path and
the line where one applies. The hostile documents must not hide the sound ones: the states of the
well-formed achievements are asserted too.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

TIMEOUT = 120  # seconds per command: generous, a hang or a quadratic blow-up still fails
CAP = 5 * 1024 * 1024

Z = "plans/ZOO"
SUB, EXE, FB = f"{Z}/subplans", f"{Z}/execution", f"{Z}/execution/feedbacks"
GIANT = "99999999999999999999.1"


class Run:
    def __init__(self, code: int, out: str, err: str, seconds: float) -> None:
        self.code, self.out, self.err, self.seconds = code, out, err, seconds

    def json(self):
        return json.loads(self.out)


def cli(*args: str, timeout: float = TIMEOUT) -> Run:
    t0 = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "promptgen", *args], capture_output=True, timeout=timeout,
                              env=dict(os.environ))
    except subprocess.TimeoutExpired:
        pytest.fail(f"promptgen {' '.join(args)} did not finish within {timeout} s (hang?)")
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    assert "Traceback (most recent call last)" not in out + err, err
    assert "internal error" not in err, err
    return Run(proc.returncode, out, err, time.monotonic() - t0)


def ok(*args: str, timeout: float = TIMEOUT) -> Run:
    res = cli(*args, timeout=timeout)
    assert res.code == 0, (args, res.code, res.err)
    return res


def put(root: Path, rel: str, data: bytes | str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def plan_text(feature: str, ids: list[str], newline: str = "\n") -> str:
    lines = [f"# PLAN: {feature}", "", "**Type**: PLAN", "**Status**: In Progress", "",
             "## 🎯 Desirable Achievements", ""]
    for i in ids:
        lines += [f"**Achievement {i}**: Work item {i}", "", "**Goal**: do it.", ""]
    lines += ["## 📝 Current Status & Handoff", "", "**What's Next**: see above"]
    return newline.join(lines) + newline


def subplan_text(feature: str, ach: str) -> str:
    return (f"# SUBPLAN: {ach}\n\n**Mother Plan**: PLAN_{feature}.md\n**Achievement**: {ach}\n"
            f"**Status**: In Progress\n\n## 🎯 Objective\n\nDo {ach}.\n")


def execution_text(feature: str, ach: str, status: str = "In Progress") -> str:
    code = ach.replace(".", "")
    return (f"# EXECUTION_TASK: {ach}\n\n**Subplan**: SUBPLAN_{feature}_{code}.md\n**Achievement**: {ach}\n"
            f"**Status**: {status}\n\n## 🔄 Iteration Log\n\n- step\n")


def diags_by_path(diags: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for d in diags:
        out.setdefault(d["path"], []).append(d)
    return out


def codes_at(diags: list[dict], path: str) -> set[str]:
    return {d["code"] for d in diags if d["path"] == path}


def states(status_doc: dict, plan: str) -> dict[str, str]:
    entry = next(p for p in status_doc["plans"] if p["name"] == plan)
    return {a["id"]: a["state"] for a in entry["achievements"]}


def assert_well_formed(diags: list[dict], root: Path) -> None:
    """Every diagnostic: documented keys, relative POSIX path, int-or-null line, no absolute path leak."""
    for d in diags:
        assert set(d) >= {"code", "severity", "path", "line", "achievement", "message"}, d
        assert d["severity"] in ("error", "warning", "info"), d
        assert isinstance(d["path"], str) and d["path"] and not os.path.isabs(d["path"]), d
        assert "\\" not in d["path"] and not d["path"].startswith("./"), d
        assert d["line"] is None or (isinstance(d["line"], int) and d["line"] >= 1), d
        assert str(root) not in d["message"], d
        assert d["code"] != "internal-error", d


# ------------------------------------------------------------------------------------------ the zoo


ZOO_IDS = ["0.1", "1.1", "1.2", "1.3", "2.1", "2.2", "3.1", "3.2", "4.1", "4.2", "5.1", GIANT]
NEXT_CHECKED = ("0.1", "1.3", "2.1", "2.2", GIANT)  # `next --achievement` runs for these (each is a process)


def make_zoo(root: Path) -> dict[str, tuple[str, int | None]]:
    """One plan whose documents are hostile in every way at once; returns {path: (code, line)} expected."""
    expect: dict[str, tuple[str, int | None]] = {}
    rnd = random.Random(20250101)
    # the PLAN itself has CRLF line ends and a BOM: every declaration must still be found
    put(root, f"{Z}/PLAN_ZOO.md", b"\xef\xbb\xbf" + plan_text("ZOO", ZOO_IDS, "\r\n").encode())
    # 0.1: sound documents (the control group)
    put(root, f"{SUB}/SUBPLAN_ZOO_01.md", subplan_text("ZOO", "0.1"))
    put(root, f"{EXE}/EXECUTION_TASK_ZOO_01_01.md", execution_text("ZOO", "0.1", "✅ Complete"))
    # 1.1: cp1252 SUBPLAN, bad byte on line 4
    put(root, f"{SUB}/SUBPLAN_ZOO_11.md", "# SUBPLAN: Café\n\n**Mother Plan**: PLAN_ZOO.md\n"
                                          "**Achievement**: 1.1 — déjà vu\n".encode("cp1252"))
    expect[f"{SUB}/SUBPLAN_ZOO_11.md"] = ("encoding", 1)
    # 1.2: UTF-16 SUBPLAN (with its BOM), EXECUTION of random bytes
    put(root, f"{SUB}/SUBPLAN_ZOO_12.md", subplan_text("ZOO", "1.2").encode("utf-16"))
    expect[f"{SUB}/SUBPLAN_ZOO_12.md"] = ("encoding", 1)
    put(root, f"{EXE}/EXECUTION_TASK_ZOO_12_01.md", b"\n\n\n" + b"\xff" + rnd.randbytes(4096))
    expect[f"{EXE}/EXECUTION_TASK_ZOO_12_01.md"] = ("encoding", 4)
    # 1.3: NUL bytes everywhere in a SUBPLAN and an EXECUTION, CR-only line ends in its APPROVED
    put(root, f"{SUB}/SUBPLAN_ZOO_13.md", subplan_text("ZOO", "1.3").replace("\n", "\x00\n").replace("S", "S\x00"))
    put(root, f"{EXE}/EXECUTION_TASK_ZOO_13_01.md", "\x00" * 100 + execution_text("ZOO", "1.3") + "\x00")
    put(root, f"{FB}/APPROVED_13.md", "# APPROVED: Achievement 1.3\r\n\r\n**Review Date**: 2025-02-02\r\n")
    put(root, f"{FB}/FIX_13.md", "# FIX REQUIRED: Achievement 1.3\r\r**Review Date**: 2025-03-03\r\r"
                                 "## Issues Found\r\r### Critical Issues (must fix)\r\r1. **CR only**\r")
    # 2.1: a 10 MB single-line EXECUTION (over the cap: not parsed, the node still exists)
    put(root, f"{SUB}/SUBPLAN_ZOO_21.md", subplan_text("ZOO", "2.1"))
    put(root, f"{EXE}/EXECUTION_TASK_ZOO_21_01.md", b"**Status**: " + b"x" * (10 * 1024 * 1024))
    expect[f"{EXE}/EXECUTION_TASK_ZOO_21_01.md"] = ("too-large", None)
    # 2.2: Markdown nested 10 000 levels deep (lists, quotes, headings, emphasis, links, fences)
    deep = "\n".join([
        "# SUBPLAN: deep", "", "**Mother Plan**: PLAN_ZOO.md", "**Achievement**: 2.2", "",
        "- " * 10_000 + "deep list item",
        "> " * 10_000 + "deep quote",
        "\n".join("  " * (i % 40) + "- item" for i in range(10_000)),
        "\n".join(">" * i + " q" for i in range(0, 10_000, 97)),
        "*" * 10_000 + "emphasis" + "*" * 10_000,
        "[" * 10_000 + "link" + "]" * 10_000 + "(" * 10_000 + ")" * 10_000,
        "#" * 10_000 + " not a heading",
        "```\n" * 5_001,
        "## 🔄 Active EXECUTION_TASKs", "", "| Execution | Status |", "| --- | --- |",
        "| 22_01 | x |" * 2_000, ""])
    put(root, f"{SUB}/SUBPLAN_ZOO_22.md", deep)
    # 3.1: empty APPROVED (existence counts), 3.2: white-space-only SUBPLAN
    put(root, f"{FB}/APPROVED_31.md", b"")
    expect[f"{FB}/APPROVED_31.md"] = ("empty-file", None)
    put(root, f"{SUB}/SUBPLAN_ZOO_32.md", b" \n\t\r\n  \n")
    expect[f"{SUB}/SUBPLAN_ZOO_32.md"] = ("empty-file", None)
    # 4.1: adversarial long lines just under the cap (regex back-tracking bait)
    bait = "\n".join([
        "# EXECUTION_TASK: bait", "**Achievement**: 4.1", "**Status**: In Progress", "",
        "**Achievement 4.1" + " " * 150_000,
        "- Achievement " + "1." * 75_000 + "1",
        "**" + "a" * 79 + ":" * 100_000,
        "Achievement " * 25_000 + "x",
        "## ✅ Completion " + "Final " * 25_000,
        "**Final Status**:" + " \t" * 75_000 + "Complete",
        "**Status**: " + "✅ " * 50_000, ""])
    assert len(bait.encode()) < CAP // 4
    put(root, f"{EXE}/EXECUTION_TASK_ZOO_41_01.md", bait)
    # the same bait in a PLAN (achievement section and handoff) and a FIX
    plan_bait = plan_text("BAIT", ["1.1"]).replace("## 📝 Current Status & Handoff",
                                                   bait.replace("# EXECUTION_TASK: bait", "")
                                                   + "\n## 📝 Current Status & Handoff\n" + bait)
    put(root, "plans/BAIT/PLAN_BAIT.md", plan_bait)
    put(root, "plans/BAIT/execution/feedbacks/FIX_11.md", "# FIX REQUIRED: Achievement 1.1\n\n"
        "## Issues Found\n\n### Critical Issues (must fix)\n\n" + "#### 1. **" + "x" * 150_000 + "\n"
        + "1. " * 75_000 + "\n### Minor Issues\n\n" + "- " * 75_000 + "\n@Go (" + "1" * 75_000 + "\n"
        + "`a.py:" + "9" * 75_000 + "\n")
    # 4.2: a giant code in a feedback name, and a document that names a giant id
    put(root, f"{FB}/APPROVED_{'9' * 60}.md", f"# APPROVED: Achievement {'9' * 30}.{'9' * 30}\n")
    put(root, f"{SUB}/SUBPLAN_ZOO_42.md", subplan_text("ZOO", "4.2").replace("**Achievement**: 4.2",
                                                                             f"**Achievement**: 4.{'2' * 5000}"))
    # the giant declared id gets a SUBPLAN and an APPROVED
    code = GIANT.replace(".", "")
    put(root, f"{SUB}/SUBPLAN_ZOO_{code}.md", subplan_text("ZOO", GIANT))
    put(root, f"{FB}/APPROVED_{code}.md", f"# APPROVED: Achievement {GIANT}\n**Review Date**: 2025-03-03\n")
    # a directory named like a document
    (root / f"{FB}/FIX_51.md").mkdir(parents=True)
    return expect


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("hostile") / "zoo"
    root.mkdir()
    expect = make_zoo(root)
    t0 = time.monotonic()
    build = ok("build", "--json", "--root", str(root))
    seconds = time.monotonic() - t0
    return {"root": root, "expect": expect, "build": build.json(), "seconds": seconds}


def test_zoo_builds_within_the_timeout_with_well_formed_diagnostics(zoo):
    assert zoo["seconds"] < TIMEOUT
    assert_well_formed(zoo["build"]["diagnostics"], zoo["root"])


@pytest.mark.parametrize("wanted", ["encoding", "too-large", "empty-file"])
def test_zoo_reading_diagnostics_carry_code_path_and_line(zoo, wanted):
    diags = zoo["build"]["diagnostics"]
    for rel, (code, line) in zoo["expect"].items():
        if code != wanted:
            continue
        mine = [d for d in diags if d["path"] == rel and d["code"] == code]
        assert len(mine) == 1, (rel, code, [d for d in diags if d["path"] == rel])
        assert mine[0]["severity"] == "warning"
        if line is not None:
            assert mine[0]["line"] == line, mine[0]


def test_zoo_too_large_document_is_still_a_node(zoo):
    root = zoo["root"]
    big = f"{EXE}/EXECUTION_TASK_ZOO_21_01.md"
    graph = json.loads(ok("graph", "--format", "json", "--root", str(root)).out)
    ids = {n["id"] for n in graph["nodes"]}
    assert f"execution:{big}" in ids
    doc = ok("status", "ZOO", "--json", "--root", str(root)).json()
    ach = next(a for a in doc["plans"][0]["achievements"] if a["id"] == "2.1")
    assert big in ach["executions"]


def test_zoo_states_of_sound_and_hostile_achievements(zoo):
    root = zoo["root"]
    doc = ok("status", "--json", "--root", str(root)).json()
    got = states(doc, "ZOO")
    assert set(got) == set(ZOO_IDS), "the CRLF+BOM PLAN must declare every achievement"
    assert got["0.1"] == "executions_done"
    for ach in ("1.1", "1.2", "2.2", "4.2"):  # hostile SUBPLANs are still SUBPLANs
        assert got[ach] in ("subplan_no_execution", "execution_active"), (ach, got[ach])
    assert got["1.3"] == "fix_pending"  # the CR-only FIX is dated after the CRLF APPROVED
    assert got["3.1"] == "approved"  # empty APPROVED: existence counts
    assert got[GIANT] == "approved"
    assert got["2.1"] == "execution_active"  # not parsed: open
    assert got["3.2"] in ("subplan_no_execution",)  # the empty SUBPLAN still exists


def test_zoo_every_reading_command_answers(zoo):
    root = str(zoo["root"])
    ok("status", "--root", root)
    ok("ready", "--json", "--root", root)
    ok("graph", "ZOO", "--format", "mermaid", "--root", root)
    res = cli("check", "--json", "--root", root)
    assert res.code in (0, 1), res.err
    assert_well_formed(res.json()["diagnostics"], zoo["root"])
    nxt = ok("next", "ZOO", "--json", "--root", root).json()
    assert nxt["plan"] == "ZOO"
    for ach in NEXT_CHECKED:
        prompt = ok("next", "ZOO", "--achievement", ach, "--root", root).out
        assert prompt.strip(), ach
        assert root not in prompt, "prompts name workspace-relative paths only"
    ok("next", "BAIT", "--root", root)
    ok("explain", "--last", "--root", root)


def test_zoo_second_build_is_all_hits(zoo):
    res = ok("build", "--json", "--root", str(zoo["root"])).json()
    assert res["recomputed"] == []
    assert res["diagnostics"] == zoo["build"]["diagnostics"]


# ------------------------------------------------------------------------------------------ symlinks


def test_dangling_symlink_named_like_a_document_is_unreadable(tmp_path):
    root = tmp_path / "ws"
    put(root, "plans/LINK/PLAN_LINK.md", plan_text("LINK", ["1.1"]))
    put(root, "plans/LINK/subplans/SUBPLAN_LINK_11.md", subplan_text("LINK", "1.1"))
    (root / "plans/LINK/execution").mkdir(parents=True)
    rel = "plans/LINK/execution/EXECUTION_TASK_LINK_11_01.md"
    os.symlink("gone.md", root / rel)
    outside = "plans/LINK/execution/EXECUTION_TASK_LINK_11_02.md"  # dangling AND outside: not followed
    os.symlink(tmp_path / "elsewhere" / "gone.md", root / outside)
    doc = ok("status", "--json", "--root", str(root)).json()
    assert_well_formed(doc["diagnostics"], root)
    mine = [d for d in doc["diagnostics"] if d["path"] == rel]
    assert [(d["code"], d["severity"]) for d in mine] == [("unreadable", "error")], mine
    assert [(d["code"], d["severity"]) for d in doc["diagnostics"] if d["path"] == outside] == [
        ("symlink-skipped", "info")]
    assert ok("status", "--json", "--root", str(root)).json() == doc


def _fixture_copy(dst: Path) -> Path:
    shutil.copytree(Path(__file__).resolve().parents[1] / "data" / "methodology-workspace", dst, symlinks=True)
    return dst


def test_symlink_loop_in_the_root_hides_nothing(tmp_path):
    """`archive -> archive` at the top: the entries sorted after it (plans/, subplans/) must still count."""
    clean = ok("status", "--json", "--root", str(_fixture_copy(tmp_path / "clean"))).json()
    root = _fixture_copy(tmp_path / "ws")
    shutil.rmtree(root / "archive")
    os.symlink("archive", root / "archive")
    doc = ok("status", "--json", "--root", str(root)).json()
    assert [p["name"] for p in doc["plans"]] == [p["name"] for p in clean["plans"]]
    assert doc["plans"] == clean["plans"]


def test_symlink_loop_named_plans_is_not_a_crash(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    os.symlink("plans", root / "plans")
    put(root, "subplans/SUBPLAN_X_11.md", subplan_text("X", "1.1"))
    ok("status", "--json", "--root", str(root))


def test_symlink_loop_named_like_a_document_is_not_a_crash(tmp_path):
    root = tmp_path / "ws"
    put(root, "plans/LOOP/PLAN_LOOP.md", plan_text("LOOP", ["1.1"]))
    (root / "plans/LOOP/subplans").mkdir()
    os.symlink("SUBPLAN_LOOP_11.md", root / "plans/LOOP/subplans/SUBPLAN_LOOP_11.md")
    doc = ok("status", "--json", "--root", str(root)).json()
    assert_well_formed(doc["diagnostics"], root)
    # The SUBPLAN exists but cannot be read (R-READ-FAIL): it is attached, with error `unreadable`.
    assert states(doc, "LOOP") == {"1.1": "subplan_no_execution"}
    assert any(d["code"] == "unreadable" and d["path"] == "plans/LOOP/subplans/SUBPLAN_LOOP_11.md"
               for d in doc["diagnostics"])


# ------------------------------------------------------------------------------------------ giant ids


def test_id_with_thousands_of_digits_does_not_break_the_plan(tmp_path):
    """An id longer than Python's int-parsing limit (4300 digits) in a PLAN and in parallel.json, and an
    execution number as long in a SUBPLAN's planned-executions table (rendered by `next`)."""
    root = tmp_path / "ws"
    huge = "1." + "7" * 5000
    put(root, "plans/HUGE/PLAN_HUGE.md", plan_text("HUGE", ["1.1", huge, "2.1"]))
    put(root, "plans/HUGE/subplans/SUBPLAN_HUGE_11.md", subplan_text("HUGE", "1.1") +
        "\n## 🔄 Active EXECUTION_TASKs\n\n| Execution | Status |\n| --- | --- |\n"
        f"| 11_01 | Planned |\n| 11_{'9' * 5000} | Planned |\n")
    put(root, "plans/HUGE/parallel.json", json.dumps({
        "plan_name": "HUGE", "parallelization_level": "level_1",
        "achievements": [{"achievement_id": "1.1", "dependencies": []},
                         {"achievement_id": huge, "dependencies": ["1.1"]},
                         {"achievement_id": "2.1", "dependencies": [huge, "3." + "3" * 5000]}]}))
    doc = ok("status", "--json", "--root", str(root)).json()
    assert_well_formed(doc["diagnostics"], root)
    got = states(doc, "HUGE")
    assert got["1.1"] == "subplan_no_execution" and got["2.1"] == "no_subplan"
    ok("next", "HUGE", "--root", str(root))
    assert "11_" + "9" * 5000 in ok("next", "HUGE", "--achievement", "1.1", "--root", str(root)).out
    ok("next", "HUGE", "--achievement", huge, "--root", str(root))
    ok("ready", "--json", "--root", str(root))


def test_huge_user_values_are_cut_in_messages(tmp_path):
    """A 4 MB `plan_name` (and other huge values quoted by messages) gives a short diagnostic, not a 4 MB one."""
    root = tmp_path / "ws"
    pointer = "1." + "5" * 100_000
    put(root, "plans/LONG/PLAN_LONG.md", plan_text("LONG", ["1.1"]).replace("see above", f"Achievement {pointer}"))
    put(root, "plans/LONG/subplans/SUBPLAN_LONG_11.md",
        subplan_text("LONG", "1.1").replace("PLAN_LONG.md", "P" * 1_000_000))
    put(root, "plans/LONG/parallel.json", json.dumps({
        "plan_name": "X" * 4_000_000, "parallelization_level": "L" * 100_000,
        "achievements": [{"achievement_id": "Z" * 100_000, "dependencies": []},
                         {"achievement_id": "1.1", "dependencies": ["q" * 100_000], "estimated_hours": "h" * 100_000}]}))
    res = ok("build", "--json", "--root", str(root))
    diags = res.json()["diagnostics"]
    assert_well_formed(diags, root)
    assert {"parallel-plan-name-mismatch", "unknown-parent", "handoff-unknown-id"} <= {d["code"] for d in diags}
    for d in diags:
        assert len(d["message"]) < 1000 and len(d["detail"] or "") < 1000, (d["code"], len(d["message"]))
    assert len(res.out) < 20_000
    assert any("XXXX…" in d["message"] for d in diags if d["code"] == "parallel-plan-name-mismatch")


# ------------------------------------------------------------------------------------------ JSON bombs


def _bomb_plans(root: Path) -> dict[str, str]:
    """{feature: expected detail of invalid-parallel-json}; each plan declares 1.1 and 1.2."""
    bombs = {
        "DEEP-ARRAY": ("[" * 200_000 + "]" * 200_000, "syntax"),
        "DEEP-OBJECT": ('{"a":' * 100_000 + "1" + "}" * 100_000, "syntax"),
        "DEEP-INSIDE": ('{"plan_name":"DEEP-INSIDE","parallelization_level":"level_1","achievements":'
                        '[{"achievement_id":"1.1","dependencies":' + "[" * 100_000 + "]" * 100_000 + "}]}",
                        "syntax"),
        "HUGE-ARRAY": (json.dumps({"plan_name": "HUGE-ARRAY", "parallelization_level": "level_2",
                                   "achievements": [{"achievement_id": f"1.{i}", "dependencies": [f"1.{i - 1}"]}
                                                    for i in range(1, 10_000)]}), "unknown-id"),
        "DUPLICATES": (json.dumps({"plan_name": "DUPLICATES", "parallelization_level": "level_2",
                                   "achievements": [{"achievement_id": "1.1", "dependencies": []}] * 10_000}),
                       "duplicate-id"),
        "BIG-NUMBER": ('{"plan_name":"BIG-NUMBER","parallelization_level":"level_1","achievements":[{'
                       '"achievement_id":"1.1","dependencies":[],"estimated_hours":' + "9" * 100_000 + "}]}",
                       "syntax"),
        "MANY-KEYS": ("{" + ",".join(f'"k{i}":{i}' for i in range(200_000)) + "}", "schema"),
        "LONG-STRING": ('{"plan_name":"' + "A" * 4_000_000 + '"}', "schema"),
        "NOT-UTF8": (b'{"plan_name":"NOT-UTF8\xff\xfe","achievements":[]}', "schema"),
        "EMPTY": ("", "syntax"),
    }
    expected = {}
    for feature, (text, detail) in bombs.items():
        put(root, f"plans/{feature}/PLAN_{feature}.md", plan_text(feature, ["1.1", "1.2"]))
        put(root, f"plans/{feature}/parallel.json", text)
        expected[feature] = detail
    return expected


def test_json_bombs_in_parallel_json(tmp_path):
    root = tmp_path / "ws"
    expected = _bomb_plans(root)
    build = ok("build", "--json", "--root", str(root)).json()
    diags = build["diagnostics"]
    assert_well_formed(diags, root)
    doc = ok("status", "--json", "--root", str(root)).json()
    for feature, detail in expected.items():
        path = f"plans/{feature}/parallel.json"
        mine = [d for d in diags if d["path"] == path and d["code"] == "invalid-parallel-json"]
        assert mine, (feature, [d for d in diags if d["path"] == path][:5])
        if detail is not None:
            assert detail in {d["detail"] for d in mine}, (feature, {d["detail"] for d in mine})
        entry = next(p for p in doc["plans"] if p["name"] == feature)
        assert entry["parallel"] is None or entry["parallel"]["valid"] is False, feature
        assert states(doc, feature) == {"1.1": "no_subplan", "1.2": "no_subplan"}
    ready = {p["name"]: p for p in ok("ready", "--json", "--root", str(root)).json()["plans"]}
    for feature in expected:
        assert ready[feature]["source"] == "invalid parallel.json", feature
    assert "NOT-UTF8" in expected and "encoding" in codes_at(diags, "plans/NOT-UTF8/parallel.json")


# ------------------------------------------------------------------------------------------ FIFOs


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifos_named_like_documents_never_hang(tmp_path):
    """Opening a FIFO without a writer blocks forever: discovery must never open one."""
    root = tmp_path / "ws"
    put(root, "plans/PIPE/PLAN_PIPE.md", plan_text("PIPE", ["1.1", "1.2"]))
    put(root, "plans/PIPE/subplans/SUBPLAN_PIPE_11.md", subplan_text("PIPE", "1.1"))
    for rel in ("plans/PIPE/subplans/SUBPLAN_PIPE_12.md", "plans/PIPE/parallel.json",
                "plans/PIPE/execution/feedbacks/APPROVED_11.md", "plans/FIFO-PLAN/PLAN_FIFO-PLAN.md",
                "subplans/SUBPLAN_PIPE_13.md"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(root / rel)
    for args in (("build", "--json"), ("status", "--json"), ("build", "--json"), ("check", "--json"),
                 ("next", "PIPE"), ("ready", "--json")):
        res = cli(*args, "--root", str(root), timeout=60)
        assert res.code in ((0, 1) if args[0] == "check" else (0,)), (args, res.err)
    doc = ok("status", "--json", "--root", str(root)).json()
    assert_well_formed(doc["diagnostics"], root)
    assert states(doc, "PIPE")["1.1"] == "subplan_no_execution"
    assert "FIFO-PLAN" not in {p["name"] for p in doc["plans"]} or states(doc, "FIFO-PLAN") == {}


# ------------------------------------------------------------------------------------------ empties


def test_empty_documents_of_every_kind(tmp_path):
    root = tmp_path / "ws"
    put(root, "plans/NIL/PLAN_NIL.md", b"")
    put(root, "plans/VOID/PLAN_VOID.md", plan_text("VOID", ["1.1"]))
    empties = ["plans/VOID/subplans/SUBPLAN_VOID_11.md", "plans/VOID/execution/EXECUTION_TASK_VOID_11_01.md",
               "plans/VOID/execution/feedbacks/FIX_11.md", "plans/VOID/execution/feedbacks/FIX_11_RESOLUTION.md"]
    for rel in empties:
        put(root, rel, b"")
    put(root, "plans/VOID/parallel.json", b"   \n")
    doc = ok("status", "--json", "--root", str(root)).json()
    diags = doc["diagnostics"]
    assert_well_formed(diags, root)
    for rel in empties + ["plans/NIL/PLAN_NIL.md"]:
        assert "empty-file" in codes_at(diags, rel), rel
    assert "no-achievements" in codes_at(diags, "plans/NIL/PLAN_NIL.md")
    par = [d for d in diags if d["path"] == "plans/VOID/parallel.json"]
    assert {(d["code"], d["detail"]) for d in par} == {("invalid-parallel-json", "syntax")}
    assert states(doc, "VOID") == {"1.1": "fix_pending"}
    assert states(doc, "NIL") == {}
    ok("next", "NIL", "--root", str(root))
    ok("next", "VOID", "--root", str(root))


# ------------------------------------------------------------------------------------------ names and state files


def test_names_that_are_not_utf8_are_skipped_with_a_warning(tmp_path):
    """A folder or a candidate whose name is not valid UTF-8 (os hands its bytes over as lone surrogates,
    which no JSON, SQLite text or report can hold) is skipped with a warning `encoding` whose path shows
    those bytes as %XX; everything else answers as without it."""
    clean = ok("status", "--json", "--root", str(_fixture_copy(tmp_path / "clean"))).json()
    root = _fixture_copy(tmp_path / "ws")
    raw = os.fsencode(root)
    os.makedirs(raw + b"/plans/\xff/HX")
    with open(raw + b"/plans/\xff/HX/PLAN_HX.md", "w", encoding="utf-8") as fh:
        fh.write(plan_text("HX", ["1.1"]))
    for name in (b"execution/EXECUTION_TASK_ORBIT-SYNC_11_01_\xe9.md", b"subplans/SUBPLAN_ORBIT-SYNC_\xff.md"):
        with open(raw + b"/plans/ORBIT-SYNC/" + name, "wb") as fh:
            fh.write(b"# not read\n")
    with open(raw + b"/plans/ORBIT-SYNC/notes-\xff.txt", "wb"):  # not a candidate: no warning
        pass
    for args in (("build", "--json"), ("status", "--json"), ("check", "--json"), ("build", "--json")):
        res = cli(*args, "--root", str(root))
        assert res.code in ((0, 1) if args[0] == "check" else (0,)), (args, res.err)
    doc = ok("status", "--json", "--root", str(root)).json()
    assert_well_formed(doc["diagnostics"], root)
    assert doc["plans"] == clean["plans"]
    skipped = sorted(d["path"] for d in doc["diagnostics"] if d["code"] == "encoding" and d["line"] is None)
    assert skipped == ["plans/%FF", "plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_11_01_%E9.md",
                       "plans/ORBIT-SYNC/subplans/SUBPLAN_ORBIT-SYNC_%FF.md"]


@pytest.mark.parametrize("rel", ["pyproject.toml", ".promptgen/config.toml", ".promptgen/discovery.bin",
                                 ".promptgen/state.db", ".promptgen/state.db.checked", ".promptgen/history.jsonl"])
def test_fifos_named_like_state_or_config_files_never_hang(tmp_path, rel):
    """Opening a FIFO without a writer blocks: configuration and state files are opened non-blocking and
    refused unless regular. A build after an edit ends with exit 0, or 4 when the history cannot be
    appended (a state file error), and the answers stay right."""
    clean = ok("status", "--json", "--root", str(_fixture_copy(tmp_path / "clean"))).json()
    root = _fixture_copy(tmp_path / "ws")
    ok("build", "--root", str(root))
    (root / rel).unlink(missing_ok=True)
    os.mkfifo(root / rel)
    path = root / "plans/ORBIT-SYNC/PLAN_ORBIT-SYNC.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    res = cli("build", "--json", "--root", str(root), timeout=60)
    assert res.code == (4 if rel.endswith("history.jsonl") else 0), res.err
    assert ok("status", "--json", "--root", str(root), timeout=60).json()["plans"] == clean["plans"]


def test_a_new_walk_warning_is_not_hidden_by_the_no_op_path(tmp_path):
    """A folder whose name is not UTF-8, or a link out of the root, changes no candidate file: the no-op
    path compares the walk's own diagnostics with the manifest's, so the warning appears at once."""
    root = _fixture_copy(tmp_path / "ws")
    first = ok("status", "--json", "--root", str(root)).json()
    os.makedirs(os.fsencode(root) + b"/plans/\xfe")
    os.symlink(tmp_path, root / "plans" / "outside-link")
    doc = ok("status", "--json", "--root", str(root)).json()
    new = [(d["code"], d["path"]) for d in doc["diagnostics"] if d not in first["diagnostics"]]
    assert sorted(new) == [("encoding", "plans/%FE"), ("symlink-skipped", "plans/outside-link")]
    assert doc["plans"] == first["plans"]
    assert ok("status", "--json", "--root", str(root)).json() == doc  # and the no-op path serves it next


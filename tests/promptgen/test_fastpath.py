"""The no-op fast path and manifest.bin (schema 2): answers as sections, stats as one byte comparison,
fallbacks. End to end through the CLI (separate processes), plus the manifest read back in-process."""
from __future__ import annotations

import json
import marshal
import os
import time
from pathlib import Path

from graph_cache.manifest import DIGESTS, STATS, Manifest, encode
from promptgen.stored_answers import ANSWERS, PLAN_SECTION, split_answers
from promptgen.scan import scan


def history(root: Path) -> list[dict]:
    lines = (root / ".promptgen" / "history.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def manifest(root: Path) -> Manifest:
    return Manifest.load(str(root / ".promptgen" / "manifest.bin"))


def ok(res):
    assert res.code == 0, res.err
    return res


def test_split_answers_keeps_keys_and_meaning():
    payload = {"global_key": b"k", "workspace": ".", "diag_summary": "s", "check_exit": 1, "artifacts": None,
               "diagnostics_json": b"[]", "status_json": b"{}", "check_json": b"{}", "check_text": b"",
               "status_by_plan": {"A": b"a", "B-2": b"b"}}
    small, sections = split_answers(payload)
    assert small == {"global_key": b"k", "workspace": ".", "diag_summary": "s", "check_exit": 1, "artifacts": None}
    assert sections == {**{n: payload[n] for n in ANSWERS}, PLAN_SECTION + "A": b"a", PLAN_SECTION + "B-2": b"b"}
    assert "status_by_plan" in payload  # the caller's dict is left alone


def test_manifest_holds_answers_as_sections_and_stats_in_walk_order(cli, workspace):
    ok(cli("build", "--root", str(workspace)))
    m = manifest(workspace)
    try:
        small = marshal.loads(m.payload)
        assert set(small) == {"global_key", "workspace", "diag_summary", "check_exit", "artifacts", "files_snapshot",
                              "walk_notes", "answers_key"}
        assert m.sections() == {}  # the answers live in answers.bin, named by its key
        answers = Manifest.load(str(workspace / ".promptgen" / "answers.bin"))
        try:
            assert answers.global_key == small["answers_key"]
            names = set(answers.sections())
        finally:
            answers.close()
        assert set(ANSWERS) <= names and PLAN_SECTION + "ORBIT-SYNC" in names
        current = scan(str(workspace / small["workspace"]))
        assert m.same_stats(current)  # the no-op's comparison: bytes, in the walk's order
        assert list(m.stats) == list(current) and set(m.digests) == set(current)
    finally:
        m.close()


def test_fast_answers_equal_full_answers(cli, workspace):
    root = str(workspace)
    ok(cli("build", "--root", root))
    for args in (("status", "--json"), ("status", "ORBIT-SYNC", "--json"), ("check",), ("check", "--json"),
                 ("build", "--json")):
        (workspace / ".promptgen" / "manifest.bin").unlink()  # the full path answers (and rewrites it)
        full = cli(*args, "--root", root)
        assert not history(workspace)[-1]["fast_path"]
        fast = cli(*args, "--root", root)
        assert history(workspace)[-1]["fast_path"], args
        if args[0] == "build":  # elapsed time and the recomputed list differ by nature
            f, g = full.json(), fast.json()
            assert g["recomputed"] == [] and g["diagnostics"] == f["diagnostics"], args
        else:
            assert (fast.out, fast.code) == (full.out, full.code), args
        assert fast.err == full.err == "", args


def test_touched_files_are_refreshed_keeping_the_answers(cli, workspace):
    root = str(workspace)
    answer = ok(cli("status", "--json", "--root", root)).out
    answers_bytes = (workspace / ".promptgen" / "answers.bin").read_bytes()
    m = manifest(workspace)
    key = marshal.loads(m.payload)["answers_key"]
    m.close()
    later = time.time() - 3600  # an hour ago: not racily clean
    for path in workspace.rglob("*.md"):
        if ".promptgen" not in path.parts:
            os.utime(path, (later, later))
    m = manifest(workspace)
    assert not m.same_stats(scan(root))
    m.close()
    assert ok(cli("status", "--json", "--root", root)).out == answer  # re-hashed, answered, refreshed
    assert history(workspace)[-1]["fast_path"]
    m = manifest(workspace)
    try:
        assert m.same_stats(scan(root))  # the next run is one byte comparison again
        assert marshal.loads(m.payload)["answers_key"] == key  # the same answers file, still named
    finally:
        m.close()
    assert (workspace / ".promptgen" / "answers.bin").read_bytes() == answers_bytes
    assert ok(cli("status", "--json", "--root", root)).out == answer
    assert history(workspace)[-1]["fast_path"]


def test_records_in_another_order_still_take_the_fast_path(cli, workspace):
    root = str(workspace)
    answer = ok(cli("status", "--json", "--root", root)).out
    path = workspace / ".promptgen" / "manifest.bin"
    m = manifest(workspace)
    stats = dict(reversed(list(m.stats.items())))
    blobs = [(STATS, marshal.dumps(stats, 2)), (DIGESTS, marshal.dumps(m.digests)), *sorted(m.sections().items())]
    data = encode(m.global_key, m.payload, m.counts_by_type, blobs)
    m.close()
    path.write_bytes(data)
    res = ok(cli("status", "--json", "--root", root))
    assert res.out == answer and res.err == "" and history(workspace)[-1]["fast_path"]


def test_unknown_plan_section_falls_back_to_the_full_cli(cli, workspace):
    root = str(workspace)
    ok(cli("build", "--root", root))
    runs = len(history(workspace))
    res = cli("status", "NO-SUCH-PLAN", "--json", "--root", root)
    assert res.code != 0 and "NO-SUCH-PLAN" in res.err  # the full CLI's error, not a fast answer
    assert not any(r["fast_path"] for r in history(workspace)[runs:])


def test_an_edit_after_the_manifest_falls_back(cli, workspace):
    root = str(workspace)
    ok(cli("build", "--root", root))
    doc = workspace / "plans" / "ORBIT-SYNC" / "execution" / "EXECUTION_TASK_ORBIT-SYNC_32_01.md"
    doc.write_bytes(doc.read_bytes() + b"\n")
    res = ok(cli("build", "--root", root, "--json"))
    assert res.json()["recomputed"] and not history(workspace)[-1]["fast_path"]


def test_write_prints_stored_bytes_as_the_text_layer_would(monkeypatch):
    import io
    import sys

    from promptgen import stored_answers

    answer = '{"title":"Café ✅"}\n'
    for encoding in ("utf-8", "UTF_8", "utf-16"):
        raw = io.BytesIO()
        out = io.TextIOWrapper(raw, encoding=encoding)
        out.write("before ")  # text already in the wrapper's buffer keeps its place
        monkeypatch.setattr(sys, "stdout", out)
        stored_answers.write(answer.encode())
        stored_answers.write("after\n")
        out.flush()
        assert raw.getvalue() == ("before " + answer + "after\n").encode(encoding), encoding


def test_console_script_exits_quickly_but_completely(cli, workspace, tmp_path):
    """The fast path leaves with os._exit (no interpreter tear-down) only as the console script, with
    stdout flushed and the exit code kept; a profiler or an in-process caller gets the normal exit."""
    import subprocess
    import sys

    import pytest

    from promptgen.entry import main

    root = str(workspace)
    ok(cli("build", "--root", root))
    full = (workspace / ".promptgen" / "manifest.bin").read_bytes()
    checked = cli("check", "--json", "--root", root)  # fast path, exit code 1 (warnings in the fixture)
    assert history(workspace)[-1]["fast_path"] and checked.code == 1 and checked.json()
    prof = tmp_path / "run.prof"
    res = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "promptgen", "status", "--json",
                          "--root", root], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and json.loads(res.stdout) and prof.stat().st_size > 0  # profile written
    assert (workspace / ".promptgen" / "manifest.bin").read_bytes() == full
    with pytest.raises(SystemExit) as exc:
        main(["status", "--json", "--root", root])  # a caller: SystemExit as always, not os._exit
    assert exc.value.code == 0


def test_answers_file_is_rewritten_only_when_the_answers_change(cli, workspace):
    """answers.bin (the answer sections) is kept by a build whose answers node is unchanged: an edit
    that changes no plan's status rewrites the manifest only. A status change rewrites both. A damaged
    answers file is not read back by builds: the fast path that finds it damaged warns, removes it and
    lets the full path answer, which writes it again."""
    root = str(workspace)
    ok(cli("build", "--root", root))
    answers = workspace / ".promptgen" / "answers.bin"
    manifest_file = workspace / ".promptgen" / "manifest.bin"
    first = (answers.stat().st_ino, answers.read_bytes())
    doc = workspace / "plans" / "ORBIT-SYNC" / "execution" / "EXECUTION_TASK_ORBIT-SYNC_32_01.md"
    doc.write_bytes(doc.read_bytes() + b"\n- an iteration note\n")
    before = manifest_file.stat().st_ino
    res = ok(cli("build", "--root", root, "--json"))
    assert res.json()["recomputed"] and "answers:workspace" not in res.json()["recomputed"]
    assert manifest_file.stat().st_ino != before  # rewritten (atomic replace: a new inode)
    assert (answers.stat().st_ino, answers.read_bytes()) == first  # kept as it was
    status_answer = ok(cli("status", "--json", "--root", root)).out
    assert history(workspace)[-1]["fast_path"]
    doc.write_bytes(doc.read_bytes().replace(b"In Progress", b"Complete"))
    res = ok(cli("build", "--root", root, "--json"))
    assert "answers:workspace" in res.json()["recomputed"]
    assert answers.read_bytes() != first[1]
    new_answer = ok(cli("status", "--json", "--root", root)).out
    assert history(workspace)[-1]["fast_path"] and new_answer != status_answer
    data = bytearray(answers.read_bytes())
    data[-10] ^= 0x20  # inside the last section: only its CRC can tell
    answers.write_bytes(bytes(data))
    doc.write_bytes(doc.read_bytes() + b"\n- another note\n")
    ok(cli("build", "--root", root))  # the same answers: the file is kept (its CRCs are not read back)
    assert answers.read_bytes() == bytes(data)
    res = ok(cli("status", "--json", "--root", root))  # the fast path finds the damage
    assert res.out == new_answer and "answers.bin" in res.err and not history(workspace)[-1]["fast_path"]
    assert answers.read_bytes() != bytes(data)  # removed, then written again by that full path
    res = ok(cli("status", "--json", "--root", root))
    assert res.out == new_answer and res.err == "" and history(workspace)[-1]["fast_path"]

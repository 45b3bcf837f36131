"""Run history (`.promptgen/history.jsonl`, bounded by `history_keep`) and `promptgen stats`."""
from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from promptgen import __version__

EXEC_32 = "plans/ORBIT-SYNC/execution/EXECUTION_TASK_ORBIT-SYNC_32_01.md"


def build(cli, root: Path, *extra: str) -> dict:
    res = cli("build", "--root", str(root), "--json", *extra)
    assert res.code == 0, res.err
    return res.json()


def records(root: Path) -> list[dict]:
    lines = (root / ".promptgen" / "history.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def set_keep(root: Path, keep: int) -> None:
    (root / ".promptgen").mkdir(exist_ok=True)
    (root / ".promptgen" / "config.toml").write_text(f"history_keep = {keep}\n", encoding="utf-8")


def edit(root: Path, note: str) -> None:
    with open(root / EXEC_32, "a", encoding="utf-8") as fh:
        fh.write(f"\n- {note}\n")


def test_each_build_appends_one_record_and_the_log_keeps_the_last_n(cli, workspace):
    set_keep(workspace, 3)
    docs = [build(cli, workspace)]            # 1 cold, full
    docs.append(build(cli, workspace))        # 2 no-op (fast path)
    edit(workspace, "first edit")
    docs.append(build(cli, workspace))        # 3 edit, full
    docs.append(build(cli, workspace))        # 4 no-op (fast path)
    docs.append(build(cli, workspace))        # 5 no-op (fast path)
    recs = records(workspace)
    assert len(recs) == 3
    assert [r["fast_path"] for r in recs] == [False, True, True]
    for rec, doc in zip(recs, docs[-3:]):
        assert rec["by_type"] == doc["by_type"]  # the same counts the build printed
        assert rec["version"] == __version__
        assert rec["duration_s"] > 0 and rec["time"] > 1.6e9
        assert rec["keep"] == 3
    assert recs[0]["phases"] and {"discover", "verify", "compute"} <= set(recs[0]["phases"])
    assert recs[1]["phases"] == {}
    assert sum(c["miss"] + c["cutoff"] for c in recs[0]["by_type"].values()) == len(docs[2]["recomputed"])


def test_fast_path_runs_alone_stay_bounded(cli, workspace):
    """Only no-op runs after the first build: the bound still holds (keep travels with the records)."""
    set_keep(workspace, 2)
    build(cli, workspace)
    for _ in range(5):
        assert build(cli, workspace)["recomputed"] == []
    recs = records(workspace)
    assert len(recs) == 2 and all(r["fast_path"] for r in recs)


def test_other_reading_commands_append_too(cli, workspace):
    build(cli, workspace)
    assert cli("status", "--root", str(workspace), "--json").code == 0     # fast path
    assert cli("next", "ORBIT-SYNC", "--root", str(workspace)).code == 0   # full path (no-op build)
    recs = records(workspace)
    assert [r["fast_path"] for r in recs] == [False, True, False]
    assert all(c["miss"] == c["cutoff"] == 0 for r in recs[1:] for c in r["by_type"].values())


def test_fast_path_never_blocks_on_the_lock_and_trims_later(cli, workspace):
    set_keep(workspace, 2)
    build(cli, workspace)
    build(cli, workspace)
    fd = os.open(workspace / ".promptgen" / "state.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another promptgen "holds" the state lock
        assert build(cli, workspace)["recomputed"] == []  # the no-op answers at once anyway
        assert len(records(workspace)) == 3  # appended, trim deferred
    finally:
        os.close(fd)
    build(cli, workspace)
    assert len(records(workspace)) == 2


def test_stats_match_the_builds_counts(cli, workspace):
    docs = [build(cli, workspace)]
    edit(workspace, "edit one")
    docs.append(build(cli, workspace))
    docs.append(build(cli, workspace))  # no-op
    edit(workspace, "edit two")
    docs.append(build(cli, workspace))

    res = cli("stats", "--root", str(workspace), "--json")
    assert res.code == 0, res.err
    st = res.json()
    assert st["runs"] == 4 and st["fast_path_runs"] == 1
    want: dict[str, dict[str, int]] = {}
    for doc in docs:
        for t, c in doc["by_type"].items():
            agg = want.setdefault(t, {"hit": 0, "miss": 0, "cutoff": 0})
            for k in agg:
                agg[k] += c[k]
    assert {t: {k: c[k] for k in ("hit", "miss", "cutoff")} for t, c in st["by_type"].items()} == want
    for t, c in st["by_type"].items():
        assert abs(c["hit_ratio"] - round(c["hit"] / (c["hit"] + c["miss"] + c["cutoff"]), 4)) < 1e-9
    hits = sum(c["hit"] for c in want.values())
    total = sum(sum(c.values()) for c in want.values())
    assert abs(st["hit_ratio"] - round(hits / total, 4)) < 1e-9
    means = [p["mean_s"] for p in st["slowest_phases"]]
    assert means == sorted(means, reverse=True) and {"discover", "engine"} <= {p["phase"] for p in st["slowest_phases"]}
    assert all(p["runs"] == 3 for p in st["slowest_phases"])  # the fast-path run times no phase
    assert st["mean_duration_s"] > 0

    recent = cli("stats", "--root", str(workspace), "--json", "--runs", "1").json()
    assert recent["runs"] == 1
    assert {t: {k: c[k] for k in ("hit", "miss", "cutoff")} for t, c in recent["by_type"].items()} == docs[-1]["by_type"]

    human = cli("stats", "--root", str(workspace))
    assert human.code == 0
    assert "hit ratio" in human.out and "prompt" in human.out and "slowest phases" in human.out


def test_stats_tolerates_torn_lines_and_empty_history(cli, workspace):
    empty = cli("stats", "--root", str(workspace), "--json")
    assert empty.code == 0 and empty.json()["runs"] == 0
    assert cli("stats", "--root", str(workspace)).code == 0
    build(cli, workspace)
    with open(workspace / ".promptgen" / "history.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"time": 1, "by_typ\n')  # a torn write
    st = cli("stats", "--root", str(workspace), "--json").json()
    assert st["runs"] == 1
    assert cli("stats", "--root", str(workspace), "--runs", "0").code == 2


def test_stats_skips_and_counts_records_of_another_shape(cli, workspace):
    build(cli, workspace)
    good = (workspace / ".promptgen" / "history.jsonl").read_text(encoding="utf-8")
    bad = ['[1, 2]', '"text"', 'null', '{"by_type": {"plan": 5}}', '{"by_type": {"plan": {"hit": "many"}}}',
           '{"by_type": {}, "phases": {"x": "y"}}', '{"by_type": {}, "phases": [1]}', '{"by_type": {}, "duration_s": "slow"}',
           '{"by_type": {}, "phases": {"x": NaN}}', '{"by_type": {"plan": {"hit": true}}}', '{"by_type": []}',
           '{"by_type": {}, "fast_path": "yes"}', '{"by_type": {}, "keep": ' + "9" * 5000 + '}', "{torn",
           '{"by_type": {"\\ud800": {"hit": 1}}}']  # a lone surrogate: valid JSON, not printable as UTF-8
    (workspace / ".promptgen" / "history.jsonl").write_text(good + "\n".join(bad) + "\n\n" + good, encoding="utf-8")
    res = cli("stats", "--root", str(workspace), "--json")
    assert res.code == 0 and res.err == "", res.err
    st = res.json()
    assert st["runs"] == 2 and st["skipped_records"] == len(bad)
    assert cli("stats", "--root", str(workspace), "--json", "--runs", "1").json()["skipped_records"] == 0
    human = cli("stats", "--root", str(workspace))
    assert human.code == 0 and f"skipped {len(bad)} invalid record(s)" in human.out


def test_dry_run_appends_nothing(cli, workspace):
    build(cli, workspace)
    edit(workspace, "pending")
    assert cli("build", "--root", str(workspace), "--dry-run").code == 0
    assert len(records(workspace)) == 1

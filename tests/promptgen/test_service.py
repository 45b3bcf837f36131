"""`service.build`'s outcome keeps the state file open for lazy output reads until `close`."""
from __future__ import annotations

import sqlite3

import pytest

from promptgen import service


def test_an_outcome_reads_outputs_lazily_until_closed(workspace):
    outcome = service.build(str(workspace))
    assert outcome.statuses  # decoded from state.db on first use
    outcome.close()
    with pytest.raises(sqlite3.ProgrammingError):  # closed: no connection left behind
        outcome.store._conn.execute("SELECT 1")
    outcome.close()  # twice is harmless


def test_the_table_counts_diagnostics_without_decoding_them(workspace):
    """A plain build's table needs the counts per severity only: they come with the answers, and the
    diagnostics list (500 KB of JSON at 10k documents) is decoded only when an output lists it."""
    outcome = service.build(str(workspace))
    try:
        assert "diagnostics:" in outcome.table_text()
        assert outcome.known_diagnostics is None  # not decoded for the table
        counts: dict[str, int] = {}
        for d in outcome.diagnostics:  # decoded now, once
            counts[d["severity"]] = counts.get(d["severity"], 0) + 1
        assert outcome.known_diagnostics is not None and counts
        assert outcome.collected.answers.diag_summary() == counts
        assert outcome.diag_summary() == counts
    finally:
        outcome.close()


def test_the_write_probe_never_follows_a_link_planted_under_its_name(workspace, tmp_path):
    """`.promptgen/.write-probe.<pid>.tmp` already there (a dead process's with a reused PID, or a
    planted symbolic link): it is removed, never written through."""
    import os

    from promptgen.config import load_config

    cfg = load_config(str(workspace))
    os.makedirs(cfg.state_dir, exist_ok=True)
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    probe = os.path.join(cfg.state_dir, f".write-probe.{os.getpid()}.tmp")
    os.symlink(outside, probe)
    service.ensure_state_dir(cfg)
    assert outside.read_text() == "keep me" and not os.path.lexists(probe)

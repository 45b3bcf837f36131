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

"""Hostile values in `.promptgen/config.toml`: infinities, NaN, integers over Python's 4300-digit
int-parsing limit, huge strings. Each is a configuration error: exit 2, one short line naming the file,
no traceback (through the CLI, in a separate process)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

CASES = {
    "size-cap-inf": "size_cap_mib = inf",
    "size-cap-nan": "size_cap_mib = nan",
    "lock-timeout-nan": "lock_timeout = nan",
    "history-keep-5000-digits": "history_keep = " + "9" * 5000,
    "history-keep-huge-string": 'history_keep = "' + "k" * 1_000_000 + '"',
    "workspace-huge-string": 'workspace = "' + "w" * 100_000 + '"',
    "jobs-zero": "jobs = 0",
    "jobs-float": "jobs = 2.5",
    "jobs-bool": "jobs = true",
}


@pytest.mark.parametrize("case", CASES)
def test_bad_config_value_is_a_one_line_config_error(tmp_path, case):
    (tmp_path / ".promptgen").mkdir()
    (tmp_path / ".promptgen" / "config.toml").write_text(CASES[case] + "\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "promptgen", "status", "--json", "--root", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert proc.returncode == 2, proc.stderr[:500]
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and ".promptgen/config.toml" in lines[0], proc.stderr[:500]
    assert len(lines[0]) < 400 + len(str(tmp_path)), lines[0][:500]

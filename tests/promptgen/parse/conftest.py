"""Shared fixtures of the parser tests: the fixture workspace (tests/data only) and strict mode."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from promptgen.parse import common

DATA = Path(__file__).resolve().parents[2] / "data"
WS = DATA / "methodology-workspace"
EXPECTED = json.loads((DATA / "expected.json").read_text(encoding="utf-8"))

# Codes a parser may emit (everything else belongs to resolution / workflow).
PARSER_CODES = {"encoding", "empty-file", "too-large", "unreadable", "missing-parent", "unknown-parent",
                "missing-status", "status-conflict", "invalid-parallel-json", "parallel-field-type",
                "parallel-plan-name-mismatch"}

SUBPLAN_NAME = re.compile(r"SUBPLAN_([A-Z0-9][A-Z0-9-]*)_(\d+)(_ARCHIVED)?\.md$")
EXEC_NAME = re.compile(r"EXECUTION_TASK_([A-Z0-9][A-Z0-9-]*)_(\d+)_(\d+)(?:_([A-Z0-9]+))?\.md$")
FEEDBACK_NAME = re.compile(r"(APPROVED|FIX|SKIPPED)_(\d+)(_RESOLUTION)?\.md$")


@pytest.fixture(autouse=True)
def strict_parsers(monkeypatch):
    """Parser bugs must raise in tests instead of becoming `unreadable` diagnostics."""
    monkeypatch.setattr(common, "STRICT", True)


def rel(path: Path) -> str:
    return path.relative_to(WS).as_posix()


def files(pattern: str) -> list[Path]:
    return sorted(WS.rglob(pattern))


def expected_diags(path: str) -> set[tuple[str, str]]:
    """(severity, code) of the parser-level diagnostics expected.json lists for `path`."""
    out = set()
    for plan in EXPECTED["plans"]:
        for d in plan["diagnostics"]:
            if d["file"] == path and d["code"] in PARSER_CODES:
                out.add((d["severity"], d["code"]))
    return out


def warnings_and_errors(doc) -> set[tuple[str, str]]:
    return {(d.severity, d.code) for d in doc.diagnostics if d.severity != "info"}


def md(text: str) -> bytes:
    """Inline test documents are written with textwrap-free literal strings; encode them."""
    return text.encode("utf-8")

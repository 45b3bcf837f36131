"""`promptgen check` end to end: the section-10 diagnostics, the three output formats, exit codes, and the
no-op fast path printing exactly what the full path prints."""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from promptgen.report import CheckReport
from fixture_match import match

# METHODOLOGY section 10: the only codes a tool may report as warning or error.
SECTION_10 = {
    "error": {"no-achievements", "ambiguous-id", "invalid-parallel-json", "unknown-achievement", "unreadable"},
    "warning": {"ambiguous-declaration", "ambiguous-id-resolved", "orphan-file", "id-content-mismatch", "encoding",
                "empty-file", "too-large", "missing-parent", "unknown-parent", "missing-status", "status-conflict",
                "duplicate-file", "archived-only", "extra-plan-file", "ambiguous-feedback-dir",
                "handoff-unknown-id", "stale-handoff", "fix-after-approval", "conflicting-feedback",
                "resolution-without-fix", "execution-without-subplan", "unrecognized-name",
                "parallel-field-type", "parallel-plan-name-mismatch", "parallel-missing-achievement"},
}
TEXT_LINE = re.compile(r"^(?P<path>[^\s:][^:]*?)(?::(?P<line>\d+))?: (?P<severity>error|warning|info) "
                       r"(?P<code>[a-z0-9-]+) (?P<rest>.+)$")
TEXT_TOTAL = re.compile(r"^(\d+) error\(s\), (\d+) warning\(s\)$")
GITHUB_LINE = re.compile(r"^::(?P<level>error|warning|notice) file=(?P<file>[^,:]+)(?:,line=(?P<line>\d+))?::"
                         r"(?P<message>.+)$")
ORBIT = "plans/ORBIT-SYNC"
FIXTURE = Path(__file__).resolve().parents[1] / "data" / "methodology-workspace"


def _orbit_only(root: Path, *, fix_parallel: bool, keep_old_copy: bool) -> Path:
    """A workspace holding only ORBIT-SYNC: one warning (parallel-field-type) unless fixed, an info
    (ignored-file, the ORBIT-SYNC-old copy) unless removed, and no error."""
    shutil.copytree(FIXTURE / ORBIT, root / ORBIT)
    if fix_parallel:
        par = root / ORBIT / "parallel.json"
        par.write_bytes(par.read_bytes().replace(b'"estimated_hours": "3-4"', b'"estimated_hours": 4'))
    if not keep_old_copy:
        shutil.rmtree(root / ORBIT / "ORBIT-SYNC-old")
    return root


def _whole_fixture(root: Path) -> Path:
    """The fixture workspace: 5 errors, 20 warnings, infos."""
    shutil.copytree(FIXTURE, root)
    return root


KINDS = {
    "errors": _whole_fixture,
    "warnings_only": lambda root: _orbit_only(root, fix_parallel=False, keep_old_copy=True),
    "info_only": lambda root: _orbit_only(root, fix_parallel=True, keep_old_copy=True),
    "clean": lambda root: _orbit_only(root, fix_parallel=True, keep_old_copy=False),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """One already-built workspace of each kind, shared by the tests that only read them."""
    from promptgen import service

    roots = {}
    for kind, make in KINDS.items():
        root = make(tmp_path_factory.mktemp("built") / kind)
        service.build(str(root))
        roots[kind] = root
    return roots


class Res:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def run(capsys, monkeypatch):
    """`promptgen ARGS` in this process, exactly like the console script (fast path, else the CLI)."""
    from promptgen.cli import run as cli_run
    from promptgen.fastpath import try_run

    def _run(*args: str, cwd: Path | None = None) -> Res:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = try_run(list(args))
        if code is None:
            code = cli_run(list(args))
        out, err = capsys.readouterr()
        return Res(code, out, err)

    return _run


def last_history(root: Path) -> dict:
    lines = (root / ".promptgen" / "history.jsonl").read_text(encoding="utf-8").splitlines()
    return json.loads(lines[-1])


def all_hits(record: dict) -> bool:
    return all(c["miss"] == 0 and c["cutoff"] == 0 for c in record["by_type"].values())


# -- contents -----------------------------------------------------------------------------------------

def test_json_reports_exactly_the_section_10_errors_and_warnings(run, built, expected):
    res = run("check", "--root", str(built["errors"]), "--json")
    assert res.code == 1, res.err  # the fixture has errors
    doc = res.json()
    diags = doc["diagnostics"]
    want = [d for p in expected["plans"] for d in p["diagnostics"]] + expected["workspace_diagnostics"]
    assert match(diags, want) == []
    assert doc["errors"] == sum(d["severity"] == "error" for d in diags) == sum(d["severity"] == "error" for d in want)
    assert doc["warnings"] == sum(d["severity"] == "warning" for d in diags) == sum(
        d["severity"] == "warning" for d in want)
    for d in diags:
        assert {"code", "severity", "path", "line", "achievement", "message"} <= set(d)
        assert d["severity"] in ("error", "warning", "info")
        if d["severity"] != "info":
            assert d["code"] in SECTION_10[d["severity"]], d  # anything else must be info
        assert d["line"] is None or (isinstance(d["line"], int) and d["line"] >= 1)
        assert not os.path.isabs(d["path"]) and "\\" not in d["path"]
        assert isinstance(d["message"], str) and d["message"]


def test_same_errors_and_warnings_as_status_json(run, built):
    root = str(built["errors"])
    check = run("check", "--root", root, "--json").json()["diagnostics"]
    status = run("status", "--root", root, "--json").json()["diagnostics"]

    def contract(diags):
        return sorted((d["code"], d["severity"], d["path"], d["line"], d.get("achievement"))
                      for d in diags if d["severity"] in ("error", "warning"))

    assert contract(check) == contract(status)
    assert contract(check)


def test_text_lines_follow_the_json(run, built):
    root = str(built["errors"])
    diags = run("check", "--root", root, "--json").json()["diagnostics"]
    res = run("check", "--root", root)
    assert res.code == 1
    lines = res.out.splitlines()
    assert len(lines) == len(diags) + 1
    for line, d in zip(lines, diags):
        m = TEXT_LINE.match(line)
        assert m, line
        assert (m["path"], int(m["line"]) if m["line"] else None, m["severity"], m["code"]) == (
            d["path"], d["line"], d["severity"], d["code"])
        assert line.endswith(d["message"])
    total = TEXT_TOTAL.match(lines[-1])
    assert total and (int(total[1]), int(total[2])) == (
        sum(d["severity"] == "error" for d in diags), sum(d["severity"] == "warning" for d in diags))


def test_github_annotations(run, built):
    root = str(built["errors"])
    diags = run("check", "--root", root, "--json").json()["diagnostics"]
    res = run("check", "--root", root, "--format", "github")
    assert res.code == 1
    lines = res.out.splitlines()
    assert len(lines) == len(diags)
    level = {"error": "error", "warning": "warning", "info": "notice"}
    for line, d in zip(lines, diags):
        m = GITHUB_LINE.match(line)
        assert m, line
        assert m["level"] == level[d["severity"]]
        assert m["file"] == d["path"]
        assert (int(m["line"]) if m["line"] else None) == d["line"]
        assert m["message"].startswith(d["code"] + ": ")
    assert "::error file=plans/EMBER-NOTES/PLAN_EMBER-NOTES.md::no-achievements: " in res.out
    assert "::warning file=plans/ORBIT-SYNC/parallel.json,line=9::parallel-field-type: " in res.out


def test_github_escaping_and_repository_relative_paths(tmp_path, monkeypatch):
    diag = {"code": "orphan-file", "severity": "warning", "path": "plans/a,b/x:y.md", "line": 3,
            "achievement": None, "message": "50% done\nsecond line"}
    assert CheckReport([diag]).github() == (
        "::warning file=plans/a%2Cb/x%3Ay.md,line=3::orphan-file: 50%25 done%0Asecond line")
    plain = {**diag, "path": "plans/X/PLAN_X.md", "message": "m"}
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    nested = CheckReport([plain], workspace_dir=str(tmp_path / "docs" / "ws"))
    assert nested.github() == "::warning file=docs/ws/plans/X/PLAN_X.md,line=3::orphan-file: m"
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path / "docs"))
    assert nested.github().startswith("::warning file=ws/plans/X/PLAN_X.md,")
    outside = CheckReport([plain], workspace_dir=str(tmp_path.parent / "elsewhere"))
    assert outside.github().startswith("::warning file=plans/X/PLAN_X.md,")  # not under the checkout


# -- exit codes -----------------------------------------------------------------------------------------

def test_errors_exit_1_in_every_format(run, built):
    root = str(built["errors"])
    for args in ((), ("--json",), ("--format", "github"), ("--format", "text"), ("--strict",)):
        assert run("check", "--root", root, *args).code == 1, args


def test_warnings_pass_unless_strict(run, built):
    root = str(built["warnings_only"])
    res = run("check", "--root", root)
    assert res.code == 0, res.out + res.err
    assert "plans/ORBIT-SYNC/parallel.json:9: warning parallel-field-type " in res.out
    assert res.out.splitlines()[-1] == "0 error(s), 1 warning(s)"
    doc = run("check", "--root", root, "--json").json()
    assert (doc["errors"], doc["warnings"]) == (0, 1)
    assert run("check", "--root", root, "--strict").code == 1
    assert run("check", "--root", root, "--json", "--strict").code == 1
    gh = run("check", "--root", root, "--format", "github", "--strict")
    assert gh.code == 1
    assert "::error file=plans/ORBIT-SYNC/parallel.json,line=9::parallel-field-type: " in gh.out
    assert run("check", "--root", root, "--format", "github").out.startswith("::")


def test_info_never_fails(run, built):
    root = str(built["info_only"])
    doc = run("check", "--root", root, "--json").json()
    assert doc["diagnostics"] and {d["severity"] for d in doc["diagnostics"]} == {"info"}
    assert (doc["errors"], doc["warnings"]) == (0, 0)
    for args in ((), ("--strict",), ("--format", "github", "--strict")):
        assert run("check", "--root", root, *args).code == 0, args


def test_clean_workspace(run, built):
    root = str(built["clean"])
    res = run("check", "--root", root)
    assert (res.code, res.out) == (0, "0 error(s), 0 warning(s)\n")
    doc = run("check", "--root", root, "--json").json()
    assert (doc["diagnostics"], doc["errors"], doc["warnings"]) == ([], 0, 0)
    gh = run("check", "--root", root, "--format", "github", "--strict")
    assert (gh.code, gh.out) == (0, "")


@pytest.mark.parametrize("args", [("--format", "xml"), ("--bogus",), ("--strict", "extra-argument")])
def test_usage_errors_exit_2(run, built, args):
    res = run("check", "--root", str(built["errors"]), *args)
    assert res.code == 2, (res.out, res.err)
    assert res.out == ""
    assert res.err.startswith("promptgen: ")


def test_usage_error_as_a_process(cli, tmp_path):
    res = cli("check", "--root", str(tmp_path / "nowhere"))
    assert res.code == 2 and "nowhere" in res.err and res.out == ""
    assert cli("check", "--format", "xml", cwd=tmp_path).code == 2


# -- fast path == full path (separate processes, like users run it) ---------------------------------------

def _check_twice(cli, root: Path, *args: str, cwd=None):
    """Run `check ARGS` twice: the second run must be served from the manifest (fast path)."""
    first = cli("check", *args, cwd=cwd)
    second = cli("check", *args, cwd=cwd)
    assert last_history(root)["fast_path"] is True, "the second run did not take the fast path"
    return first, second


@pytest.mark.parametrize("kind", ["errors", "warnings_only"])
def test_fast_path_prints_what_the_full_path_prints(cli, tmp_path, kind):
    root = KINDS[kind](tmp_path / kind)
    assert not (root / ".promptgen").exists()
    first, second = _check_twice(cli, root, "--root", str(root))  # the first run builds a never-built root
    assert first.code == (1 if kind == "errors" else 0)
    assert (second.code, second.out) == (first.code, first.out)
    fast_json = cli("check", "--root", str(root), "--json")
    assert last_history(root)["fast_path"] is True
    # `--format text` is never served by the fast path: a full (all-hit) build answers it
    full_json = cli("check", "--root", str(root), "--json", "--format", "text")
    assert last_history(root)["fast_path"] is False and all_hits(last_history(root))
    assert (fast_json.code, fast_json.out) == (full_json.code, full_json.out) and fast_json.json()["diagnostics"]


def test_fast_path_after_an_edit_and_from_inside_the_workspace(cli, workspace):
    cli("check", "--root", str(workspace))
    target = workspace / "plans/EMBER-NOTES/PLAN_EMBER-NOTES.md"
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace("**Achievement 1**: Collect", "**Achievement 1.1**: Collect"), encoding="utf-8")
    full = cli("check", "--root", str(workspace), "--format", "text")  # rebuilds the edited plan
    assert last_history(workspace)["fast_path"] is False
    assert "no-achievements" not in full.out and full.code == 1
    fast = cli("check", cwd=workspace / "plans")  # the root is found upwards
    assert last_history(workspace)["fast_path"] is True
    assert (fast.code, fast.out) == (full.code, full.out)

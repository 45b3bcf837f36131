"""The pre-commit hooks of `.pre-commit-hooks.yaml`, run by the real `pre-commit` in temporary git repositories.

pre-commit installs hooks from a *committed* repository. The project checkout must not be committed to,
so a module fixture copies what `pip install` needs (package sources, pyproject, README, the hooks file)
into a temporary repository and commits it there.

- `pre-commit try-repo HOOK_REPO HOOK --all-files` (what a user runs to try the hooks) installs the hook
  environment into a store of its own every time (it ignores PRE_COMMIT_HOME), so only one test uses it.
- The other tests use a `.pre-commit-config.yaml` naming the same repository and commit, with
  PRE_COMMIT_HOME shared by the module: the environment is installed once.

Installing the environment needs the package index (pip). Without `pre-commit` (or git) the tests skip,
except under CI=true where that is a failure.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
FIXTURE = PROJECT / "tests" / "data" / "methodology-workspace"
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"
HOOK_REPO_FILES = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "promptgen", "graph_cache")
ORBIT = "plans/ORBIT-SYNC"
EMBER_PLAN = "plans/EMBER-NOTES/PLAN_EMBER-NOTES.md"
TIMEOUT = 900  # the first install of the hook environment downloads the dependencies


def _env(**extra: str) -> dict[str, str]:
    """The environment without GIT_* variables (tests may run inside a git hook), a fixed identity."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k not in ("SKIP", "PRE_COMMIT_HOME")}
    env.update(GIT_AUTHOR_NAME="promptgen tests", GIT_AUTHOR_EMAIL="tests@example.invalid",
               GIT_COMMITTER_NAME="promptgen tests", GIT_COMMITTER_EMAIL="tests@example.invalid",
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    env.update(extra)
    return env


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
                          cwd=repo, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def commit_all(repo: Path, message: str = "snapshot") -> str:
    if not (repo / ".git").exists():
        git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


class HookRepo:
    """The committed copy of the project, and the background `try-repo` run started as soon as it exists."""

    def __init__(self, path: Path, rev: str) -> None:
        self.path, self.rev = path, rev
        self.try_repo: subprocess.Popen | None = None
        self.try_repo_log: Path | None = None

    def start_try_repo(self, project: Path) -> None:
        """`pre-commit try-repo` installs the hook environment into a private store (PRE_COMMIT_HOME is not
        used): running it while the other tests install theirs halves the module's wall time."""
        self.try_repo_log = project.parent / "try-repo.log"
        with open(self.try_repo_log, "wb") as log:
            self.try_repo = subprocess.Popen(
                [str(PRE_COMMIT), "try-repo", str(self.path), "promptgen-check", "--all-files", "--color", "never"],
                cwd=project, stdout=log, stderr=subprocess.STDOUT,
                env=_env(PRE_COMMIT_HOME=str(project.parent / "unused-home")))

    def try_repo_result(self) -> tuple[int, str]:
        assert self.try_repo is not None and self.try_repo_log is not None
        code = self.try_repo.wait(timeout=TIMEOUT)
        return code, self.try_repo_log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory):
    """A committed copy of this project's installable files; also starts the `try-repo` run."""
    missing = [tool for tool, ok in (("pre-commit", PRE_COMMIT.is_file()), ("git", shutil.which("git"))) if not ok]
    if missing:
        reason = f"{' and '.join(missing)} not available (pre-commit comes with: pip install -e '.[dev]')"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    path = tmp_path_factory.mktemp("hook-repo")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in HOOK_REPO_FILES:
        src = PROJECT / name
        if src.is_dir():
            shutil.copytree(src, path / name, ignore=ignore)
        else:
            shutil.copy2(src, path / name)
    repo = HookRepo(path, commit_all(path, "hooks under test"))
    project = user_repo(tmp_path_factory.mktemp("try-repo") / "project", errors=True)
    commit_all(project)
    repo.start_try_repo(project)
    yield repo
    if repo.try_repo is not None and repo.try_repo.poll() is None:
        repo.try_repo.kill()
        repo.try_repo.wait()


@pytest.fixture(scope="module")
def pc_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def user_repo(path: Path, *, errors: bool, sub: str = "", config_toml: str | None = None) -> Path:
    """A git repository with a methodology workspace at `sub` (the root when empty), committed.

    errors=True: the whole fixture workspace (5 errors); else ORBIT-SYNC alone, cleaned of its warning.
    """
    ws = path / sub if sub else path
    if errors:
        shutil.copytree(FIXTURE, ws)
    else:
        shutil.copytree(FIXTURE / ORBIT, ws / ORBIT)
        shutil.rmtree(ws / ORBIT / "ORBIT-SYNC-old")
        par = ws / ORBIT / "parallel.json"
        par.write_bytes(par.read_bytes().replace(b'"estimated_hours": "3-4"', b'"estimated_hours": 4'))
    # promptgen's state must stay out of git, else the hooks "modify files" (docs/ci.md)
    (path / ".gitignore").write_text("**/.promptgen/*\n!**/.promptgen/config.toml\n", encoding="utf-8")
    if config_toml is not None:
        (path / ".promptgen").mkdir()
        (path / ".promptgen" / "config.toml").write_text(config_toml, encoding="utf-8")
    (path / "README.md").write_text("a project with plans\n", encoding="utf-8")
    return path


def write_config(repo: Path, hook_repo: HookRepo, hooks: list[dict]) -> None:
    """`.pre-commit-config.yaml` (JSON is YAML) using the hook repository at its commit; committed."""
    config = {"repos": [{"repo": str(hook_repo.path), "rev": hook_repo.rev, "hooks": hooks}]}
    (repo / ".pre-commit-config.yaml").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    commit_all(repo)


def pre_commit(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(PRE_COMMIT), *args, "--color", "never"], cwd=repo, capture_output=True, text=True,
                          env=_env(PRE_COMMIT_HOME=str(home)), timeout=TIMEOUT)
    proc.output = proc.stdout + proc.stderr  # type: ignore[attr-defined]
    return proc


def run_hooks(repo: Path, home: Path) -> subprocess.CompletedProcess:
    return pre_commit(repo, home, "run", "--all-files")


def history(state_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (state_dir / "history.jsonl").read_text(encoding="utf-8").splitlines()]


def all_hits(record: dict) -> bool:
    return all(c["miss"] == 0 and c["cutoff"] == 0 for c in record["by_type"].values()) and any(
        c["hit"] for c in record["by_type"].values())


# -- installed from a config (environment shared by the module) ----------------------------------------------

def test_clean_workspace_passes_both_hooks(hook_repo, pc_home, tmp_path):
    repo = user_repo(tmp_path / "project", errors=False)
    write_config(repo, hook_repo, [{"id": "promptgen-check"}, {"id": "promptgen-build"}])
    proc = run_hooks(repo, pc_home)
    assert proc.returncode == 0, proc.output
    assert "promptgen check" in proc.output and "promptgen build" in proc.output
    assert proc.output.count("Passed") == 2, proc.output
    assert (repo / ".promptgen" / "artifacts" / "summary.md").is_file()
    assert git(repo, "status", "--porcelain") == ""  # state and artifacts stay out of the commit


def test_second_run_reuses_the_state(hook_repo, pc_home, tmp_path):
    repo = user_repo(tmp_path / "project", errors=True)
    write_config(repo, hook_repo, [{"id": "promptgen-check"}, {"id": "promptgen-build"}])
    assert run_hooks(repo, pc_home).returncode == 1
    state = repo / ".promptgen"
    first = history(state)
    assert not all_hits(first[0])  # the first check built the workspace
    proc = run_hooks(repo, pc_home)
    assert proc.returncode == 1 and f"{EMBER_PLAN}: error no-achievements" in proc.output
    second = history(state)[len(first):]
    assert len(second) == 2  # one record per hook
    assert all(all_hits(r) for r in second), second
    assert any(r["fast_path"] for r in second), second  # `check` answered from the manifest


def test_build_hook_fails_once_when_it_writes_artifacts(hook_repo, pc_home, tmp_path):
    repo = user_repo(tmp_path / "project", errors=False)
    write_config(repo, hook_repo, [{"id": "promptgen-build"}])
    first = run_hooks(repo, pc_home)
    assert first.returncode == 1 and "artifacts changed" in first.output, first.output
    second = run_hooks(repo, pc_home)
    assert second.returncode == 0 and "Passed" in second.output, second.output


def test_no_methodology_file_no_run(hook_repo, pc_home, tmp_path):
    repo = tmp_path / "project"
    repo.mkdir()
    (repo / "README.md").write_text("no plans here\n", encoding="utf-8")
    write_config(repo, hook_repo, [{"id": "promptgen-check"}, {"id": "promptgen-build"}])
    proc = run_hooks(repo, pc_home)
    assert proc.returncode == 0 and proc.output.count("Skipped") == 2, proc.output
    assert not (repo / ".promptgen").exists()


@pytest.mark.parametrize("how", ["config", "args"])
def test_workspace_in_a_sub_folder(hook_repo, pc_home, tmp_path, how):
    """`.promptgen/config.toml` at the repository root naming the workspace, or `args: [--root, sub]`."""
    sub = "docs/methodology"
    repo = user_repo(tmp_path / "project", errors=True, sub=sub,
                     config_toml=f'workspace = "{sub}"\n' if how == "config" else None)
    hook = {"id": "promptgen-check"} if how == "config" else {"id": "promptgen-check", "args": ["--root", sub]}
    write_config(repo, hook_repo, [hook])
    proc = run_hooks(repo, pc_home)
    assert proc.returncode == 1, proc.output
    assert f"{EMBER_PLAN}: error no-achievements" in proc.output  # paths are workspace-relative
    state = repo / ".promptgen" if how == "config" else repo / sub / ".promptgen"
    assert (state / "state.db").is_file()
    if how == "args":
        assert not (repo / ".promptgen").exists()

    git(repo, "rm", "-r", "-q", f"{sub}/plans/EMBER-NOTES", f"{sub}/plans/LANTERN-INDEX", f"{sub}/plans/a_paused")
    commit_all(repo, "drop the plans with errors")
    proc = run_hooks(repo, pc_home)
    assert proc.returncode == 0 and "Passed" in proc.output, proc.output


# -- try-repo (started in the background by the `hook_repo` fixture) ------------------------------------------

def test_try_repo_fails_with_the_diagnostic(hook_repo):
    code, output = hook_repo.try_repo_result()
    assert code == 1, output
    assert "promptgen check" in output and "Failed" in output
    assert f"{EMBER_PLAN}: error no-achievements" in output
    assert "5 error(s), 20 warning(s)" in output

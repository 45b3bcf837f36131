"""Locating the project root and reading `.promptgen/config.toml` (or `[tool.promptgen]`).

The root is the folder that holds `.promptgen/` (the state directory). The methodology workspace is
`workspace` relative to it (default: the root itself). `tomllib` is imported only when a full build
needs the parsed configuration; the no-op path compares the raw bytes' digest instead.
"""
from __future__ import annotations

import os
from types import MappingProxyType
from typing import Mapping, NamedTuple

from promptgen.errors import ConfigError
from promptgen.rootfind import CONFIG_FILE, STATE_DIR, config_bytes, find_root  # noqa: F401 (re-exported)
from promptgen.usertext import quote

DEFAULT_SIZE_CAP = 5 * 1024 * 1024
KNOWN_KEYS = {"workspace", "size_cap_mib", "history_keep", "lock_timeout", "artifacts_dir", "jobs"}


class Config(NamedTuple):
    """The project's settings (immutable; a NamedTuple, not a frozen dataclass: see graph_cache/model.py)."""

    root: str  # absolute project root (holds .promptgen/)
    workspace: str = "."  # workspace folder relative to root, POSIX
    size_cap: int = DEFAULT_SIZE_CAP
    history_keep: int = 50
    lock_timeout: float | None = None
    artifacts_dir: str = ".promptgen/artifacts"  # relative to root unless absolute
    jobs: int | None = None  # processes of a build (None: the usable CPUs, at most 4; 1: no worker pool)
    source: str = ""  # file the settings came from, for messages
    extra: Mapping = MappingProxyType({})  # unknown keys, kept for messages

    @property
    def state_dir(self) -> str:
        return os.path.join(self.root, STATE_DIR)

    @property
    def workspace_dir(self) -> str:
        return os.path.normpath(os.path.join(self.root, self.workspace))

    def engine_key(self) -> str:
        """Settings that change node outputs (part of every node's version key)."""
        return f"size_cap={self.size_cap}"


def _toml_loads(text: str, path: str) -> dict:
    try:
        import tomllib  # type: ignore[import-not-found]
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except ValueError:  # tomllib int()s an integer over Python's 4300-digit limit
        raise ConfigError(f"{path}: invalid TOML: an integer is too long") from None


def _read_settings(root: str) -> tuple[dict, str]:
    own = os.path.join(root, STATE_DIR, CONFIG_FILE)
    if os.path.isfile(own):
        with open(own, "rb") as fh:
            text = fh.read().decode("utf-8", "replace")
        return _toml_loads(text, os.path.relpath(own, root)), os.path.relpath(own, root)
    pyproject = os.path.join(root, "pyproject.toml")
    if os.path.isfile(pyproject):
        with open(pyproject, "rb") as fh:
            data = _toml_loads(fh.read().decode("utf-8", "replace"), "pyproject.toml")
        section = data.get("tool", {}).get("promptgen")
        if isinstance(section, dict):
            return section, "pyproject.toml [tool.promptgen]"
    return {}, ""


def load_config(root: str) -> Config:
    """Parse and validate the configuration of `root` (defaults when there is none)."""
    settings, source = _read_settings(root)

    def bad(key: str, want: str) -> ConfigError:
        return ConfigError(f"{source}: `{key}` must be {want}, got {quote(settings[key])}")

    unknown = sorted(set(settings) - KNOWN_KEYS)
    extra = {k: settings[k] for k in unknown}
    workspace = settings.get("workspace", ".")
    if not isinstance(workspace, str) or os.path.isabs(workspace) or ".." in workspace.split("/"):
        raise bad("workspace", "a relative path inside the root")
    cap = settings.get("size_cap_mib", DEFAULT_SIZE_CAP / (1024 * 1024))
    if not isinstance(cap, (int, float)) or isinstance(cap, bool) or not 0 < cap < 2**40:  # no inf/nan
        raise bad("size_cap_mib", "a positive number")
    keep = settings.get("history_keep", 50)
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
        raise bad("history_keep", "a positive integer")
    timeout = settings.get("lock_timeout")
    if timeout is not None and (not isinstance(timeout, (int, float)) or isinstance(timeout, bool)
                                or not timeout >= 0):  # nan never times out: refused
        raise bad("lock_timeout", "a non-negative number of seconds")
    jobs = settings.get("jobs")
    if jobs is not None and (not isinstance(jobs, int) or isinstance(jobs, bool) or not 1 <= jobs <= 64):
        raise bad("jobs", "an integer from 1 to 64")
    artifacts = settings.get("artifacts_dir", ".promptgen/artifacts")
    if not isinstance(artifacts, str) or not artifacts:
        raise bad("artifacts_dir", "a path")
    cfg = Config(
        root=root,
        workspace=workspace.strip("/") or ".",
        size_cap=int(cap * 1024 * 1024),
        history_keep=keep,
        lock_timeout=None if timeout is None else float(timeout),
        artifacts_dir=artifacts,
        jobs=jobs,
        source=source,
        extra=extra,
    )
    real_ws, real_root = os.path.realpath(cfg.workspace_dir), os.path.realpath(root)
    if real_ws != real_root and not real_ws.startswith(real_root.rstrip(os.sep) + os.sep):
        raise ConfigError(f"{source or 'config'}: `workspace` {quote(workspace)} leads outside the root {root} "
                          f"(through a symbolic link)")
    if not os.path.isdir(cfg.workspace_dir):
        raise ConfigError(f"{source or 'config'}: workspace folder {quote(workspace)} does not exist under {root}")
    return cfg

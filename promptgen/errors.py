"""One error hierarchy for the library; the CLI maps it to documented exit codes.

| exit | meaning |
|------|---------|
| 0    | success (document warnings/errors are reported, not fatal) |
| 1    | `promptgen check` found errors (or warnings with `--strict`) |
| 2    | usage error: bad option, unknown plan or achievement |
| 3    | lock timeout: another promptgen holds `.promptgen/lock` |
| 4    | state directory unusable (cannot create or write `.promptgen/`) |
| 70   | internal failure (a bug: please report it) |
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCK_TIMEOUT = 3
EXIT_STATE_DIR = 4
EXIT_INTERNAL = 70


class PromptgenError(Exception):
    """Base of every error promptgen reports to a user; carries its exit code."""

    exit_code = EXIT_INTERNAL


class UsageError(PromptgenError):
    """The command line asks for something that does not exist or makes no sense."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """The configuration file is invalid (message names file and line)."""


class LockTimeoutError(PromptgenError):
    exit_code = EXIT_LOCK_TIMEOUT


class StateDirError(PromptgenError):
    exit_code = EXIT_STATE_DIR

"""`promptgen build`: the command body, and a typer-free argument parser for the common case.

A build with work to do needs pydantic and the engine, but not typer/click/rich (≈ 50–100 ms of
imports): `entry.main` runs plain `build` invocations through `parse_build_args` + `execute`; anything
unusual (`--help`, a malformed option) goes to the typer CLI, which calls the same `execute`.
"""
from __future__ import annotations

import sys

from promptgen import errors

FLAGS = {"--json": "as_json", "--dry-run": "dry_run", "--profile": "profile", "--fail-if-changed": "fail_if_changed"}
VALUES = {"--root": "root", "--out": "out", "--lock-timeout": "lock_timeout", "--metrics-file": "metrics_file",
          "--push-gateway": "push_gateway", "--job": "job"}


def defaults() -> dict:
    return {"root": None, "as_json": False, "out": None, "dry_run": False, "profile": False, "lock_timeout": None,
            "metrics_file": None, "push_gateway": None, "job": "promptgen", "fail_if_changed": False}


def parse_build_args(argv: list[str]) -> dict | None:
    """Options of `build ARGS`, or None when the typer CLI must handle them (help, errors, extras)."""
    if not argv or argv[0] != "build":
        return None
    opts = defaults()
    rest = argv[1:]
    i = 0
    while i < len(rest):
        arg = rest[i]
        name, eq, value = arg.partition("=")
        if arg in FLAGS:
            opts[FLAGS[arg]] = True
        elif name in VALUES and eq:
            opts[VALUES[name]] = value
        elif arg in VALUES and i + 1 < len(rest) and not rest[i + 1].startswith("--"):
            opts[VALUES[arg]] = rest[i + 1]
            i += 1
        else:
            return None
        i += 1
    if opts["lock_timeout"] is not None:
        try:
            opts["lock_timeout"] = float(opts["lock_timeout"])
        except ValueError:
            return None
    return opts


def execute(*, root: str | None, as_json: bool, out: str | None, dry_run: bool, profile: bool,
            lock_timeout: float | None, metrics_file: str | None, push_gateway: str | None, job: str,
            fail_if_changed: bool) -> int:
    """Run one build and print its report; returns the exit code."""
    from promptgen import service

    outcome = service.build(root, out_dir=out, dry_run=dry_run, profile=profile, lock_timeout=lock_timeout)
    try:
        for warning in outcome.all_warnings():
            sys.stderr.write(f"promptgen: warning: {warning}\n")
        if metrics_file or push_gateway:
            service.export_metrics(outcome, metrics_file=metrics_file, push_gateway=push_gateway, job=job)
        sys.stdout.write((outcome.json_text() if as_json else outcome.table_text()) + "\n")
    finally:
        outcome.close()
    if fail_if_changed and outcome.artifacts_changed:
        sys.stderr.write("promptgen: artifacts changed: " + ", ".join(outcome.artifacts_changed) + "\n")
        return errors.EXIT_CHECK_FAILED
    return errors.EXIT_OK

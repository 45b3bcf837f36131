"""The typer CLI: thin commands over `promptgen.service`, one error boundary mapping to exit codes."""
from __future__ import annotations

import json
import sys
from typing import List, Optional

import typer

from promptgen import __version__, errors

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Incremental build graph for PLAN/SUBPLAN/EXECUTION methodology workspaces.")

RootOpt = typer.Option(None, "--root", help="Project root (default: nearest ancestor holding .promptgen/, else cwd).")
JsonOpt = typer.Option(False, "--json", help="Print one JSON object on stdout.")


def _echo_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=None, separators=(",", ":")) + "\n")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"promptgen {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Show the version and exit.")) -> None:
    """promptgen: what is the state of each achievement, what comes next, and its prompt."""


@app.command()
def build(root: Optional[str] = RootOpt, as_json: bool = JsonOpt,
          out: Optional[str] = typer.Option(None, "--out", help="Write artifacts here instead of .promptgen/artifacts/."),
          dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be recomputed; compute and write nothing."),
          profile: bool = typer.Option(False, "--profile", help="Report per-phase timings."),
          lock_timeout: Optional[float] = typer.Option(None, "--lock-timeout", help="Seconds to wait for the state lock."),
          metrics_file: Optional[str] = typer.Option(None, "--metrics-file", help="Write Prometheus textfile metrics."),
          push_gateway: Optional[str] = typer.Option(None, "--push-gateway", help="Push metrics to this Pushgateway URL."),
          job: str = typer.Option("promptgen", "--job", help="Pushgateway job name."),
          fail_if_changed: bool = typer.Option(False, "--fail-if-changed",
                                               help="Exit 1 when an artifact file was written or removed "
                                                    "(for pre-commit: the commit stops and shows the change).")) -> None:
    """Build the document graph incrementally and write artifacts."""
    from promptgen.buildcmd import execute

    code = execute(root=root, as_json=as_json, out=out, dry_run=dry_run, profile=profile,
                   lock_timeout=lock_timeout, metrics_file=metrics_file, push_gateway=push_gateway, job=job,
                   fail_if_changed=fail_if_changed)
    if code:
        raise typer.Exit(code)


@app.command()
def status(plan: Optional[str] = typer.Argument(None, help="Feature name, PLAN file or plan folder."),
           root: Optional[str] = RootOpt, as_json: bool = JsonOpt) -> None:
    """State of every achievement, per plan (or of one plan)."""
    from promptgen import service, views

    results = service.results(root)
    doc = results.status_document(plan)
    if as_json:
        _echo_json(doc)
    else:
        views.print_status(doc, single=plan is not None)


@app.command(name="next")
def next_(plan: str = typer.Argument(..., help="Feature name, PLAN file or plan folder."),
          achievement: Optional[str] = typer.Option(None, "--achievement", "-a", help="Achievement id, e.g. 2.1"),
          root: Optional[str] = RootOpt, as_json: bool = JsonOpt) -> None:
    """Print the prompt for the plan's next (or the named) achievement."""
    from promptgen import service

    answer = service.results(root).next_prompt(plan, achievement)
    if as_json:
        _echo_json(answer)
    else:
        sys.stdout.write(answer["prompt"].rstrip("\n") + "\n")


@app.command()
def ready(plan: Optional[str] = typer.Argument(None), root: Optional[str] = RootOpt, as_json: bool = JsonOpt) -> None:
    """Achievements ready to start now, and the following waves (from parallel.json)."""
    from promptgen import service, views

    doc = service.results(root).ready_document(plan)
    if as_json:
        _echo_json(doc)
    else:
        views.print_ready(doc)


@app.command()
def check(root: Optional[str] = RootOpt, as_json: bool = JsonOpt,
          fmt: str = typer.Option("text", "--format", help="text or github (Actions annotations)."),
          strict: bool = typer.Option(False, "--strict", help="Treat warnings as errors.")) -> None:
    """Validate the workspace; exit 1 on errors (or on warnings with --strict)."""
    from promptgen import service

    if fmt not in ("text", "github"):
        raise errors.UsageError(f"--format must be text or github, not {fmt!r}")
    report = service.results(root).check_report(strict=strict)
    if as_json:
        _echo_json(report.as_json())
    else:
        text = report.github() if fmt == "github" else report.text()
        if text:
            sys.stdout.write(text + "\n")
    raise typer.Exit(report.exit_code)


@app.command()
def graph(plan: Optional[str] = typer.Argument(None), root: Optional[str] = RootOpt,
          fmt: str = typer.Option("dot", "--format", help="dot, mermaid or json.")) -> None:
    """Export the document/achievement graph."""
    from promptgen import service

    if fmt not in ("dot", "mermaid", "json"):
        raise errors.UsageError(f"--format must be dot, mermaid or json, not {fmt!r}")
    sys.stdout.write(service.results(root).graph_export(fmt, plan).rstrip("\n") + "\n")


@app.command()
def explain(node: Optional[str] = typer.Argument(None, help="Node id as printed in `recomputed`."),
            last: bool = typer.Option(False, "--last", help="Every node recomputed by the last run."),
            root: Optional[str] = RootOpt, as_json: bool = JsonOpt) -> None:
    """Why a node was (or was not) recomputed."""
    from promptgen import service, views

    if not node and not last:
        raise errors.UsageError("give a NODE id or --last")
    doc = service.explain(root, node=node, last=last)
    if as_json:
        _echo_json(doc)
    else:
        views.print_explain(doc)


@app.command()
def stats(root: Optional[str] = RootOpt, as_json: bool = JsonOpt,
          runs: int = typer.Option(20, "--runs", help="How many recent runs to summarise.")) -> None:
    """Hit ratio per node type and slowest phases over recent runs."""
    from promptgen import service, views

    doc = service.stats(root, runs)
    if as_json:
        _echo_json(doc)
    else:
        views.print_stats(doc)


@app.command()
def clean(root: Optional[str] = RootOpt) -> None:
    """Remove the cache in .promptgen/ (keeps config.toml)."""
    from promptgen import service

    removed = service.clean(root)
    typer.echo(f"removed {removed} cache entr{'y' if removed == 1 else 'ies'}")


daemon_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                         help="A warm background process that runs commands without import costs (opt-in).")
app.add_typer(daemon_app, name="daemon")


def _daemon_report(doc: dict, as_json: bool, text: str) -> None:
    if as_json:
        _echo_json(doc)
    else:
        typer.echo(text)


@daemon_app.command("start")
def daemon_start(idle_timeout: float = typer.Option(180.0, "--idle-timeout", help="Minutes without a command before it leaves."),
                 as_json: bool = JsonOpt) -> None:
    """Start the daemon of this installation (no-op when it runs); later commands use it."""
    from promptgen import daemon_control

    doc = daemon_control.start(idle_timeout * 60)
    verb = "started" if doc.get("started_now") else "already running"
    _daemon_report(doc, as_json, f"promptgen daemon {verb}: pid {doc['pid']}, socket {doc['socket']}")


@daemon_app.command("stop")
def daemon_stop(as_json: bool = JsonOpt) -> None:
    """Stop the daemon of this installation (no-op when none runs)."""
    from promptgen import daemon_control

    doc = daemon_control.stop()
    _daemon_report(doc, as_json, "promptgen daemon stopped" if doc["stopped"] else "no promptgen daemon was running")


@daemon_app.command("status")
def daemon_status(as_json: bool = JsonOpt) -> None:
    """Whether the daemon of this installation runs (exit 1 when not)."""
    from promptgen import daemon_control

    doc = daemon_control.status()
    text = (f"promptgen daemon running: pid {doc['pid']}, {doc['served']} commands served, socket {doc['socket']}"
            if doc["running"] else f"no promptgen daemon running (socket {doc['socket']})")
    _daemon_report(doc, as_json, text)
    if not doc["running"]:
        raise typer.Exit(1)


def _framework_error(exc: BaseException) -> int | None:
    """typer/click exits and usage errors (typer >= 0.29 vendors click; older releases use click)."""
    code = getattr(exc, "exit_code", None)
    if type(exc).__name__ == "Exit" and isinstance(code, int):
        return code
    if type(exc).__name__ == "Abort":
        sys.stderr.write("promptgen: aborted\n")
        return 1
    if hasattr(exc, "format_message"):  # bad option, missing argument
        sys.stderr.write(f"promptgen: {exc.format_message()}\n")
        return errors.EXIT_USAGE
    return None


def run(argv: List[str]) -> int:
    """Run the CLI on `argv`; return the exit code. Never lets a traceback reach the user."""
    from promptgen.boundary import guarded

    def call() -> int:
        code = app(args=argv, prog_name="promptgen", standalone_mode=False)
        return code if isinstance(code, int) else 0  # non-standalone mode returns Exit codes

    return guarded(call, extra=_framework_error)

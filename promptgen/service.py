"""Library entry points behind the CLI: build (incrementally), then answer questions from node outputs.

`build()` takes the state lock, discovers the workspace, runs the engine, writes artifacts, the
manifest (for the no-op fast path) and a history record. `results()` builds first, so every reading
command works on a never-built root and reads from cache when nothing changed.
"""
from __future__ import annotations

import os
import sys
import time

from promptgen import errors
from promptgen.config import Config, find_root, load_config


def _on_wait(message: str) -> None:
    sys.stderr.write(f"promptgen: {message}\n")
    sys.stderr.flush()


def open_config(root: str | None) -> Config:
    return load_config(find_root(root))


# Ignores itself too (like .pytest_cache/): a fresh state dir leaves `git status` clean; a config.toml
# written by the user stays visible so that it can be committed.
STATE_GITIGNORE = "# Everything in .promptgen/ is disposable cache except the configuration.\n*\n!config.toml\n"


def ensure_state_dir(cfg: Config) -> None:
    """Create `.promptgen/` (with a .gitignore keeping the cache out of git) and prove it is writable.
    The probe is named as graph_cache's atomic writers name their temp files (`.<name>.<pid>.tmp`), so
    one left by a process killed between creating and removing it is swept by the next build
    (`store_db.sweep_stale_temp_files`)."""
    try:
        created = not os.path.isdir(cfg.state_dir)
        os.makedirs(cfg.state_dir, exist_ok=True)
        if created:
            try:
                with open(os.path.join(cfg.state_dir, ".gitignore"), "x", encoding="utf-8") as fh:
                    fh.write(STATE_GITIGNORE)
            except FileExistsError:
                pass  # another build created it first
        probe = os.path.join(cfg.state_dir, f".write-probe.{os.getpid()}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(probe, flags, 0o600)
        except FileExistsError:  # a dead process's probe (our PID, reused) or a planted link: never followed
            os.unlink(probe)
            fd = os.open(probe, flags, 0o600)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise errors.StateDirError(f"state directory {cfg.state_dir} is not usable: {exc.strerror or exc}") from None


class BuildOutcome:
    """What one build did: counts from events, diagnostics, timings, and access to outputs."""

    def __init__(self, *, cfg: Config, counts: object, known_diagnostics: list[dict] | None, elapsed: float,
                 phases: dict[str, float] | None = None, warnings: list[str] | None = None, dry_run: bool = False,
                 reasons: dict[str, dict] | None = None, collected: object = None, result: object = None,
                 profile: bool = False, metrics: object = None, artifacts_changed: list[str] | None = None,
                 store: object = None) -> None:
        self.cfg, self.counts, self.elapsed = cfg, counts, elapsed
        self.known_diagnostics = known_diagnostics  # None: decoded from `collected` on first use (`diagnostics`)
        self.phases: dict[str, float] = {} if phases is None else phases
        self.warnings: list[str] = [] if warnings is None else warnings
        self.dry_run = dry_run
        self.reasons: dict[str, dict] = {} if reasons is None else reasons
        self.collected = collected  # collected.Collected: statuses and per-plan diagnostics on demand
        self.result = result
        self.profile = profile
        self.metrics = metrics
        self.artifacts_changed: list[str] = [] if artifacts_changed is None else artifacts_changed  # written/removed
        self.store = store  # the state file, kept open for lazy output reads until `close`

    @property
    def diagnostics(self) -> list[dict]:
        """Every diagnostic of the build, sorted (the answers' 500 KB of JSON at 10k documents are
        decoded only by the outputs that list them, not for a table that counts them)."""
        if self.known_diagnostics is None:
            self.known_diagnostics = self.collected.diagnostics if self.collected is not None else []
        return self.known_diagnostics

    @property
    def statuses(self) -> list[dict]:
        """Every plan's status output (decoded on first use; none after a dry run)."""
        return self.collected.statuses if self.collected is not None else []

    def plan_diagnostics(self, feature: str) -> list[dict]:
        return self.collected.plan_diagnostics(feature) if self.collected is not None else []

    def close(self) -> None:
        """Close the state file the outcome keeps open for lazy output reads (later reads fail)."""
        if self.store is not None:
            self.store.close()

    def all_warnings(self) -> list[str]:
        """The build's warnings, plus one naming the state file if damaged stored records were met (and
        recomputed) so far: outputs are read lazily, so ask after reading them."""
        damage = self.result.damage_warning() if self.result is not None else None
        return self.warnings + [damage] if damage else list(self.warnings)

    def diag_summary(self) -> dict[str, int]:
        if self.known_diagnostics is None and self.collected is not None:
            return self.collected.diag_summary()
        out: dict[str, int] = {}
        for d in self.diagnostics:
            out[d["severity"]] = out.get(d["severity"], 0) + 1
        return out

    def json_text(self) -> str:
        import json

        from promptgen import buildreport

        extra: dict = {}
        if self.dry_run:
            extra["dry_run"] = True
            extra["reasons"] = self.reasons
        if self.profile:
            extra["phases"] = {k: round(v, 6) for k, v in self.phases.items()}
        warnings = self.all_warnings()
        if warnings:
            extra["warnings"] = warnings
        diags = json.dumps(self.diagnostics, ensure_ascii=False, separators=(",", ":"))
        return buildreport.build_json(self.counts.by_type, list(self.counts.recomputed), diags,
                                      self.elapsed, extra)

    def table_text(self) -> str:
        from promptgen import buildreport

        text = buildreport.build_table(self.counts.by_type, self.diag_summary(), self.elapsed,
                                       self.phases if self.profile else None, self.all_warnings())
        if self.dry_run:
            lines = [f"would recompute {node}: {r['code']} {r.get('detail', '')}".rstrip()
                     for node, r in self.reasons.items()]
            text = "\n".join(["dry run: nothing computed or written"] + lines + [text])
        return text


def build(root: str | None, *, out_dir: str | None = None, dry_run: bool = False, profile: bool = False,
          lock_timeout: float | None = None) -> BuildOutcome:
    """Run one incremental build of the workspace under `root`."""
    from promptgen import runner

    started = time.perf_counter()
    cfg = open_config(root)
    timeout = lock_timeout if lock_timeout is not None else cfg.lock_timeout
    if dry_run:
        return runner.dry_run(cfg, started)
    ensure_state_dir(cfg)
    return runner.run(cfg, started, out_dir=out_dir, timeout=timeout, on_wait=_on_wait, profile=profile)


def results(root: str | None):
    """Build (incrementally) and return a `Results` view over the outputs."""
    from promptgen.results_view import Results

    outcome = build(root)
    view = Results(outcome)  # reads every plan's status: damaged stored outputs are found here
    for w in outcome.all_warnings():
        sys.stderr.write(f"promptgen: warning: {w}\n")
    return view


def export_metrics(outcome: BuildOutcome, *, metrics_file: str | None, push_gateway: str | None, job: str) -> None:
    from promptgen import metrics

    metrics.export(outcome, metrics_file=metrics_file, push_gateway=push_gateway, job=job)


def explain(root: str | None, *, node: str | None, last: bool) -> dict:
    from promptgen import explain as explain_mod

    cfg = open_config(root)
    if not os.path.exists(os.path.join(cfg.state_dir, "state.db")):
        build(root)
    return explain_mod.explain(cfg, node=node, last=last)


def stats(root: str | None, runs: int) -> dict:
    from promptgen import history

    cfg = open_config(root)
    return history.summarize(cfg, runs)


def clean(root: str | None) -> int:
    """Remove everything in .promptgen/ except the configuration and .gitignore."""
    import shutil

    cfg = open_config(root)
    if not os.path.isdir(cfg.state_dir):
        return 0
    removed = 0
    for name in os.listdir(cfg.state_dir):
        if name in ("config.toml", ".gitignore"):
            continue
        path = os.path.join(cfg.state_dir, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
            removed += 1
        except OSError as exc:
            raise errors.StateDirError(f"cannot remove {path}: {exc.strerror or exc}") from None
    return removed

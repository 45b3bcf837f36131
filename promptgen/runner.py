"""One full (incremental) build: lock, discover, run the engine, persist artifacts/manifest/history."""
from __future__ import annotations

import os
import time

from promptgen import errors
from promptgen.config import Config

LOCK_TIMEOUT_HINT = "use --lock-timeout SECONDS to wait longer"


class Phases:
    """Wall-clock timings per phase (discover, stat+hash+parse+derive inside the engine, persist...)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + (now - self._t)
        self._t = now


def _engine_parts(cfg: Config, phases: Phases, global_key: bytes):
    """Filesystem, discovery, root specs, rules, a function saving the discovery for the next build
    (None if it came from `discovery_cache`, i.e. the scanned paths did not change), and the fast
    path's `Handoff` for this walk (None if there is none). `global_key`: `fastpath.global_key`."""
    from graph_cache.fs import RealFileSystem
    from promptgen import discovery_cache, graphspec, handoff, pipeline
    from promptgen.discover import discover_paths, walk

    fs = RealFileSystem(cfg.workspace_dir)
    w = walk(fs)
    key = discovery_cache.key_of(global_key, w.files, w.containers, w.diagnostics)
    cached, last_roots = discovery_cache.load(cfg.state_dir, key)
    save = None
    if cached is not None:
        disc, spec = cached
        phases.lap("discover")
    else:
        disc = discover_paths(w.files, w.containers, w.diagnostics)
        phases.lap("discover")
        spec = graphspec.root_specs(disc)
        spec.last_roots = last_roots
        save = lambda: discovery_cache.save(cfg.state_dir, key, disc, spec)  # noqa: E731
    spec.stats = dict(w.files)
    spec.walk_notes = list(w.diagnostics)
    rules = pipeline.make_rules(cfg.size_cap, spec.plan_infos, spec.discovery_diags)
    return fs, disc, spec, rules, save, handoff.take(fs.root, w.files)


def run(cfg: Config, started: float, *, out_dir: str | None, timeout: float | None, on_wait, profile: bool):
    """One build. A graph that cannot be ordered (`CycleError`) or a stored fingerprint that cannot be
    read for a node the build did not visit (`Unknown`) can only come from stored rows damaged behind
    the checksums (the rules build no cycle, a committed build leaves every row): the build is then run
    once more from an empty state, with a warning; a second failure is a bug and propagates."""
    from graph_cache.dirty import Unknown
    from graph_cache.errors import CycleError
    from promptgen.collector import BuildCollector
    from promptgen.fastpath import MANIFEST

    # no manifest: a first build (or the last one failed), which computes nearly everything
    with BuildCollector(quiet=os.path.isfile(os.path.join(cfg.state_dir, MANIFEST))) as collector:
        try:
            return _run(cfg, started, out_dir=out_dir, timeout=timeout, on_wait=on_wait, profile=profile,
                        collector=collector)
        except (CycleError, Unknown) as exc:
            what = f"no stored fingerprint for {exc.node_id}" if isinstance(exc, Unknown) else str(exc)
            shown = "".join(c if c.isprintable() else "?" for c in what[:300])  # damaged ids: NULs...
            why = f"state.db: stored graph inconsistent: {shown}"
            return _run(cfg, started, out_dir=out_dir, timeout=timeout, on_wait=on_wait, profile=profile,
                        discard=why, collector=collector)


def _run(cfg: Config, started: float, *, out_dir: str | None, timeout: float | None, on_wait, profile: bool,
         discard: str | None = None, collector=None):
    from graph_cache.engine import Engine
    from graph_cache.errors import LockTimeout, StateDirError
    from graph_cache.events import CountingSink, EventBus
    from graph_cache.lock import StateLock
    from graph_cache.store import Store
    from promptgen import manifest_write, pipeline
    from promptgen.collected import Collected
    from promptgen.fastpath import global_key
    from promptgen.service import BuildOutcome

    phases = Phases()
    try:
        with StateLock(cfg.state_dir, timeout=timeout, on_wait=on_wait):
            phases.lap("lock")
            store, warning = Store.open(cfg.state_dir, discard=discard)
            phases.lap("load-state")
            try:
                gkey = global_key(cfg.root)  # once: it stats the templates and the package's modules
                fs, disc, spec, rules, save_discovery, seen = _engine_parts(cfg, phases, gkey)
                bus = EventBus()
                if collector is not None:
                    bus.subscribe(collector)  # the collector back on once the build computes in earnest
                counter = CountingSink()
                bus.subscribe(counter)
                from promptgen import history

                recorder = history.PhaseRecorder()
                bus.subscribe(recorder)
                from promptgen.metrics import MetricsSink

                metrics_sink = MetricsSink()
                bus.subscribe(metrics_sink)
                engine = Engine(fs, store, rules, pipeline.global_version(cfg.engine_key()), bus, workers=cfg.jobs)
                result = engine.build(spec.specs, stats=spec.stats, changes=_changes(seen), last_roots=spec.last_roots)
                trusted = seen if result.changes_used else None  # made for the store's last commit
                phases.lap("engine")
                collected = Collected(result, spec.plan_infos,
                                      manifest_write.unchanged_answers(cfg, result, seen, gkey, spec.plan_infos))
                phases.lap("collect")
                from promptgen import artifacts

                try:
                    verified = trusted.artifacts if trusted is not None and out_dir is None else None
                    changed, artifact_stats = artifacts.write_all(cfg, out_dir, result, collected, store, verified)
                except OSError as exc:
                    raise errors.StateDirError(_write_error("artifacts", exc)) from None
                phases.lap("render")
                elapsed = time.perf_counter() - started
                outcome = BuildOutcome(cfg=cfg, counts=counter.counts, known_diagnostics=None,
                                       elapsed=elapsed, phases={**recorder.seconds, **phases.seconds},
                                       warnings=[warning] if warning else [],
                                       collected=collected,
                                       result=result, profile=profile, metrics=metrics_sink,
                                       artifacts_changed=changed, store=store)
                try:
                    manifest_write.save_manifest(cfg, spec, collected, outcome,
                                                 artifact_stats if out_dir is None else None,
                                                 trusted, gkey)
                    if save_discovery is not None:
                        save_discovery()
                    phases.lap("save-manifest")
                    outcome.phases = {**recorder.seconds, **phases.seconds}
                    outcome.elapsed = time.perf_counter() - started
                    history.append(cfg, store, outcome)
                except OSError as exc:
                    raise errors.StateDirError(_write_error("state", exc)) from None
                return outcome  # the store stays open: Results reads hit outputs lazily
            except BaseException:
                store.close()
                raise
    except LockTimeout as exc:
        raise errors.LockTimeoutError(f"{exc} ({LOCK_TIMEOUT_HINT})") from None
    except StateDirError as exc:
        raise errors.StateDirError(str(exc)) from None


def _write_error(what: str, exc: OSError) -> str:
    """One line naming the file that could not be written and the OS error."""
    where = exc.filename or "?"
    return f"cannot write {what} file {where}: {exc.strerror or exc}"


def dry_run(cfg: Config, started: float):
    """Decide what would be recomputed and why; compute nothing, write nothing."""
    from graph_cache.engine import Engine
    from graph_cache.events import CountingSink, EventBus
    from graph_cache.store import Store
    from promptgen import pipeline
    from promptgen.service import BuildOutcome

    phases = Phases()
    store, warning = Store.open(cfg.state_dir, read_only=True)
    try:
        from promptgen.fastpath import global_key

        fs, disc, spec, rules, _, _ = _engine_parts(cfg, phases, global_key(cfg.root))  # writes nothing
        bus = EventBus()
        counter = CountingSink()
        bus.subscribe(counter)
        engine = Engine(fs, store, rules, pipeline.global_version(cfg.engine_key()), bus)
        result = engine.build(spec.specs, stats=spec.stats, dry_run=True)
        reasons = {}
        for node_id in counter.counts.recomputed:
            decision, reason = result.decisions[node_id]
            reasons[node_id] = reason.as_dict() if reason else {"code": "new", "detail": ""}
        diags = [dict(d) for d in disc.diagnostics]
        return BuildOutcome(cfg=cfg, counts=counter.counts, known_diagnostics=sort(diags),
                            elapsed=time.perf_counter() - started, warnings=[warning] if warning else [],
                            dry_run=True, reasons=reasons)
    finally:
        store.close()


def sort(diags: list[dict]) -> list[dict]:
    from promptgen.report import sort_diags

    return sort_diags(diags)


def _changes(seen):
    """The engine's `FileChanges` from the fast path's handoff (None without one, or without a snapshot)."""
    if seen is None or not seen.snapshot:
        return None
    from graph_cache.model import FileChanges

    return FileChanges(seen.snapshot, seen.changed)

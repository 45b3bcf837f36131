"""The cycle collector during a build: off while the build only loads and compares, on once it computes.

Python's collector runs a young collection every `QUIET_GC[0]` net container allocations and traverses
every young object still alive. A change-driven build allocates millions of long-lived ones (the stored
graph index, the root specs, the walk, the discovery) and leaves almost no cycles: at 100k documents a new
plan's build ran 76 collections (0.6 s of 7.9, 26 times what the 10k build spent) that freed 33 objects.
Rules are another matter: a cold build parses every document, leaves cycles behind, and ran slower with
the collector off (docs/PERFORMANCE.md section 19). So `BuildCollector` switches the collector off for
a build after the first (the runner passes `quiet=False` while there is no manifest yet) and back on
(quiet thresholds) as soon as the engine announces a full build (`BuildPlanned`) or the build has
recomputed `RECOMPUTE_BUDGET` nodes. Each switch freezes the objects alive at that
point first (`gc.freeze`): they are the long-lived state, never traversed by later collections.
Worker processes always collect (graph_cache/worker.py).
"""
from __future__ import annotations

import gc
from typing import Any

from graph_cache.events import BuildPlanned, NodeDecided
from graph_cache.model import Decision
from promptgen.entry import QUIET_GC

RECOMPUTE_BUDGET = 1000  # recomputed nodes a build may make with the collector off


class BuildCollector:
    """Context manager for one build, and an event subscriber (`EventBus.subscribe`) that turns the
    collector on when the build starts computing in earnest. The thresholds and the enabled state are
    restored on exit, and every frozen object (the caller's too) becomes part of the oldest generation."""

    def __init__(self, quiet: bool = True, budget: int = RECOMPUTE_BUDGET) -> None:
        self.quiet = quiet  # False: the collector stays on (a first build: it computes everything)
        self.budget = budget
        self.recomputed = 0
        self.collecting = True  # whether the collector is on (set by __enter__ and switch_on)

    def __enter__(self) -> BuildCollector:
        self.thresholds, self.was_enabled = gc.get_threshold(), gc.isenabled()
        gc.freeze()  # the objects alive before the build (modules, configuration) are never traversed
        gc.set_threshold(*QUIET_GC)
        if not self.quiet:
            return self
        gc.disable()
        self.collecting = False
        return self

    def __call__(self, event: Any) -> None:
        if self.collecting:
            return
        if type(event) is NodeDecided:
            if event.decision != Decision.HIT:
                self.recomputed += 1
                if self.recomputed >= self.budget:
                    self.switch_on()
        elif type(event) is BuildPlanned and event.mode == "full":
            self.switch_on()

    def switch_on(self) -> None:
        """Collect from now on; what is alive now (the loaded state) stays out of the collections."""
        gc.freeze()
        gc.enable()
        self.collecting = True

    def __exit__(self, *exc: object) -> None:
        gc.freeze()  # the build's objects: no collection of all of them on the way out
        gc.set_threshold(*self.thresholds)
        if self.was_enabled:
            gc.enable()
        else:
            gc.disable()
        gc.unfreeze()  # everything, as before the build (a normal interpreter exit then finalises it all)
        self.collecting = gc.isenabled()

"""Warming a process up before it runs a command: importing the code and building the validators.

Importing pydantic, the engine and the pipeline and building the document validators costs an edit
build at 10k documents more than its own work (docs/PERFORMANCE.md sections 14-17). Two kinds of
processes pay it ahead of time: the build daemon (`daemon.warm_up`: everything, once, before it
serves) and the head-start child (`head_start.warm_up`: what the command needs, while its parent
runs the no-op fast path). Both use these functions, so a module or validator added to the build is
warmed by both.
"""
from __future__ import annotations

# Modules a build never imports (an import here would only delay it): the typer CLI and its views,
# the commands that explain or summarise past runs, the daemon's server side, the networkx view of
# the graph, and the in-memory file system of the tests.
NOT_FOR_BUILDS = frozenset({
    "promptgen.__main__", "promptgen.cli", "promptgen.views", "promptgen.explain", "promptgen.results_view",
    "promptgen.summary", "promptgen.crashlog", "promptgen.daemon", "promptgen.daemon_control",
    "graph_cache.graph", "graph_cache.fs_memory", "graph_cache.root_changes",
})


def import_modules(skip: frozenset[str] = frozenset({"promptgen.__main__"})) -> None:
    """Import every module of both packages (and so every library they import) but `skip`'s."""
    import importlib
    import pkgutil

    import graph_cache
    import promptgen

    for package in (promptgen, graph_cache):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name not in skip:
                importlib.import_module(info.name)


def build_validators() -> None:
    """Build the pydantic validator of every model of the package (deferred at class creation), and
    the code versions of the rule families (the sources read and hashed once per process)."""
    from pydantic import BaseModel

    from promptgen import codeversion, pipeline

    pending = [BaseModel]
    while pending:
        for cls in pending.pop().__subclasses__():
            pending.append(cls)
            if cls.__module__.startswith("promptgen."):
                cls.model_rebuild(force=True)
    for family in pipeline.RULE_VERSIONS:
        codeversion.code_version(family)

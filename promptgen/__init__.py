"""promptgen: an incremental build graph for PLAN/SUBPLAN/EXECUTION methodology workspaces.

Importing this package is cheap on purpose (no pydantic, typer, networkx...): the no-op path of the
console script must stay near the cost of a bare stat-walk.
"""
__version__ = "0.1.0"

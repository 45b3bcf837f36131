"""The specs of a change-driven build's graph (`BuildResult.specs`), read from the graph index and the
scheduler's added specs on access, or all at once."""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from .model import NodeSpec


class GraphSpecs(Mapping[str, NodeSpec]):
    """id -> NodeSpec of every node of a change-driven build's graph; specs are built on access, or all
    at once by a bulk read (iteration, `items`, `values`), which is then kept while the graph does not
    change (the commit, `graph.json` and the app read it several times: 160k specs at 100k documents)."""

    def __init__(self, sched: Any) -> None:
        self._sched = sched
        self._all: tuple[int, dict[str, NodeSpec]] | None = None  # (sched.edits, every spec)

    def _bulk(self) -> dict[str, NodeSpec]:
        sched = self._sched
        if not sched.graph_changed:
            return sched.index.all_specs()  # each bucket decoded once
        if self._all is None or self._all[0] != sched.edits:
            indexed, added = sched.index.all_specs(), sched._added
            self._all = (sched.edits, {nid: added.get(nid) or indexed[nid] for nid in sched.ids()})
        return self._all[1]

    def __getitem__(self, node_id: str) -> NodeSpec:
        kept = self._all
        if kept is not None and kept[0] == self._sched.edits:
            return kept[1][node_id]
        spec = self._sched.spec(node_id)
        if spec is None or node_id in self._sched.removed:
            raise KeyError(node_id)
        return spec

    def __contains__(self, node_id: object) -> bool:
        return self._sched.spec(node_id) is not None and node_id not in self._sched.removed  # type: ignore

    def __iter__(self) -> Iterator[str]:
        return iter(self._bulk()) if self._sched.graph_changed else iter(self._sched.ids())

    def __len__(self) -> int:
        return len(self._bulk()) if self._sched.graph_changed else len(self._sched.ids())

    def items(self) -> Any:
        return self._bulk().items()

    def values(self) -> Any:
        return self._bulk().values()

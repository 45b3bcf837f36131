"""Root specs as plain rows: `SpecRows` is a Sequence[NodeSpec] that builds its NodeSpecs only when
iterated, and knows its digest (dirty.roots_digest) without building them.

A change-driven build never looks at the roots beyond their digest: equal to the last build's, the graph
is the stored one (graph_index.py). An app that keeps its roots between runs (e.g. in a cache file) can
hand them over as rows, still marshalled (`SpecRows.lazy`), with the digest it stored next to them;
building 10k NodeSpecs, or even unmarshalling their rows, is then left to full builds.
"""
from __future__ import annotations

import marshal
from typing import Any, Iterator, Sequence, overload

from .fingerprint import hash_bytes
from .model import NodeSpec, node_spec

Row = tuple  # (id, type, files, deps, params), as in NodeSpec


def rows_digest(rows: Sequence[Row]) -> str:
    """Digest of root specs given as rows: marshal format 2 (no references), so equal specs always give
    equal bytes; equals `dirty.roots_digest` of the same specs as NodeSpecs."""
    return hash_bytes(marshal.dumps(list(rows), 2))


class SpecRows(Sequence[NodeSpec]):
    """Immutable root specs; rows, NodeSpecs and the digest are each computed once, when first needed."""

    __slots__ = ("_blob", "_rows", "_specs", "_digest", "_len")

    def __init__(self, specs: Sequence[NodeSpec] | None = None, *, rows: Sequence[Row] | None = None,
                 blob: bytes | None = None, digest: str | None = None, length: int | None = None) -> None:
        self._specs = list(specs) if specs is not None else None
        self._rows = list(rows) if rows is not None else None
        self._blob = blob  # marshal of the rows, decoded on first use
        self._digest = digest  # trusted: the caller stored it with the rows
        self._len = length

    @classmethod
    def lazy(cls, blob: bytes, digest: str, length: int) -> SpecRows:
        """`length` rows still marshalled (`marshal.dumps(rows)`) with their stored digest."""
        return cls(blob=blob, digest=digest, length=length)

    def rows(self) -> list[Row]:
        if self._rows is None:
            if self._specs is not None:
                self._rows = [(s.id, s.type, s.files, s.deps, s.params) for s in self._specs]
            else:
                self._rows = marshal.loads(self._blob)  # type: ignore[arg-type]
        return self._rows

    def rows_once(self) -> list[Row]:
        """The rows, for one pass: decoded from the blob without being kept (`rows` keeps them)."""
        if self._rows is None and self._specs is None and self._blob is not None:
            return marshal.loads(self._blob)
        return self.rows()

    def digest(self) -> str:
        if self._digest is None:
            self._digest = rows_digest(self.rows())
        return self._digest

    def _all(self) -> list[NodeSpec]:
        if self._specs is None:
            self._specs = [node_spec(*r) for r in self.rows()]
        return self._specs

    @overload
    def __getitem__(self, i: int) -> NodeSpec: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[NodeSpec]: ...

    def __getitem__(self, i: Any) -> Any:
        return self._all()[i]

    def __iter__(self) -> Iterator[NodeSpec]:
        return iter(self._all())

    def __len__(self) -> int:
        if self._len is None:
            self._len = len(self._specs) if self._specs is not None else len(self.rows())
        return self._len

"""Root specs as rows (graph_cache/spec_rows.py): same digest as NodeSpecs, nothing built until needed."""
from __future__ import annotations

import marshal

from graph_cache.dirty import roots_digest
from graph_cache.model import NodeSpec
from graph_cache.spec_rows import SpecRows, rows_digest

SPECS = [NodeSpec("doc:a", "doc", ("a.md",), (), (("parse", "{}"),)), NodeSpec("sum:x", "sum", (), ("doc:a",))]


def test_digest_is_the_roots_digest_of_the_same_specs():
    rows = SpecRows(SPECS)
    assert roots_digest(rows) == roots_digest(list(SPECS)) == rows_digest(rows.rows())
    assert list(rows) == SPECS and rows[1] == SPECS[1] and len(rows) == 2
    assert roots_digest(list(SPECS[:1])) != roots_digest(list(SPECS))


def test_lazy_rows_are_not_unmarshalled_for_their_digest_or_length():
    stored = SpecRows(SPECS)
    lazy = SpecRows.lazy(b"not marshal at all", stored.digest(), 2)
    assert roots_digest(lazy) == roots_digest(list(SPECS)) and len(lazy) == 2  # no decoding needed
    real = SpecRows.lazy(marshal.dumps(stored.rows()), stored.digest(), 2)
    assert list(real) == SPECS  # decoded when iterated (a full build)


def test_rows_for_one_pass_are_not_kept():
    stored = SpecRows(SPECS)
    lazy = SpecRows.lazy(marshal.dumps(stored.rows()), stored.digest(), 2)
    once = lazy.rows_once()
    assert once == stored.rows() and lazy.rows_once() is not once  # decoded again: nothing kept
    assert lazy.rows() == once and lazy.rows_once() is lazy.rows()  # kept once `rows` decoded them
    assert stored.rows_once() is stored.rows()  # built from specs: the same list

"""`jsonfmt.dumps_indent2` is byte-identical to `json.dumps(ensure_ascii=False, indent=2)`."""
from __future__ import annotations

import enum
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from promptgen.jsonfmt import dumps_indent2, dumps_indent2_pieces


def reference(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False)


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(), st.text(alphabet=st.sampled_from('"\\\n\t\x00\x1f\x7f\u2028\ud800\U0001f4cb a')))
keys = st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none(), st.floats())
trees = st.recursive(scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=5), st.lists(kids, max_size=3).map(tuple),
    st.dictionaries(keys, kids, max_size=5)), max_leaves=40)


@settings(max_examples=800, deadline=None)
@given(trees)
def test_matches_json_dumps(obj):
    assert dumps_indent2(obj) == reference(obj)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, st.one_of(trees, st.lists(trees, max_size=7)), max_size=4), st.integers(1, 3))
def test_pieces_join_to_json_dumps(obj, batch):
    assert "".join(dumps_indent2_pieces(obj, batch)) == reference(obj)


class Color(enum.IntEnum):
    RED = 1


class Text(str):
    pass


def test_fallback_cases_match_json_dumps():
    deep = []
    node = deep
    for _ in range(100):
        node.append([])
        node = node[0]
    for obj in ({}, [], (), "", {"a": {}}, {"a": []}, [float("nan"), float("-inf"), 1e300, -0.0, 2**70],
                {1: "x", None: 1, True: 2}, [Color.RED], {"k": Color.RED}, deep, ["a", 1, None, "b"],
                ["a", {"b": ["c", "d"]}], [Color.RED, "x"], ["x", Color.RED], [Text("sub"), "x"], {Text("k"): Text("v")}):
        assert dumps_indent2(obj) == reference(obj)
        assert "".join(dumps_indent2_pieces({"k": [obj, obj], "j": obj})) == reference({"k": [obj, obj], "j": obj})

"""verify(): each reason code with its detail and old/new fingerprints, in a deterministic order."""
from __future__ import annotations

from graph_cache.model import NodeSpec, Reason, ReasonCode, Trace, file_input, node_input
from graph_cache.verify import verify

SPEC = NodeSpec("t:x", "t", ("a.md", "b.md"), ("d:1", "d:2"))
INPUTS = {file_input("a.md"): "fa", file_input("b.md"): "fb", node_input("d:1"): "o1", node_input("d:2"): "o2"}


def trace(inputs=INPUTS, version="v1"):
    return Trace("t:x", "t", version, tuple(sorted(inputs.items())), "out")


def test_up_to_date():
    assert verify(SPEC, trace(), "v1", dict(INPUTS)) is None


def test_new():
    assert verify(SPEC, None, "v1", INPUTS) == Reason(ReasonCode.NEW)


def test_version_changed_beats_inputs():
    changed = dict(INPUTS, **{file_input("a.md"): "zz"})
    assert verify(SPEC, trace(), "v2", changed) == Reason(ReasonCode.VERSION_CHANGED, "t", "v1", "v2")


def test_file_content_changed_names_path():
    cur = dict(INPUTS, **{file_input("b.md"): "fb2"})
    assert verify(SPEC, trace(), "v1", cur) == Reason(ReasonCode.INPUT_CHANGED, "b.md", "fb", "fb2")


def test_file_deleted_is_input_changed_to_absent():
    cur = dict(INPUTS, **{file_input("a.md"): "absent"})
    assert verify(SPEC, trace(), "v1", cur) == Reason(ReasonCode.INPUT_CHANGED, "a.md", "fa", "absent")


def test_dep_output_changed_names_node():
    cur = dict(INPUTS, **{node_input("d:2"): "o2b"})
    assert verify(SPEC, trace(), "v1", cur) == Reason(ReasonCode.DEPENDENCY_CHANGED, "d:2", "o2", "o2b")


def test_first_difference_in_sorted_order_files_first():
    cur = dict(INPUTS, **{node_input("d:1"): "n", file_input("b.md"): "n", file_input("a.md"): "n"})
    assert verify(SPEC, trace(), "v1", cur).detail == "a.md"
    cur = dict(INPUTS, **{node_input("d:2"): "n", node_input("d:1"): "n"})
    assert verify(SPEC, trace(), "v1", cur).detail == "d:1"


def test_added_and_removed_inputs():
    added_file = dict(INPUTS, **{file_input("c.md"): "fc"})
    assert verify(SPEC, trace(), "v1", added_file) == Reason(ReasonCode.INPUT_CHANGED, "c.md", None, "fc")
    removed_file = {k: v for k, v in INPUTS.items() if k != file_input("b.md")}
    assert verify(SPEC, trace(), "v1", removed_file) == Reason(ReasonCode.INPUT_CHANGED, "b.md", "fb", None)
    added_dep = dict(INPUTS, **{node_input("d:0"): "o0"})
    assert verify(SPEC, trace(), "v1", added_dep) == Reason(ReasonCode.DEPENDENCY_CHANGED, "d:0", None, "o0")
    removed_dep = {k: v for k, v in INPUTS.items() if k != node_input("d:2")}
    assert verify(SPEC, trace(), "v1", removed_dep) == Reason(ReasonCode.DEPENDENCY_CHANGED, "d:2", "o2", None)


def test_key_set_difference_reported_before_value_changes():
    cur = {k: "changed" for k in INPUTS}
    cur[node_input("d:9")] = "o9"
    assert verify(SPEC, trace(), "v1", cur) == Reason(ReasonCode.DEPENDENCY_CHANGED, "d:9", None, "o9")


def test_param_changed_is_input_changed_with_prefixed_name():
    spec = NodeSpec("t:x", "t", ("a.md",), (), (("layout", "flat"),))
    inputs = {file_input("a.md"): "fa", "param:layout": "h1"}
    assert verify(spec, trace(inputs), "v1", dict(inputs, **{"param:layout": "h2"})) == Reason(
        ReasonCode.INPUT_CHANGED, "param:layout", "h1", "h2")
    assert verify(spec, trace(inputs), "v1", {file_input("a.md"): "fa"}) == Reason(
        ReasonCode.INPUT_CHANGED, "param:layout", "h1", None)


def test_reason_as_dict():
    assert Reason(ReasonCode.NEW).as_dict() == {"code": "new", "detail": ""}
    assert Reason(ReasonCode.INPUT_CHANGED, "a", "1", "2").as_dict() == {
        "code": "input-changed", "detail": "a", "old": "1", "new": "2"}

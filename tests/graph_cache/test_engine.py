"""Engine semantics on the in-memory filesystem and an in-memory store (no disk)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph_cache.engine import Engine, canonical_json
from graph_cache.errors import ComputeError, CycleError, GraphCacheError, SpecConflictError, UndeclaredInputError
from graph_cache.events import (BuildFinished, BuildPlanned, BuildStarted, CountingSink, EventBus, NodeDecided,
                                PhaseTimed, RecordingSink, StateWarning)
from graph_cache.fingerprint import hash_bytes
from graph_cache.fs_memory import MemoryFileSystem
from graph_cache.model import Decision, NodeSpec, Reason, ReasonCode, Rule, last_decision
from graph_cache.store import Store

HIT, MISS, CUTOFF = Decision.HIT, Decision.MISS, Decision.CUTOFF


def read_all(spec, ctx):
    out = []
    for p in spec.files:
        try:
            out.append(ctx.read_file(p).decode())
        except FileNotFoundError:
            out.append("<missing>")
    return "".join(out)


class World:
    """A small generic graph: sources, a length (cutoff-prone), an upper-case copy, a report, and an
    index node that generates one `item` child per line of index.txt."""

    def __init__(self, *, versions=None, global_version="g1", store=None):
        self.fs = MemoryFileSystem()
        self.calls: list[str] = []
        self.versions = dict(versions or {})
        self.global_version = global_version
        self.store = store or Store.memory()
        self.bus = EventBus()
        self.rec = RecordingSink()
        self.bus.subscribe(self.rec)
        self.fs.write("a.md", "alpha")
        self.fs.write("b.md", "beta")
        self.fs.write("index.txt", "x\ny\n")
        self.fs.write("items/x.md", "X!")
        self.fs.write("items/y.md", "Y!")
        self.fs.clock.advance(10)

    def rules(self):
        calls = self.calls

        def track(fn):
            def run(spec, ctx):
                calls.append(spec.id)
                return fn(spec, ctx)
            return run

        def report(spec, ctx):
            return {d: ctx.output_of(d) for d in spec.deps}

        def index_children(spec, out):
            return [NodeSpec(f"item:{name}", "item", (f"items/{name}.md",), (spec.id,)) for name in out]

        def item(spec, ctx):
            return {"text": read_all(spec, ctx), "position": ctx.output_of(spec.deps[0]).index(spec.key)}

        defs = {
            "src": (read_all, None),
            "len": (lambda s, c: len(c.output_of(s.deps[0])), None),
            "upper": (lambda s, c: c.output_of(s.deps[0]).upper(), None),
            "report": (report, None),
            "index": (lambda s, c: [ln for ln in read_all(s, c).splitlines() if ln], index_children),
            "item": (item, None),
        }
        return {t: Rule(t, self.versions.get(t, "1"), track(fn), kids) for t, (fn, kids) in defs.items()}

    def roots(self):
        return [
            NodeSpec("src:a", "src", ("a.md",)),
            NodeSpec("src:b", "src", ("b.md",)),
            NodeSpec("len:a", "len", (), ("src:a",)),
            NodeSpec("upper:a", "upper", (), ("src:a",)),
            NodeSpec("report:all", "report", (), ("len:a", "src:b", "upper:a")),
            NodeSpec("index:main", "index", ("index.txt",)),
        ]

    def engine(self):
        return Engine(self.fs, self.store, self.rules(), self.global_version, self.bus)

    def build(self, roots=None, **kw):
        self.calls.clear()
        return self.engine().build(self.roots() if roots is None else roots, **kw)


def decided(result, decision):
    return sorted(k for k, (d, _) in result.decisions.items() if d == decision)


def check_invariants(result):
    c = result.counts
    assert c.total(HIT) + c.total(MISS) + c.total(CUTOFF) == c.nodes_total == len(result.decisions)
    assert c.recomputed == [k for k, (d, _) in result.decisions.items() if d != HIT]
    for node_id, (d, reason) in result.decisions.items():
        assert (reason is None) == (d == HIT), node_id


ALL_NODES = ["index:main", "item:x", "item:y", "len:a", "report:all", "src:a", "src:b", "upper:a"]


def test_first_build_all_new_then_all_hits():
    w = World()
    r = w.build()
    check_invariants(r)
    assert sorted(r.decisions) == ALL_NODES and decided(r, MISS) == ALL_NODES
    assert all(reason == Reason(ReasonCode.NEW) for _, reason in r.decisions.values())
    assert r.counts.by_type["item"] == {HIT: 0, MISS: 2, CUTOFF: 0}
    assert r.output("report:all") == {"len:a": 5, "src:b": "beta", "upper:a": "ALPHA"}
    assert r.output("item:y") == {"text": "Y!", "position": 1}
    reads = w.fs.read_count()

    loads = []
    orig = w.store.load_output
    w.store.load_output = lambda node_id: loads.append(node_id) or orig(node_id)
    r2 = w.build()
    check_invariants(r2)
    assert decided(r2, HIT) == ALL_NODES and w.calls == [] and r2.counts.recomputed == []
    assert w.fs.read_count() == reads  # stat shortcut: nothing read
    assert loads == []  # hit outputs are not loaded ...
    assert r2.output("report:all")["upper:a"] == "ALPHA" and loads == ["report:all"]  # ... until asked for


def test_touch_only_is_all_hits():
    w = World()
    w.build()
    for p in ["a.md", "b.md", "index.txt", "items/x.md"]:
        w.fs.touch(p)
    w.fs.clock.advance(10)
    r = w.build()
    assert decided(r, HIT) == ALL_NODES and w.calls == []
    assert r.files["a.md"].stat == w.fs.stat("a.md")  # refreshed stat: next time no re-hash
    reads = w.fs.read_count()
    w.build()
    assert w.fs.read_count() == reads


def test_content_change_is_miss_with_reason_and_cutoff_spares_dependents():
    w = World()
    old = w.build().traces
    w.fs.write("a.md", "gamma")  # same length: len:a recomputes to the same value
    w.fs.clock.advance(10)
    r = w.build()
    check_invariants(r)
    assert r.decisions["src:a"] == (MISS, Reason(ReasonCode.INPUT_CHANGED, "a.md", hash_bytes(b"alpha"),
                                                 hash_bytes(b"gamma")))
    assert r.decisions["len:a"][0] == CUTOFF
    assert r.decisions["len:a"][1] == Reason(ReasonCode.DEPENDENCY_CHANGED, "src:a", old["src:a"].output_fp,
                                             r.traces["src:a"].output_fp)
    assert r.decisions["upper:a"][0] == MISS
    assert r.decisions["report:all"] == (MISS, Reason(ReasonCode.DEPENDENCY_CHANGED, "upper:a",
                                                      old["upper:a"].output_fp, r.traces["upper:a"].output_fp))
    assert decided(r, HIT) == ["index:main", "item:x", "item:y", "src:b"]
    assert r.counts.recomputed == ["src:a", "len:a", "upper:a", "report:all"]  # decision order
    assert r.output("report:all")["upper:a"] == "GAMMA"


def test_cutoff_makes_downstream_hit():
    w = World()
    roots = [NodeSpec("src:a", "src", ("a.md",)), NodeSpec("len:a", "len", (), ("src:a",)),
             NodeSpec("report:r", "report", (), ("len:a",))]
    w.build(roots)
    w.fs.write("a.md", "omega")
    w.fs.clock.advance(10)
    r = w.build(roots)
    assert [r.decisions[n][0] for n in ("src:a", "len:a", "report:r")] == [MISS, CUTOFF, HIT]
    assert w.calls == ["src:a", "len:a"]
    assert r.counts.by_type["len"] == {HIT: 0, MISS: 0, CUTOFF: 1}


def test_dynamic_children_appear_and_disappear_and_are_pruned():
    w = World()
    w.build()
    w.fs.write("index.txt", "y\nz\n")
    w.fs.write("items/z.md", "Z!")
    w.fs.clock.advance(10)
    r = w.build()
    check_invariants(r)
    assert "item:x" not in r.decisions and r.decisions["item:z"] == (MISS, Reason(ReasonCode.NEW))
    assert r.decisions["item:y"][0] == MISS and r.decisions["item:y"][1].detail == "index:main"
    assert r.output("item:y") == {"text": "Y!", "position": 0}
    traces = w.store.traces()
    assert "item:x" not in traces and w.store.load_output("item:x") is None
    assert "items/x.md" not in w.store.files() and "items/z.md" in w.store.files()
    assert [c.id for c in traces["index:main"].children] == ["item:y", "item:z"]


def test_children_of_hit_come_from_trace():
    w = World()
    w.build()
    w.fs.write("items/x.md", "changed")
    w.fs.clock.advance(10)
    r = w.build()
    assert r.decisions["index:main"] == (HIT, None)
    assert r.decisions["item:x"] == (MISS, Reason(ReasonCode.INPUT_CHANGED, "items/x.md", hash_bytes(b"X!"),
                                                  hash_bytes(b"changed")))
    assert r.output("item:x")["text"] == "changed" and w.calls == ["item:x"]


def test_deleted_file_input():
    w = World()
    w.build()
    w.fs.delete("b.md")
    w.fs.clock.advance(10)
    r = w.build()
    assert r.decisions["src:b"] == (MISS, Reason(ReasonCode.INPUT_CHANGED, "b.md", hash_bytes(b"beta"), "absent"))
    assert r.output("src:b") == "<missing>" and "b.md" not in r.files and "b.md" not in w.store.files()
    w.fs.write("b.md", "beta")  # restored: recomputed, and the old output fingerprint comes back
    w.fs.clock.advance(10)
    r = w.build()
    assert r.decisions["src:b"][1].old == "absent" and r.output("report:all")["src:b"] == "beta"


def test_global_version_change_recomputes_everything_with_version_reason():
    w = World()
    w.build()
    w.global_version = "g2"
    r = w.build()
    assert {reason.code for _, reason in r.decisions.values()} == {ReasonCode.VERSION_CHANGED}
    assert all(d == CUTOFF for d, _ in r.decisions.values())  # same outputs: all cut off
    assert len(w.calls) == len(ALL_NODES)


def test_rule_version_change_only_touches_that_type():
    w = World()
    w.build()
    w.versions["upper"] = "2"
    r = w.build()
    assert r.decisions["upper:a"][1].code == ReasonCode.VERSION_CHANGED
    assert r.decisions["upper:a"][1].detail == "upper" and r.decisions["upper:a"][0] == CUTOFF
    assert decided(r, HIT) == [n for n in ALL_NODES if n != "upper:a"]


def test_spec_change_adds_input():
    w = World()
    w.build()
    roots = w.roots()
    roots[1] = NodeSpec("src:b", "src", ("a.md", "b.md"))
    r = w.build(roots)
    assert r.decisions["src:b"] == (MISS, Reason(ReasonCode.INPUT_CHANGED, "a.md", None, hash_bytes(b"alpha")))


def test_params_are_inputs_and_survive_as_children_of_hits():
    w = World()
    rules = w.rules()
    rules["par"] = Rule("par", "1", lambda s, c: dict(s.params))
    rules["gen"] = Rule("gen", "1", lambda s, c: ["k"], lambda s, out: [
        NodeSpec("par:child", "par", (), (), (("mode", s.params[0][1]),))])
    e = Engine(w.fs, w.store, rules, "g")
    roots = [NodeSpec("gen:1", "gen", (), (), (("mode", "a"),)), NodeSpec("par:1", "par", (), (), (("x", "1"),))]
    r = e.build(roots)
    assert r.output("par:child") == {"mode": "a"} and r.output("par:1") == {"x": "1"}
    r = e.build(roots)
    assert set(r.decisions.values()) == {(HIT, None)}  # the child's params came back from the trace
    assert w.store.traces()["gen:1"].children[0].params == (("mode", "a"),)
    roots[1] = NodeSpec("par:1", "par", (), (), (("x", "2"),))
    r = e.build(roots)
    assert r.decisions["par:1"] == (MISS, Reason(ReasonCode.INPUT_CHANGED, "param:x", hash_bytes(b"1"),
                                                 hash_bytes(b"2")))
    roots[0] = NodeSpec("gen:1", "gen", (), (), (("mode", "b"),))
    r = e.build(roots)
    assert r.decisions["gen:1"][0] == CUTOFF and r.decisions["par:child"][0] == MISS
    assert r.output("par:child") == {"mode": "b"}


def test_compute_error_is_wrapped_and_nothing_committed():
    w = World()
    w.build()
    before = (w.store.traces(), w.store.files(), w.store.last_run_id)
    w.fs.write("a.md", "boom")
    w.fs.clock.advance(10)
    rules = w.rules()

    def explode(spec, ctx):
        raise ValueError("bad input")

    rules["upper"] = Rule("upper", "1", explode)
    with pytest.raises(ComputeError) as ei:
        Engine(w.fs, w.store, rules, w.global_version, w.bus).build(w.roots())
    assert ei.value.node_id == "upper:a" and isinstance(ei.value.original, ValueError)
    assert "upper:a" in str(ei.value) and "bad input" in str(ei.value)
    assert (w.store.traces(), w.store.files(), w.store.last_run_id) == before


def test_undeclared_inputs_are_refused():
    w = World()
    sneaky = {"src": Rule("src", "1", lambda s, c: c.read_file("b.md").decode()),
              "len": Rule("len", "1", lambda s, c: c.output_of("src:b"))}
    with pytest.raises(ComputeError) as ei:
        Engine(w.fs, w.store, sneaky, "g").build([NodeSpec("src:a", "src", ("a.md",))])
    assert isinstance(ei.value.original, UndeclaredInputError)
    with pytest.raises(ComputeError) as ei:
        Engine(w.fs, w.store, sneaky, "g").build([NodeSpec("len:a", "len")])
    assert isinstance(ei.value.original, UndeclaredInputError)


def test_non_json_output_is_a_compute_error():
    w = World()
    rules = {"src": Rule("src", "1", lambda s, c: {1, 2})}
    with pytest.raises(ComputeError, match="src:a"):
        Engine(w.fs, w.store, rules, "g").build([NodeSpec("src:a", "src")])


def test_graph_errors():
    w = World()
    with pytest.raises(GraphCacheError, match="no rule for node type 'nope'"):
        w.build([NodeSpec("nope:1", "nope")])
    with pytest.raises(CycleError, match="len:a"):
        w.build([NodeSpec("len:a", "len", (), ("upper:a",)), NodeSpec("upper:a", "upper", (), ("len:a",))])
    with pytest.raises(CycleError, match="unknown node"):
        w.build([NodeSpec("len:a", "len", (), ("src:zzz",))])
    with pytest.raises(SpecConflictError):
        w.build([NodeSpec("src:a", "src", ("a.md",)), NodeSpec("src:a", "src", ("b.md",))])
    assert w.store.traces() == {}


def test_dry_run_reports_reasons_and_touches_nothing():
    w = World()
    w.build()
    w.fs.write("a.md", "alpha!")
    w.fs.write("index.txt", "x\ny\nz\n")
    w.fs.write("items/z.md", "Z")
    w.fs.clock.advance(10)
    before = (w.store.traces(), w.store.files(), w.store.last_run_id, w.store.next_run_id())
    r = w.build(dry_run=True)
    check_invariants(r)
    assert w.calls == [] and r.dry_run
    assert (w.store.traces(), w.store.files(), w.store.last_run_id, w.store.next_run_id()) == before
    assert r.decisions["src:a"][1].code == ReasonCode.INPUT_CHANGED
    assert r.decisions["len:a"] == (MISS, Reason(ReasonCode.DEPENDENCY_CHANGED, "src:a",
                                                 before[0]["src:a"].output_fp, None))
    assert r.decisions["report:all"][1] == Reason(ReasonCode.DEPENDENCY_CHANGED, "len:a",
                                                  before[0]["len:a"].output_fp, None)
    assert r.decisions["item:x"][1].detail == "index:main"  # children from the old trace
    assert "item:z" not in r.decisions  # unknown until the index is really recomputed
    assert r.decisions["src:b"] == (HIT, None)
    assert r.counts.by_type["src"] == {HIT: 1, MISS: 1, CUTOFF: 0}
    with pytest.raises(GraphCacheError):
        r.output("src:a")
    real = w.build()  # the real build then does it
    assert real.decisions["item:z"][1] == Reason(ReasonCode.NEW)


def test_events_drive_counts_and_phases():
    w = World()
    sink = CountingSink()
    w.bus.subscribe(sink)
    r = w.build()
    kinds = [type(e) for e in w.rec.events]
    assert kinds[0] is BuildStarted and kinds[-1] is BuildFinished
    decided_events = w.rec.of_type(NodeDecided)
    assert [e.node_id for e in decided_events] == list(r.decisions)
    assert {e.phase for e in w.rec.of_type(PhaseTimed)} == {"verify", "compute", "persist"}
    assert w.rec.of_type(BuildFinished)[0].counts == r.counts == sink.counts
    assert all(e.seconds >= 0 for e in decided_events)
    # roots in the order given, a dependent as soon as its deps are done (depth-first by group)
    assert [e.node_id for e in decided_events][:5] == ["src:a", "src:b", "len:a", "upper:a", "report:all"]


def test_the_plan_is_announced_before_any_decision():
    """`BuildPlanned` follows `BuildStarted`: a first build is full (every root queued); an edit build is
    change-driven, its queue the one node reading the edited file (the wave grows from there)."""
    w = World()
    w.build()
    assert [type(e) for e in w.rec.events[:3]] == [BuildStarted, BuildPlanned, NodeDecided]
    assert w.rec.of_type(BuildPlanned) == [BuildPlanned("full", len(w.roots()))]
    w.rec.events.clear()
    w.fs.write("a.md", "alpha, edited")
    w.fs.clock.advance(10)
    r = w.build()
    assert r.mode == "changes" and w.rec.of_type(BuildPlanned) == [BuildPlanned("changes", 1)]
    assert [type(e) for e in w.rec.events[:2]] == [BuildStarted, BuildPlanned]


def test_state_reset_reason_then_normal():
    w = World(store=Store.memory(reset_warning="state.db was corrupt"))
    r = w.build()
    assert r.reset_warning == "state.db was corrupt"
    assert {reason for _, reason in r.decisions.values()} == {Reason(ReasonCode.STATE_RESET, "state.db was corrupt")}
    assert w.rec.of_type(StateWarning)[0].message == "state.db was corrupt"
    r2 = w.build()
    assert r2.reset_warning is None and decided(r2, HIT) == ALL_NODES


def test_missing_stored_output_is_rematerialised():
    w = World()
    w.build()
    w.store._conn.execute("DELETE FROM outputs WHERE node_id = 'upper:a'")
    w.fs.write("b.md", "BETA")
    w.fs.clock.advance(10)
    r = w.build()
    assert r.decisions["upper:a"] == (HIT, None)  # still a hit; its output was recomputed on demand
    assert r.output("report:all") == {"len:a": 5, "src:b": "BETA", "upper:a": "ALPHA"}
    assert w.store.load_output("upper:a") == canonical_json("ALPHA")  # and persisted again


def test_caller_stats_are_used():
    w = World()
    w.build()
    stats = {p: w.fs.stat(p) for p in ["a.md", "b.md", "index.txt", "items/x.md", "items/y.md"]}
    stats["b.md"] = None  # the caller knows it is gone
    w.fs.fail_stats.update(stats)  # any stat call would now fail
    r = w.build(stats=stats)
    assert r.decisions["src:b"][1] == Reason(ReasonCode.INPUT_CHANGED, "b.md", hash_bytes(b"beta"), "absent")
    assert r.decisions["src:a"] == (HIT, None)


def test_racy_same_size_rewrite_is_detected():
    w = World()
    w.fs.write("a.md", "abcde")  # written at the very instant of the build
    r = w.build()
    assert r.output("src:a") == "abcde"
    w.fs.write("a.md", "edcba")  # same size, same mtime (clock did not move), same inode
    r = w.build()
    assert r.decisions["src:a"][0] == MISS and r.output("src:a") == "edcba"


def test_unreadable_file_recomputes_when_fixed():
    w = World()
    w.fs.fail_reads.add("a.md")
    rules = w.rules()
    rules["src"] = Rule("src", "1", lambda s, c: _try_read(c, s.files[0]))
    e = Engine(w.fs, w.store, rules, "g")
    root = [NodeSpec("src:a", "src", ("a.md",))]
    assert e.build(root).output("src:a") == "error 13"
    assert e.build(root).decisions["src:a"] == (HIT, None)
    w.fs.fail_reads.clear()
    r = e.build(root)
    assert r.decisions["src:a"][1].old.startswith("unreadable:13:") and r.output("src:a") == "alpha"


def _try_read(ctx, path):
    try:
        return ctx.read_file(path).decode()
    except OSError as e:
        return f"error {e.errno}"


def test_traces_record_run_and_last_decision():
    w = World()
    r1 = w.build()
    w.fs.write("b.md", "bbbb")
    w.fs.clock.advance(10)
    r2 = w.build()
    assert r2.run_id == r1.run_id + 1 == w.store.last_run_id
    traces = w.store.traces()
    assert traces["src:b"].run_id == r2.run_id and traces["src:a"].run_id == r1.run_id
    assert last_decision(traces["src:b"], w.store.last_run_id) == (MISS, Reason(
        ReasonCode.INPUT_CHANGED, "b.md", hash_bytes(b"beta"), hash_bytes(b"bbbb")))
    assert last_decision(traces["src:a"], w.store.last_run_id) == (HIT, None)
    assert traces["src:a"].decision == MISS and traces["src:a"].reason == Reason(ReasonCode.NEW)


def test_decision_order_is_deterministic():
    orders = []
    for _ in range(2):
        w = World()
        orders.append(list(w.build().decisions))
    assert orders[0] == orders[1]
    # the index root comes last among the roots, and its generated items follow it directly
    assert orders[0][-3:] == ["index:main", "item:x", "item:y"]


# -- property test ------------------------------------------------------------------------------------
# After any sequence of edits, an incremental build equals a clean build, and it recomputes exactly the
# nodes whose inputs (file contents, upstream outputs, version) really changed.

FILES = ["f0", "f1", "f2", "f3"]
CONTENTS = ["", "a", "b", "ab", "ba", "abc", "zz"]  # equal sizes on purpose (same-size rewrites)


def value(ctx, path):
    try:
        return sum((i + 1) * b for i, b in enumerate(ctx.read_file(path))) % 5
    except FileNotFoundError:
        return 7


def compute_n(spec, ctx):
    return (sum(value(ctx, p) for p in spec.files) + sum(ctx.output_of(d) for d in spec.deps)) % 4


def compute_g(spec, ctx):
    return value(ctx, spec.files[0]) % 4 + sum(ctx.output_of(d) for d in spec.deps) % 2


def children_g(spec, out):
    return [NodeSpec(f"c:{spec.key}/{j}", "c", (FILES[j % len(FILES)],), (spec.id,)) for j in range(out)]


def compute_c(spec, ctx):
    return (value(ctx, spec.files[0]) + ctx.output_of(spec.deps[0]) + int(spec.key.rsplit("/", 1)[1])) % 3


@st.composite
def graphs(draw):
    count = draw(st.integers(1, 6))
    roots = []
    for i in range(count):
        kind = draw(st.sampled_from(["n", "n", "g"]))
        deps = tuple(r.id for r in roots if r.type == "n" and draw(st.booleans()))
        if kind == "g":
            files = (draw(st.sampled_from(FILES)),)
        else:
            files = tuple(sorted(draw(st.sets(st.sampled_from(FILES), max_size=3))))
        roots.append(NodeSpec(f"{kind}:{i}", kind, files, deps))
    return roots


ops = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(FILES), st.sampled_from(CONTENTS)),
    st.tuples(st.just("flip"), st.sampled_from(FILES)),  # same-size edit: racy if the clock did not move
    st.tuples(st.just("touch"), st.sampled_from(FILES)),
    st.tuples(st.just("delete"), st.sampled_from(FILES)),
    st.tuples(st.just("bump"), st.sampled_from(["n", "g", "c"])),
    st.tuples(st.just("noop")),
    # root changes (root_changes.py): a root added (reading a file, maybe depending on an `n` root), a
    # root removed (its dependents then fail, in both builds), a root's deps changed
    st.tuples(st.just("add"), st.sampled_from(["n", "g"]), st.sampled_from(FILES), st.integers(-1, 5)),
    st.tuples(st.just("drop"), st.integers(0, 7)),
    st.tuples(st.just("redep"), st.integers(0, 7), st.integers(0, 7)),
)


def make_rules(versions):
    return {"n": Rule("n", str(versions["n"]), compute_n),
            "g": Rule("g", str(versions["g"]), compute_g, children_g),
            "c": Rule("c", str(versions["c"]), compute_c)}


def all_specs(result, roots):
    specs = {r.id: r for r in roots}
    for t in result.traces.values():
        specs.update((c.id, c) for c in t.children)
    return specs


@settings(max_examples=200, deadline=None)
@given(roots=graphs(), initial=st.dictionaries(st.sampled_from(FILES), st.sampled_from(CONTENTS)),
       first_advance=st.booleans(), steps=st.lists(st.tuples(ops, st.sampled_from([True, False, False])),
                                                    max_size=6))
def test_incremental_equals_clean_and_recomputes_exactly_what_changed(roots, initial, first_advance, steps):
    fs = MemoryFileSystem()
    for path, content in initial.items():
        fs.write(path, content)
    versions = {"n": 1, "g": 1, "c": 1}
    store = Store.memory()
    prev = None  # (file contents, outputs, specs, versions) at the previous build
    roots = list(roots)
    for step, (op, advance) in enumerate([(("noop",), first_advance)] + steps):
        if op[0] == "add":
            kind, path, dep = op[1], op[2], op[3]
            ns = [r.id for r in roots if r.type == "n"]
            deps = (ns[dep % len(ns)],) if dep >= 0 and ns else ()
            roots.append(NodeSpec(f"{kind}:new{step}", kind, (path,), deps))
        elif op[0] == "drop" and roots:
            del roots[op[1] % len(roots)]
        elif op[0] == "redep" and roots:
            i = op[1] % len(roots)
            earlier = [r.id for r in roots[:i] if r.type == "n"]
            r = roots[i]
            dep = earlier[op[2] % len(earlier)] if earlier else None
            deps = tuple(d for d in r.deps if d != dep) if dep in r.deps else r.deps + ((dep,) if dep else ())
            roots[i] = NodeSpec(r.id, r.type, r.files, deps)
        if op[0] == "write":
            fs.write(op[1], op[2])
        elif op[0] == "flip" and fs.exists(op[1]) and fs.read_bytes(op[1]):
            data = fs.read_bytes(op[1])
            fs.write(op[1], (b"b" if data[:1] == b"a" else b"a") + data[1:])
        elif op[0] == "touch" and fs.exists(op[1]):
            fs.touch(op[1])
        elif op[0] == "delete" and fs.exists(op[1]):
            fs.delete(op[1])
        elif op[0] == "bump":
            versions[op[1]] += 1
        if advance:  # without it, writes land in the same clock tick as the previous build (racy)
            fs.clock.advance(1)
        rules = make_rules(versions)
        try:
            clean = Engine(fs, Store.memory(), rules, "g").build(roots)
        except CycleError:  # a root depends on a removed one: the incremental build fails the same way
            with pytest.raises(CycleError):
                Engine(fs, store, rules, "g").build(roots)
            continue
        inc = Engine(fs, store, rules, "g").build(roots)

        assert set(inc.decisions) == set(clean.decisions)
        outputs = {n: clean.output(n) for n in clean.decisions}
        assert {n: inc.output(n) for n in inc.decisions} == outputs
        c = inc.counts
        assert c.nodes_total == len(inc.decisions) == c.total("hit") + c.total("miss") + c.total("cutoff")

        contents = {p: fs.read_bytes(p) if fs.exists(p) else None for p in FILES}
        specs = all_specs(clean, roots)
        assert set(specs) == set(inc.decisions)
        if prev is None:
            expected = set(specs)
        else:
            p_contents, p_outputs, p_specs, p_versions = prev
            expected = {
                n for n, s in specs.items()
                if n not in p_specs or p_specs[n] != s or versions[s.type] != p_versions[s.type]
                or any(contents[f] != p_contents[f] for f in s.files)
                or any(outputs[d] != p_outputs[d] for d in s.deps)
            }
        assert set(c.recomputed) == expected
        # same versions as the last build (roots added, removed or changed or not): only the dirty
        # closure was visited
        assert inc.mode == ("changes" if prev is not None and versions == prev[3] else "full")
        for n in c.recomputed:
            was_same = prev is not None and n in prev[1] and prev[1][n] == outputs[n]
            assert inc.decisions[n][0] == (Decision.CUTOFF if was_same else Decision.MISS)
        prev = (contents, outputs, specs, dict(versions))

"""Parallel prefetch of `Rule.parallel` roots: same results as a sequential build, errors, threshold."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from graph_cache import parallel, prefetch
from graph_cache.engine import Engine
from graph_cache.errors import ComputeError, UndeclaredInputError
from graph_cache.events import BuildFinished, EventBus, NodeDecided, PhaseTimed, RecordingSink
from graph_cache.fs_memory import MemoryFileSystem
from graph_cache.lock import StateLock
from graph_cache.model import Decision, NodeSpec, Rule
from graph_cache.store import Store

pytestmark = pytest.mark.skipif(parallel.fork_context() is None, reason="needs the fork start method")

N_DOCS = 240
N_LISTS = 8


def parse_doc(spec, ctx):
    """A real (small) parser: key: value lines -> dict, plus some CPU work on the text."""
    try:
        text = ctx.read_file(spec.files[0]).decode()
    except OSError as exc:
        return {"error": type(exc).__name__}
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    digest = 0
    for ch in text * 20:
        digest = (digest * 31 + ord(ch)) % 1_000_003
    out = {"fields": fields, "words": len(text.split()), "digest": digest, "params": dict(spec.params)}
    if spec.type == "doc" and spec.key.endswith("7"):  # some rules serialise themselves
        return ('{"raw":%d}' % digest).encode()
    return out


def list_children(spec, out):
    return [NodeSpec(f"item:{spec.key}/{name}", "item", deps=(spec.id,)) for name in out["fields"]]


def item(spec, ctx):
    parent = ctx.output_of(spec.deps[0])
    return parent["fields"][spec.key.split("/", 1)[1]]


def summary(spec, ctx):
    return sum(ctx.output_of(d).get("words", 0) for d in spec.deps if isinstance(ctx.output_of(d), dict))


def rules(doc_version="1", doc=parse_doc):
    return {
        "doc": Rule("doc", doc_version, doc, parallel=True),
        "list": Rule("list", "1", parse_doc, list_children, parallel=True),  # children computed in the parent
        "item": Rule("item", "1", item),
        "summary": Rule("summary", "1", summary),
        "plain": Rule("plain", "1", parse_doc),  # not parallel: always computed by the loop
    }


def doc_path(i):
    return f"docs/d{i:03}.md"


class World:
    def __init__(self, workers, n_docs=N_DOCS):
        self.fs = MemoryFileSystem(fail_reads={doc_path(5)})
        self.store = Store.memory()
        self.bus = EventBus()
        self.rec = RecordingSink()
        self.bus.subscribe(self.rec)
        self.workers = workers
        self.n_docs = n_docs
        for i in range(n_docs):
            if i != 3:  # docs/d003.md is missing
                self.fs.write(doc_path(i), f"title: doc {i}\nowner: team{i % 7}\n\n" + "lorem ipsum " * (i % 13))
        for i in range(N_LISTS):
            self.fs.write(f"lists/l{i}.txt", "".join(f"k{j}: v{i}-{j}\n" for j in range(i + 1)))
        self.fs.write("plain.md", "a: b\n")
        self.fs.clock.advance(10)

    def roots(self):
        docs = [NodeSpec(f"doc:{i:03}", "doc", (doc_path(i),), params=(("n", str(i % 3)),))
                for i in range(self.n_docs)]
        lists = [NodeSpec(f"list:{i}", "list", (f"lists/l{i}.txt",)) for i in range(N_LISTS)]
        plain = [NodeSpec("plain:x", "plain", ("plain.md",))]
        dep_on_doc = [NodeSpec("doc:dep", "doc", (doc_path(0),), deps=("plain:x",))]  # has deps: not prefetched
        summ = [NodeSpec("summary:all", "summary", deps=tuple(s.id for s in docs + dep_on_doc))]
        return docs + lists + plain + dep_on_doc + summ

    def build(self, **kw):
        engine = Engine(self.fs, self.store, kw.pop("rules", None) or rules(), "g", self.bus, workers=self.workers)
        self.rec.events.clear()
        return engine.build(self.roots(), **kw)


def snapshot(world, result, reads=True):
    """Everything observable about a build, minus wall-clock fields (and the parent's file reads: workers
    read the files of nodes never built, and their reads are not counted by the parent's fake)."""
    events = []
    for ev in world.rec.events:
        if isinstance(ev, (NodeDecided, PhaseTimed, BuildFinished)):
            ev = ev._replace(seconds=0.0)
        events.append(ev)
    traces = {k: t._replace(built_at=0.0) for k, t in result.traces.items()}
    outputs = {k: world.store.load_output(k) for k in sorted(result.traces)}
    return {
        "by_type": result.counts.by_type, "recomputed": result.counts.recomputed,
        "decisions": list(result.decisions.items()), "events": events, "traces": traces,
        "files": list(result.files.items()), "outputs": outputs,
        "decoded": {k: result.output(k) for k in sorted(result.traces)},
        "stored_files": world.store.files(), "reads": dict(world.fs.reads) if reads else None,
    }


def edit(world, indices, text="title: edited\n"):
    for i in indices:
        world.fs.write(doc_path(i), text + str(i))
    world.fs.clock.advance(10)


def test_parallel_build_is_identical_to_sequential(pool_calls):
    seq, par = World(workers=1), World(workers=2)
    steps = [
        ("cold", lambda w: None, {}),
        ("noop", lambda w: None, {}),
        ("many edits", lambda w: edit(w, range(0, N_DOCS, 2)), {}),  # misses + summary
        ("same bytes", lambda w: edit(w, range(0, N_DOCS, 2)), {}),  # re-hashed, equal digests: all hits
        ("version bump", lambda w: None, {"rules": rules(doc_version="2")}),  # stat shortcut: parent reads
        ("touch", lambda w: [w.fs.touch(doc_path(i)) for i in range(N_DOCS) if i != 3], {"rules": rules("2")}),
    ]
    results = {}
    for name, change, kw in steps:
        change(seq)
        change(par)
        s_res, p_res = seq.build(**dict(kw)), par.build(**dict(kw))
        assert snapshot(par, p_res, reads=False) == snapshot(seq, s_res, reads=False), name
        assert all(n <= seq.fs.reads[p] for p, n in par.fs.reads.items()), name  # nothing read twice
        results[name] = p_res
    # the pool computed the docs of the cold build and of the version bump (never built / built by another
    # version); the 120 edits of files already built stayed in one process. Workers fingerprint the files
    # of such nodes, so missing d003 and unreadable d005 are submitted but left to the loop; lists count
    # too (cold); doc:dep has deps on a non-parallel node
    assert [tuple(c) for c in pool_calls] == [(N_DOCS + N_LISTS, N_DOCS - 2 + N_LISTS), (N_DOCS, N_DOCS - 2)]
    assert results["version bump"].counts.by_type["doc"][Decision.CUTOFF] == N_DOCS + 1
    assert results["touch"].counts.recomputed == ["doc:005"]  # unreadable: its fingerprint has the mtime


def test_parallel_cold_build_counts_and_order():
    w = World(workers=2)
    result = w.build()
    assert result.counts.nodes_total == N_DOCS + N_LISTS + sum(range(1, N_LISTS + 1)) + 3
    assert result.counts.recomputed == list(result.decisions)  # every node recomputed, in decision order
    assert result.output("doc:003") == {"error": "FileNotFoundError"}
    assert result.output("doc:005") == {"error": "PermissionError"}
    assert result.output("doc:007") == {"raw": result.output("doc:007")["raw"]}
    assert result.output("item:3/k2") == "v3-2"
    assert w.fs.reads[doc_path(0)] == 1  # fingerprinted once, the bytes went to the worker


def test_compute_phase_includes_pool_time():
    def slow(spec, ctx):
        time.sleep(0.005)
        return parse_doc(spec, ctx)

    w = World(workers=2, n_docs=128)
    w.build(rules=rules(doc=slow))
    compute = next(e.seconds for e in w.rec.events if isinstance(e, PhaseTimed) and e.phase == "compute")
    assert compute >= 0.2  # 128 x 5 ms over 2 workers, measured in the parent


def test_workers_collect_cycles_even_when_the_parent_does_not(pool_calls):
    """A parent may run with the collector off (promptgen's builds do while they only load and compare);
    the workers it forks run rules, which may leave cycles, so they collect whatever the parent chose."""
    import gc

    def report(spec, ctx):
        out = parse_doc(spec, ctx)
        return {**out, "pid": os.getpid(), "collecting": gc.isenabled()} if isinstance(out, dict) else out

    w = World(workers=2)
    enabled = gc.isenabled()
    gc.disable()
    try:
        result = w.build(rules=rules(doc=report))
    finally:
        if enabled:
            gc.enable()
    outputs = [result.output(f"doc:{i:03}") for i in range(N_DOCS)]
    in_workers = [o for o in outputs if "pid" in o and o["pid"] != os.getpid()]
    assert pool_calls and in_workers and all(o["collecting"] for o in in_workers)


def failing(bad, exc_factory):
    def compute(spec, ctx):
        if spec.id == bad:
            raise exc_factory()
        return parse_doc(spec, ctx)
    return compute


def run_failing(workers, exc_factory, bad="doc:100"):
    w = World(workers=workers)
    with pytest.raises(ComputeError) as info:
        w.build(rules=rules(doc=failing(bad, exc_factory)))
    decided = [e.node_id for e in w.rec.events if isinstance(e, NodeDecided)]
    return w, info.value, decided


def test_worker_exception_surfaces_like_sequential(pool_calls):
    _, seq_err, seq_decided = run_failing(1, lambda: ValueError("bad front matter"))
    w, par_err, par_decided = run_failing(2, lambda: ValueError("bad front matter"))
    assert pool_calls and pool_calls[-1][1] >= 100  # doc:100 came from a worker (tasks go ahead of the loop)
    assert par_err.node_id == seq_err.node_id == "doc:100"
    assert type(par_err.original) is ValueError and str(par_err) == str(seq_err)
    assert "bad front matter" in str(par_err.original.__cause__)  # the worker's traceback
    assert par_decided == seq_decided  # the loop fails at the same node, after the same decisions
    assert w.store.traces() == {} and w.store.last_run_id == 0  # a failing build writes nothing
    w.build()  # and the next build works
    assert w.store.traces()


def test_unpicklable_worker_exception_keeps_type_and_message():
    class LocalError(Exception):
        def __init__(self, a, b):  # cannot be unpickled (and the class cannot be pickled)
            super().__init__(f"{a}/{b}")

    _, err, _ = run_failing(2, lambda: LocalError("x", "y"))
    assert err.node_id == "doc:100"
    assert isinstance(err.original, parallel.WorkerError)
    assert str(err.original) == "LocalError: x/y"


def test_bad_output_and_undeclared_reads_fail_in_workers():
    _, err, _ = run_failing(2, lambda: None)  # sanity: raise None -> TypeError in the worker
    assert isinstance(err.original, TypeError)

    def sets(spec, ctx):
        return {1, 2} if spec.id == "doc:050" else parse_doc(spec, ctx)

    w = World(workers=2)
    with pytest.raises(ComputeError) as info:
        w.build(rules=rules(doc=sets))
    assert info.value.node_id == "doc:050" and isinstance(info.value.original, TypeError)

    def sneaky(spec, ctx):
        return ctx.read_file("plain.md").decode() if spec.id == "doc:060" else parse_doc(spec, ctx)

    with pytest.raises(ComputeError) as info:
        World(workers=2).build(rules=rules(doc=sneaky))
    assert info.value.node_id == "doc:060" and isinstance(info.value.original, UndeclaredInputError)


class NoPool:
    def __init__(self, *a, **kw):
        raise AssertionError("a process pool was started")


def test_few_new_nodes_or_edits_do_not_start_a_pool(monkeypatch):
    w = World(workers=2)
    w.build()
    import concurrent.futures

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", NoPool)
    edit(w, range(10, 200))  # edits of files already built: one process, however many
    assert w.build().counts.by_type["doc"][Decision.MISS] == 190

    def add_docs(n):
        for i in range(w.n_docs, w.n_docs + n):
            w.fs.write(doc_path(i), f"title: new {i}\n")
        w.n_docs += n
        w.fs.clock.advance(10)

    add_docs(prefetch.PARALLEL_THRESHOLD - 1)  # never built, one below the threshold
    assert w.build().counts.by_type["doc"][Decision.MISS] == prefetch.PARALLEL_THRESHOLD - 1
    with pytest.raises(AssertionError, match="pool was started"):  # the patch is effective
        add_docs(prefetch.PARALLEL_THRESHOLD)
        w.build()


def test_no_pool_in_dry_runs_or_with_one_worker(monkeypatch):
    import concurrent.futures

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", NoPool)
    w = World(workers=4)
    result = w.build(dry_run=True)
    assert result.counts.total(Decision.MISS) == N_DOCS + N_LISTS + 3
    assert World(workers=1).build().counts.total(Decision.MISS) > N_DOCS


def test_no_pool_while_other_threads_run(monkeypatch):
    import concurrent.futures
    import threading

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", NoPool)
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert World(workers=2).build().counts.nodes_total > N_DOCS
    finally:
        stop.set()
        t.join()


def test_workers_argument():
    fs, store = MemoryFileSystem(), Store.memory()
    assert Engine(fs, store, {}, "g").workers == parallel.default_workers()
    assert 1 <= parallel.default_workers() <= parallel.MAX_WORKERS
    assert Engine(fs, store, {}, "g", workers=3).workers == 3
    with pytest.raises(ValueError):
        Engine(fs, store, {}, "g", workers=0)


def test_workers_exit_when_the_build_is_killed(tmp_path):
    """Idle workers hold copies of the parent's fds (state lock, database): they must not outlive a
    SIGKILLed build, or the next build would wait for the lock forever."""
    state = tmp_path / "state"
    marker = tmp_path / "started"
    script = textwrap.dedent(f"""
        import os, time
        from graph_cache.engine import Engine
        from graph_cache.fs import RealFileSystem
        from graph_cache.lock import StateLock
        from graph_cache.model import NodeSpec, Rule
        from graph_cache.store import Store

        root = {str(tmp_path)!r}
        for i in range(80):
            with open(os.path.join(root, f"f{{i}}.txt"), "w") as f:
                f.write(str(i))

        def slow(spec, ctx):
            open({str(marker)!r}, "a").close()
            time.sleep(60 if spec.id.endswith(":0") else 0)
            return ctx.read_file(spec.files[0]).decode()

        with StateLock({str(state)!r}):
            store, _ = Store.open({str(state)!r})
            rules = {{"f": Rule("f", "1", slow, parallel=True)}}
            Engine(RealFileSystem(root), store, rules, "g", workers=2).build(
                [NodeSpec(f"f:{{i}}", "f", (f"f{{i}}.txt",)) for i in range(80)])
    """)
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.3)  # the other worker finishes its batches and idles on the call queue
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # the worker sleeping in a rule holds the lock fd until its sleep ends: the watchdog ends it earlier
    with StateLock(state, timeout=5):
        pass


def test_interrupt_stops_the_workers_and_leaves_no_threads(pool_calls):
    import multiprocessing
    import threading

    def slow(spec, ctx):
        time.sleep(0.5)
        return parse_doc(spec, ctx)

    def interrupt(*_):
        raise KeyboardInterrupt

    w = World(workers=2, n_docs=128)
    old = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    t0 = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            w.build(rules=rules(doc=slow))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    # 128 x 0.5 s over 2 workers would take 32 s: stopping at the interrupt takes well under 16 s even on
    # a loaded machine (a hang guard with a 2x margin, not a speed goal).
    assert time.perf_counter() - t0 < 16
    assert threading.active_count() == 1 and multiprocessing.active_children() == []
    assert w.store.traces() == {}
    w.build()  # the next build forks a new pool
    assert tuple(pool_calls[-1]) == (128 + N_LISTS, 126 + N_LISTS)


def test_a_dead_worker_falls_back_to_the_loop(pool_calls):
    parent = os.getpid()

    def dies_in_worker(spec, ctx):
        if spec.id == "doc:100" and os.getpid() != parent:
            os._exit(3)  # e.g. OOM-killed
        return parse_doc(spec, ctx)

    seq, par = World(workers=1), World(workers=2)
    expected = snapshot(seq, seq.build(rules=rules(doc=dies_in_worker)), reads=False)
    assert snapshot(par, par.build(rules=rules(doc=dies_in_worker)), reads=False) == expected
    jobs, computed = pool_calls[-1]
    assert 0 < computed < jobs  # the broken pool's nodes (and all later ones) went to the loop


def test_islands_with_deps_compute_in_workers_in_any_root_order(pool_calls):
    """Roots connected by deps form one island, computed by one worker in dependency order even when the
    roots list dependents first; a dependent whose dep is not parallel stays with the loop."""
    def chain(spec, ctx):
        words = sum(len(ctx.output_of(d).get("fields", ())) for d in spec.deps if d.startswith("doc:"))
        return {"words": words, "deps": list(spec.deps)}

    def roots(n):
        docs = [NodeSpec(f"doc:{i:03}", "doc", (doc_path(i),)) for i in range(n)]
        pairs = [NodeSpec(f"pair:{i}", "pair", deps=(f"doc:{2 * i:03}", f"doc:{2 * i + 1:03}")) for i in range(n // 2)]
        tops = [NodeSpec(f"top:{i}", "pair", deps=(f"pair:{i}",)) for i in range(n // 2)]
        odd = [NodeSpec("pair:plain", "pair", deps=("doc:000", "plain:x"))]
        plain = [NodeSpec("plain:x", "plain", ("plain.md",))]
        return plain + tops[::-1] + pairs[::-1] + docs + odd  # dependents first

    def rules_with_pairs():
        out = rules()
        out["pair"] = Rule("pair", "1", chain, parallel=True)
        return out

    results = []
    for workers in (1, 2):
        w = World(workers=workers, n_docs=200)
        engine = Engine(w.fs, w.store, rules_with_pairs(), "g", w.bus, workers=workers)
        w.rec.events.clear()
        results.append(snapshot(w, engine.build(roots(200)), reads=False))
    assert results[1] == results[0]
    submitted, computed = pool_calls[-1]
    # d003 (missing) / d005 (unreadable) and the pairs and tops above them go to the loop; pair:plain reads
    # plain:x, decided before the pool started, so shared with the workers
    assert submitted == 200 + 100 + 100 + 1 and computed == 198 + 98 * 2 + 1


def test_a_child_spec_that_differs_in_the_worker_is_computed_by_the_loop():
    """Children that do not read their generator send their spec back: a worker's output is used only for
    the very spec the loop generated (here children() breaks the determinism promise on purpose)."""
    def gen_children(spec, out):  # the child's params depend on the process: differs in a worker
        return [NodeSpec(f"kid:{spec.key}", "kid", deps=("doc:000",), params=(("pid", str(os.getpid())),))]

    def kid(spec, ctx):
        return {"pid": dict(spec.params)["pid"], "computed_in": os.getpid()}

    def fair_children(spec, out):  # reads its generator: equal outputs imply equal specs
        return [NodeSpec(f"fair:{spec.key}", "kid", deps=(spec.id,), params=(("pid", "0"),))]

    r = rules()
    r["gen"] = Rule("gen", "1", parse_doc, gen_children, parallel=True)
    r["fairgen"] = Rule("fairgen", "1", parse_doc, fair_children, parallel=True)
    r["kid"] = Rule("kid", "1", kid, parallel=True)
    w = World(workers=2)
    roots = [NodeSpec(f"doc:{i:03}", "doc", (doc_path(i),)) for i in range(100)]
    roots += [NodeSpec(f"gen:{i}", "gen", (doc_path(i),), deps=("doc:000",)) for i in range(1, 40)]
    roots += [NodeSpec(f"fairgen:{i}", "fairgen", (doc_path(i),), deps=("doc:000",)) for i in range(40, 80)]
    result = Engine(w.fs, w.store, r, "g", w.bus, workers=2).build(roots)
    kids = [result.output(f"kid:{i}") for i in range(1, 40)]
    assert all(k["computed_in"] == os.getpid() == int(k["pid"]) for k in kids)
    fair = [result.output(f"fair:{i}")["computed_in"] for i in range(40, 80)]
    assert any(pid != os.getpid() for pid in fair)  # taken from the workers

#!/usr/bin/env python3
"""promptgen benchmark suite: end-to-end CLI timings against a floor measured in the same run.

    python benchmarks/run.py [--sizes 1k,10k,100k] [--quick] [--targets] [--repeat 5]
                             [--cold-repeat N] [--promptgen CMD] [--out benchmarks/results.md]

For every size, a synthetic workspace is generated (`benchmarks/generate.py`, fixed seed) and these
scenarios run the promptgen CLI as a separate process, `--repeat` times each (cold builds
`--cold-repeat` times):

  cold          `build` with no state (`.promptgen/` removed before each run)
  no-op         `build` again, nothing changed (one unmeasured warm-up run first)
  status-json   `status --json` after a no-op
  touch-all     every file's mtime changed (content not), then `build`
  edit-exec     one EXECUTION_TASK edited (an iteration note appended), then `build`
  edit-status   one EXECUTION_TASK's header status flipped (open <-> complete: its plan's status changes), then `build`
  new-plan      one new nested plan (~35 documents) added, then `build`
  delete-plan   one nested plan folder removed, then `build`
  no-op+in-process, edit-exec+in-process, edit-status+in-process, cold+in-process
                the same without the head start (PROMPTGEN_HEAD_START=0: the whole command in one
                process; the plain scenarios fork a head-start child when the machine allows,
                docs/PERFORMANCE.md section 17), interleaved like the +daemon ones
  no-op+daemon, edit-exec+daemon, edit-status+daemon, cold+daemon
                the same with a running `promptgen daemon` (warm fork server; skipped with
                --no-daemon): CPU and peak RSS are then the client process's only, the work runs in
                the daemon's forked child. Each runs interleaved with its plain scenario (a plain
                run, then a daemon run, and so on; one daemon runs through all the size's
                scenarios, idle for the plain ones, which do not forward to it), so the two rows and
                the edit target that compares them share the same minutes of a shared machine

Each promptgen run is paired with a run of the *floor*, a minimal Python process on the same
interpreter (`python -S -c ...`: no site import; `--floor-site` uses `python -c`) that walks the same
tree with os.scandir and stats every file; for `cold` and `touch-all` (which must re-read every file)
the floor also reads every file and hashes it with xxhash.xxh3_128. Reported: median and min wall time,
the floor's median, the ratio median/floor-median, the peak RSS of the promptgen process (per-child
rusage from os.wait4), what was recomputed (from `.promptgen/history.jsonl`), whether the no-op fast
path answered, and the target where one applies (see TARGETS, `--targets`).

Realistic numbers need a non-editable install (an editable install adds a meta-path finder that
imports pathlib, importlib.util, ... at every interpreter start):

    python3 -m venv /tmp/pgbench && /tmp/pgbench/bin/pip install /work/main
    python benchmarks/run.py --promptgen /tmp/pgbench/bin/promptgen --out benchmarks/results.md

(re-run the pip install after every code change: a non-editable install is a snapshot).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import generate  # noqa: E402

SEED = 1

# The floor: a minimal `python -S` process walking the tree and stat-ing every file; the hash floor also
# reads and hashes every file. One template, so both walk exactly alike.
_FLOOR = r"""
import os, sys
{setup}
def walk(d):
    n = 0
    with os.scandir(d) as it:
        for e in it:
            if e.is_dir(follow_symlinks=False):
                if e.name[0] != ".":
                    n += walk(e.path)
            else:
                e.stat(follow_symlinks=False)
{per_file}
                n += 1
    return n
walk(sys.argv[1])
"""
FLOOR_STAT = _FLOOR.format(setup="", per_file="")
FLOOR_HASH = _FLOOR.format(
    setup="sys.path[:0] = sys.argv[2:]  # the site-packages holding xxhash (site is disabled by -S)\n"
          "from xxhash import xxh3_128",
    per_file="                with open(e.path, 'rb') as fh:\n"
             "                    xxh3_128(fh.read()).hexdigest()")

REFERENCE: list = []  # results of an earlier run (--reference), for the 10k -> 100k growth targets
SCENARIOS = ("cold", "no-op", "status-json", "touch-all", "edit-exec", "edit-status", "new-plan", "delete-plan",
             "no-op+daemon", "edit-exec+daemon", "edit-status+daemon", "cold+daemon",
             "no-op+in-process", "edit-exec+in-process", "edit-status+in-process", "cold+in-process")
DAEMON_SCENARIOS = ("no-op+daemon", "edit-exec+daemon", "edit-status+daemon", "cold+daemon")


# --------------------------------------------------------------------------------------------------
# measuring


class Run:
    __slots__ = ("seconds", "cpu", "rss_kb", "code")

    def __init__(self, seconds: float, cpu: float, rss_kb: int, code: int) -> None:
        self.seconds, self.cpu, self.rss_kb, self.code = seconds, cpu, rss_kb, code


def measure(cmd: list[str], stdout_path: str = os.devnull, cwd: str | None = None, env: dict | None = None) -> Run:
    """Wall time, CPU time (user + sys) and peak RSS (os.wait4 per-child rusage) of one process."""
    with open(stdout_path, "wb") as out, open(stdout_path + ".err" if stdout_path != os.devnull
                                              else os.devnull, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        t1 = time.perf_counter()
    proc.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting again
    return Run(t1 - t0, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, proc.returncode)


def _last_line(ws: str) -> bytes | None:
    path = os.path.join(ws, ".promptgen", "history.jsonl")
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 65536))
            lines = fh.read().splitlines()
        return lines[-1] if lines else None
    except (OSError, IndexError):
        return None


def last_history(ws: str) -> dict | None:
    line = _last_line(ws)
    try:
        return json.loads(line) if line else None
    except ValueError:
        return None


class Bench:
    def __init__(self, args) -> None:
        self.args = args
        self.pg = shlex.split(args.promptgen)
        self.python = args.python or interpreter_of(self.pg[0]) or sys.executable
        self.site_dirs = site_dirs(self.python)
        self.floor_flags = [] if args.floor_site else ["-S"]
        self.workdir = args.workdir or tempfile.mkdtemp(prefix="pgbench-")
        os.makedirs(self.workdir, exist_ok=True)
        self.out_file = os.path.join(self.workdir, "last-stdout.txt")
        self.failures = 0  # promptgen runs that exited non-zero (the exit status of run.py)
        # runs forward to a daemon only in the +daemon scenarios (envs["daemon"]), and only to this run's own daemon
        self.daemon_dir = tempfile.mkdtemp(prefix="pgbd", dir="/tmp")  # short: AF_UNIX paths <= 107 bytes
        # the plain runs are what users get (no daemon; the head start as the machine allows), the
        # +in-process runs have no head start either (PROMPTGEN_HEAD_START=0)
        base = {k: v for k, v in os.environ.items() if k != "PROMPTGEN_HEAD_START"}
        self.envs = {"plain": {**base, "PROMPTGEN_DAEMON_DIR": self.daemon_dir, "PROMPTGEN_DAEMON": "0"}}
        self.envs["daemon"] = {k: v for k, v in self.envs["plain"].items() if k != "PROMPTGEN_DAEMON"}
        self.envs["in-process"] = {**self.envs["plain"], "PROMPTGEN_HEAD_START": "0"}

    def daemon(self, action: str) -> None:
        """`promptgen daemon start|stop`; runs with `mode="daemon"` forward to it."""
        proc = subprocess.run(self.pg + ["daemon", action], env=self.envs["daemon"], capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"promptgen daemon {action} failed: {proc.stderr}")

    def promptgen(self, ws: str, *argv: str, mode: str = "plain") -> tuple[Run, dict | None]:
        """One run: `plain`, forwarded to the `daemon`, or `in-process` (no head start either)."""
        before = _last_line(ws)  # (the history keeps its last 50 records: compare, do not count)
        run = measure(self.pg + list(argv) + ["--root", ws], self.out_file, cwd=ws, env=self.envs[mode])
        if run.code != 0:
            self.failures += 1
            with open(self.out_file + ".err", "rb") as fh:
                tail = fh.read()[-2000:].decode("utf-8", "replace")
            log(f"    promptgen {' '.join(argv)} exited {run.code}: {tail}")
        hist = last_history(ws) if _last_line(ws) != before else None
        return run, hist

    def floor(self, ws: str, kind: str) -> Run:
        if kind == "hash":
            return measure([self.python, *self.floor_flags, "-c", FLOOR_HASH, ws, *self.site_dirs])
        return measure([self.python, *self.floor_flags, "-c", FLOOR_STAT, ws])

    def startup(self, n: int = 10) -> dict:
        out = {}
        for label, flags in (("python -S -c pass", ["-S"]), ("python -c pass", [])):
            out[label] = statistics.median(measure([self.python, *flags, "-c", "pass"]).seconds
                                           for _ in range(n))
        return out


def interpreter_of(script: str) -> str | None:
    """The interpreter of a console script (its shebang), if it is a Python script."""
    path = shutil.which(script) or script
    try:
        with open(path, "rb") as fh:
            first = fh.readline().decode("utf-8", "replace").strip()
    except OSError:
        return None
    if first.startswith("#!") and "python" in first:
        parts = first[2:].split()
        return parts[-1] if parts[0].endswith("env") else parts[0]
    return None


def site_dirs(python: str) -> list[str]:
    code = "import os, xxhash; print(os.path.dirname(os.path.dirname(os.path.abspath(xxhash.__file__))))"
    try:
        return [subprocess.check_output([python, "-c", code], text=True, cwd="/").strip()]
    except (OSError, subprocess.CalledProcessError):
        return []


def log(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------------------------------
# scenarios


def run_size(bench: Bench, nominal: int) -> dict:
    args = bench.args
    ws = os.path.join(bench.workdir, f"ws-{nominal}")
    log(f"[{nominal}] generating workspace in {ws} ...")
    t0 = time.perf_counter()
    summary = generate.generate(ws, nominal, SEED)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    log(f"[{nominal}] {summary['docs']} documents, {summary['files']} files, {summary['plans']} plans, "
        f"mean {summary['mean_kb']} KB ({summary['seconds']} s)")
    big = nominal >= 50_000
    repeat = args.repeat if not big or args.big_repeat is None else args.big_repeat
    cold_repeat = args.cold_repeat if args.cold_repeat is not None else (1 if big else 3)
    rows: dict = {}
    plans = [p for p in generate.plan_dirs(ws) if "/ADDED-" not in p]

    daemon_on = not args.no_daemon and (not args.scenarios or bool(args.scenarios & set(DAEMON_SCENARIOS)))

    def scenario(name: str, times: int, prepare, argv=("build",), floor_kind="stat", paired=None) -> None:
        """`times` runs of `name`; with `paired` (the preparation of its variants) each plain run is
        followed by a run forwarded to the daemon (`+daemon`) and one in-process (`+in-process`)."""
        variants = [(name, prepare, "plain")] if not args.scenarios or name in args.scenarios else []
        if paired is not None and daemon_on and (not args.scenarios or name + "+daemon" in args.scenarios):
            variants.append((name + "+daemon", paired, "daemon"))
        if paired is not None and not args.no_in_process and (not args.scenarios
                                                               or name + "+in-process" in args.scenarios):
            variants.append((name + "+in-process", paired, "in-process"))
        if not variants:
            return
        log(f"[{nominal}] {' / '.join(v[0] for v in variants)} x{times}")
        got = {v[0]: ([], [], []) for v in variants}
        for i in range(times):
            for label, prep, mode in variants:
                runs, floors, hists = got[label]
                prep(i)
                floors.append(bench.floor(ws, floor_kind))
                run, hist = bench.promptgen(ws, *argv, mode=mode)
                runs.append(run)
                hists.append(hist)
                log(f"    {run.seconds * 1000:9.1f} ms cpu {run.cpu * 1000:8.1f} ms  (floor "
                    f"{floors[-1].seconds * 1000:8.1f} ms, cpu {floors[-1].cpu * 1000:7.1f} ms)  "
                    f"rss {run.rss_kb / 1024:7.1f} MB  {label}  " + describe(hist))
        for label, (runs, floors, hists) in got.items():
            rows[label] = summarise(label, runs, floors, floor_kind, hists)

    if daemon_on:
        bench.daemon("start")
    try:
        _scenarios(bench, ws, scenario, repeat, cold_repeat, plans)
    finally:
        if daemon_on:
            bench.daemon("stop")
    state_bytes = dir_size(os.path.join(ws, ".promptgen"))
    if not args.keep:
        shutil.rmtree(ws, ignore_errors=True)
    return {"nominal": nominal, "workspace": summary, "repeat": repeat, "cold_repeat": cold_repeat,
            "state_bytes": state_bytes, "rows": rows}


def _scenarios(bench: Bench, ws: str, scenario, repeat: int, cold_repeat: int, plans: list) -> None:
    """The scenarios of one size, in order (each leaves the state the next one starts from)."""

    def rm_state(_i: int) -> None:
        shutil.rmtree(os.path.join(ws, ".promptgen"), ignore_errors=True)

    def nothing(_i: int) -> None:
        pass

    scenario("cold", cold_repeat, rm_state, floor_kind="hash", paired=rm_state)
    if not os.path.isdir(os.path.join(ws, ".promptgen")):
        bench.promptgen(ws, "build")
    bench.promptgen(ws, "build")  # warm-up: the first no-op may refresh racy manifest entries
    bench.promptgen(ws, "build", mode="daemon")  # and the daemon's first child
    scenario("no-op", repeat, nothing, paired=nothing)
    scenario("status-json", repeat, nothing, argv=("status", "--json"))

    def touch(i: int) -> None:
        generate.touch_all(ws, generate.BASE_MTIME + 3600 * (i + 1))

    scenario("touch-all", repeat, touch, floor_kind="hash")
    generate.touch_all(ws, generate.BASE_MTIME)  # back to the stats the engine's store knows
    bench.promptgen(ws, "build")  # (unmeasured) the fast path refreshes the manifest's stats
    bench.promptgen(ws, "build")

    order = random.Random(SEED).sample(plans, len(plans))  # deterministic choice of plans to edit / delete
    execs = []
    for plan in order:
        files = generate.execution_files(ws, plan)
        if files:
            execs.append(files[len(files) // 2])
        if len(execs) >= repeat:
            break

    def edit(i: int) -> None:
        generate.edit_file(ws, execs[i % len(execs)], f"bench-{i}")

    def flip(i: int) -> None:
        generate.flip_status(ws, execs[i % len(execs)])

    if execs:
        scenario("edit-exec", repeat, edit, paired=lambda i: edit(i + repeat))
        scenario("edit-status", repeat, flip, paired=flip)

    def add(i: int) -> None:
        generate.add_plan(ws, 1000 + i)

    scenario("new-plan", repeat, add)

    doomed = order[::-1]

    def delete(i: int) -> None:
        shutil.rmtree(os.path.join(ws, doomed[i % len(doomed)]), ignore_errors=True)

    scenario("delete-plan", min(repeat, len(doomed)), delete)


def dir_size(path: str) -> int:
    total = 0
    for d, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(d, name))
            except OSError:
                pass
    return total


def describe(hist: dict | None) -> str:
    if not hist:
        return "(no history record)"
    c = counts(hist)
    return (f"{'fast' if hist.get('fast_path') else 'full (' + str(hist.get('ran_in', '?')) + ')'}  "
            f"hit {c['hit']} miss {c['miss']} cutoff {c['cutoff']}")


def counts(hist: dict) -> dict:
    total = {"hit": 0, "miss": 0, "cutoff": 0}
    for c in (hist.get("by_type") or {}).values():
        for k in total:
            total[k] += int(c.get(k, 0))
    return total


def summarise(name: str, runs: list, floors: list, floor_kind: str, hists: list) -> dict:
    secs = [r.seconds for r in runs]
    fsecs = [r.seconds for r in floors]
    med, fmed = statistics.median(secs), statistics.median(fsecs)
    cpu, fcpu = statistics.median(r.cpu for r in runs), statistics.median(r.cpu for r in floors)
    phases: dict = {}
    for h in hists:
        for k, v in ((h or {}).get("phases") or {}).items():
            phases.setdefault(k, []).append(v)
    last = next((h for h in reversed(hists) if h), None)
    return {"scenario": name, "runs": len(runs), "seconds": secs, "median": med, "min": min(secs),
            "floor_kind": floor_kind, "floor_seconds": fsecs, "floor_median": fmed,
            "ratio": med / fmed if fmed else None, "rss_kb": max(r.rss_kb for r in runs),
            "cpu_median": cpu, "floor_cpu_median": fcpu, "cpu_ratio": cpu / fcpu if fcpu else None,
            "floor_rss_kb": max(r.rss_kb for r in floors),
            "exit_codes": sorted({r.code for r in runs}),
            "fast_path": sorted({bool(h.get("fast_path")) for h in hists if h}),
            "ran_in": sorted({str(h["ran_in"]) for h in hists if h and h.get("ran_in")}),
            "counts": counts(last) if last else None,
            "phases": {k: statistics.median(v) for k, v in phases.items()},
            "internal_median": statistics.median([h["duration_s"] for h in hists if h and "duration_s" in h]
                                                 or [float("nan")])}


# --------------------------------------------------------------------------------------------------
# targets (ratios on this 2-core machine; see docs/PERFORMANCE.md)


def targets_for(nominal: int, name: str, row: dict, size_results: dict, all_results: list) -> list:
    """[(target text, ok: bool | None)] for one row."""
    out = []
    if 500 <= nominal <= 1500:
        note = "" if nominal == 700 else " (target is for ~700 docs)"
        if name == "no-op":
            out.append((f"≤ 3× floor{note}", row["ratio"] is not None and row["ratio"] <= 3.0))
            out.append((f"≤ 35 ms{note}", row["median"] <= 0.035))
        if name in ("cold", "cold+daemon", "cold+in-process"):
            out.append((f"≤ 450 ms{note}", row["median"] <= 0.45))
    if 5_000 <= nominal <= 20_000:
        if name == "no-op":
            out.append(("≤ 2.0× floor", row["ratio"] is not None and row["ratio"] <= 2.0))
        if name in ("edit-exec", "edit-exec+daemon", "edit-exec+in-process") and "no-op" in size_results["rows"]:
            noop = size_results["rows"]["no-op"]["median"]
            out.append((f"≤ no-op + 150 ms = {fmt_ms(noop + 0.150)}", row["median"] <= noop + 0.150))
    if nominal >= 50_000:
        if name == "cold":
            out.append(("≤ 60 s", row["median"] <= 60))
        out.append(("peak RSS ≤ 1 GB", row["rss_kb"] <= 1024 * 1024))
        ref = next((r for r in all_results + REFERENCE if 5_000 <= r["nominal"] <= 20_000 and name in r["rows"]),
                   None)
        if ref is not None:
            base = ref["rows"][name]
            growth = row["median"] / base["median"]
            out.append((f"wall growth from {ref['nominal'] // 1000}k {growth:.1f}× ≤ 11×", growth <= 11))
            if row.get("cpu_median") and base.get("cpu_median"):
                cgrowth = row["cpu_median"] / base["cpu_median"]
                out.append((f"CPU growth {cgrowth:.1f}× ≤ 11×", cgrowth <= 11))
    return out


# --------------------------------------------------------------------------------------------------
# report


def fmt_ms(s: float) -> str:
    if s != s:  # nan
        return "-"
    return f"{s:.2f} s" if s >= 10 else f"{s * 1000:.0f} ms" if s >= 0.1 else f"{s * 1000:.1f} ms"


def machine_info(bench: Bench) -> dict:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    pyver = subprocess.run([bench.python, "-c", "import sys; print(sys.version.split()[0])"],
                           capture_output=True, text=True).stdout.strip()
    # cwd "/": `-c` puts the current directory on sys.path, which must not shadow the installed package
    where = subprocess.run([bench.python, "-c", "import promptgen; print(promptgen.__file__)"],
                           capture_output=True, text=True, cwd="/").stdout.strip()
    rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    installed = ""
    if where and not where.startswith(REPO + os.sep):
        try:  # a non-editable install is a snapshot: say when it was taken
            installed = datetime.datetime.fromtimestamp(os.stat(where).st_mtime).strftime("%Y-%m-%d %H:%M")
        except OSError:
            pass
    return {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "nproc": os.cpu_count(),
            "installed": installed,
            "cpu": cpu, "python": pyver, "platform": platform.platform(), "promptgen": bench.args.promptgen,
            "interpreter": bench.python, "promptgen_module": where,
            "install": "editable (source tree)" if where.startswith(REPO + os.sep) else "non-editable",
            "git": rev + (" + uncommitted changes" if dirty else ""),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}


def render(info: dict, startup: dict, results: list, args, load: tuple, title: str = "# promptgen benchmark results") -> str:
    floor_cmd = "python -c" if args.floor_site else "python -S -c"
    lines = [title, "",
             f"Generated by `python benchmarks/run.py {' '.join(args.argv)}` on {info['date']}.", "",
             f"- Machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory_gb']} GB RAM, {info['platform']}",
             f"- Python {info['python']} (`{info['interpreter']}`)",
             f"- promptgen: `{info['promptgen']}`, {info['install']} install (`{info['promptgen_module']}`"
             + (f", installed {info['installed']}" if info.get("installed") else "")
             + f"); source tree at the start of the run: git {info['git']}",
             f"- Load average before / after: {load[0]} / {load[1]} (shared machine: timings are noisy; "
             "medians of interleaved runs)",
             f"- Interpreter start-up: `python -S -c pass` {fmt_ms(startup['python -S -c pass'])}, "
             f"`python -c pass` {fmt_ms(startup['python -c pass'])}",
             f"- Floor: `{floor_cmd}` on the same interpreter: os.scandir walk + stat of every file "
             "(`stat`); for cold and touch-all also read + xxh3_128 of every file (`hash`). One floor run "
             "precedes every promptgen run.",
             "- ratio = promptgen median / floor median (wall clock; the targets are stated on it). "
             "CPU = median user + sys time of the promptgen process (os.wait4 rusage), CPU ratio = that / "
             "the floor's median CPU time: less sensitive to other load on the machine than wall time.",
             "- recomputed = (miss + cutoff) / nodes of the last run (from history.jsonl); path = fast "
             "(manifest no-op path) or full, with the process that ran the build (`ran_in` of history.jsonl: "
             "`process`, `head-start`, `daemon`).", ""]
    if REFERENCE and getattr(args, "reference", None):
        lines.append(f"Growth targets use the 10k rows of `{args.reference}` as their base.")
        lines.append("")
    for res in results:
        ws = res["workspace"]
        lines.append(f"**{res['nominal']:,} documents** (generated: {ws['docs']} documents, {ws['files']} "
                     f"files, {ws['plans']} plans, mean {ws['mean_kb']} KB, "
                     f"{ws['bytes'] / 2**20:.0f} MiB; state dir after the run "
                     f"{res['state_bytes'] / 2**20:.1f} MiB)")
    lines += ["", "| docs | scenario | runs | median | min | floor | ratio | CPU | CPU ratio | peak RSS | "
              "recomputed | path | target |",
              "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for res in results:
        for name in SCENARIOS:
            row = res["rows"].get(name)
            if row is None:
                continue
            c = row["counts"]
            rec = f"{c['miss'] + c['cutoff']}/{c['hit'] + c['miss'] + c['cutoff']}" if c else "-"
            path = "/".join("fast" if f else "full" for f in row["fast_path"]) or "-"
            if row.get("ran_in"):
                path += f" ({'/'.join(row['ran_in'])})"
            tg = "; ".join(f"{t}: {'OK' if ok else 'MISS'}" for t, ok in
                           targets_for(res["nominal"], name, row, res, results))
            ratio = f"{row['ratio']:.2f}×" if row["ratio"] else "-"
            cratio = f"{row['cpu_ratio']:.2f}×" if row["cpu_ratio"] else "-"
            if row["exit_codes"] != [0]:
                path += f" (exit {row['exit_codes']})"
            lines.append(f"| {res['nominal']:,} | {name} | {row['runs']} | {fmt_ms(row['median'])} | "
                         f"{fmt_ms(row['min'])} | {fmt_ms(row['floor_median'])} ({row['floor_kind']}) | "
                         f"{ratio} | {fmt_ms(row['cpu_median'])} | {cratio} | {row['rss_kb'] / 1024:.0f} MB | "
                         f"{rec} | {path} | {tg or '-'} |")
    # phase breakdown of the full-path runs (from history.jsonl, seconds inside the process)
    keys: list = []
    for res in results:
        for row in res["rows"].values():
            for k in row["phases"]:
                if k not in keys:
                    keys.append(k)
    if keys:
        lines += ["", "Phases of full-path runs (median seconds reported by promptgen itself in "
                  "history.jsonl; `internal` = its own elapsed time, the rest of the wall time is "
                  "interpreter start-up, imports and exit):", "",
                  "| docs | scenario | wall | internal | " + " | ".join(keys) + " |",
                  "|---:|---|---:|---:|" + "---:|" * len(keys)]
        for res in results:
            for name in SCENARIOS:
                row = res["rows"].get(name)
                if row is None or not row["phases"]:
                    continue
                lines.append(f"| {res['nominal']:,} | {name} | {fmt_ms(row['median'])} | "
                             f"{fmt_ms(row['internal_median'])} | " +
                             " | ".join(fmt_ms(row['phases'][k]) if k in row["phases"] else "-" for k in keys)
                             + " |")
    return "\n".join(lines) + "\n"


def render_saved(paths: list[str], out: str | None) -> int:
    runs = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            runs.append(json.load(fh))
    everything = [r for run in runs for r in run["results"]]
    parts = ["# promptgen benchmark results", ""]
    for path, run in zip(paths, runs):
        # growth targets: the run's own --reference file if it can be read, else every loaded result
        REFERENCE[:] = everything
        if run.get("reference"):
            try:
                with open(run["reference"], encoding="utf-8") as fh:
                    REFERENCE[:] = json.load(fh)["results"]
            except (OSError, ValueError, KeyError):
                pass
        ns = argparse.Namespace(argv=run.get("argv", ["(see " + os.path.basename(path) + ")"]),
                                floor_site=run.get("floor_site", False), reference=run.get("reference"))
        sizes = ", ".join(f"{r['nominal']:,}" for r in run["results"])
        text = render(run["machine"], run["startup"], run["results"], ns, tuple(run.get("load", ("?", "?"))),
                      title=f"## {sizes} documents — {run['machine']['install']} install")
        if run.get("note"):  # free text added by hand to the JSON
            head, _, rest = text.partition("\n\n")
            text = f"{head}\n\n{run['note']}\n\n{rest}"
        parts.append(text)
    text = "\n".join(parts)
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(text)
    sys.stdout.write(text)
    return 0


def parse_size(text: str) -> int:
    text = text.strip().lower()
    mult = 1000 if text.endswith("k") else 1
    return int(float(text.rstrip("k")) * mult)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    default_pg = os.path.join(REPO, ".venv", "bin", "promptgen")
    ap.add_argument("--promptgen", default=default_pg if os.path.exists(default_pg) else "promptgen",
                    help="promptgen command (default: the repository's .venv/bin/promptgen)")
    ap.add_argument("--python", help="interpreter for the floor (default: the promptgen script's shebang)")
    ap.add_argument("--sizes", help="comma list of document counts, e.g. 1k,10k,100k (default 1k,10k,100k)")
    ap.add_argument("--quick", action="store_true", help="1k only, 3 repeats, 1 cold build (CI)")
    ap.add_argument("--targets", action="store_true",
                    help="sizes 700,10k,100k (the sizes the targets are stated for) unless --sizes is given")
    ap.add_argument("--repeat", type=int, default=None, help="runs per scenario (default 5; --quick 3)")
    ap.add_argument("--big-repeat", type=int, default=3, help="runs per scenario for sizes >= 50k (default 3)")
    ap.add_argument("--cold-repeat", type=int, default=None,
                    help="cold builds per size (default 3, 1 for sizes >= 50k; --quick 1)")
    ap.add_argument("--scenarios", help="comma list, subset of " + ",".join(SCENARIOS))
    ap.add_argument("--no-daemon", action="store_true", help="skip the +daemon scenarios")
    ap.add_argument("--no-in-process", action="store_true", help="skip the +in-process scenarios")
    ap.add_argument("--floor-site", action="store_true", help="floor with `python -c` (site enabled)")
    ap.add_argument("--workdir", help="where workspaces are generated (default: a new /tmp/pgbench-* dir)")
    ap.add_argument("--keep", action="store_true", help="keep the generated workspaces")
    ap.add_argument("--out", help="write the Markdown report here (always printed on stdout)")
    ap.add_argument("--json", dest="json_out", help="write the raw measurements as JSON here")
    ap.add_argument("--reference", help="JSON of an earlier run (--json) whose 10k rows serve as the base of "
                                        "the 10k -> 100k growth targets when this run has no 10k size")
    ap.add_argument("--render", nargs="+", metavar="JSON",
                    help="no measuring: re-render the reports of earlier runs (--json files) into one "
                         "Markdown document (growth targets see the results of all files)")
    args = ap.parse_args(argv)
    args.argv = argv
    if args.render:
        return render_saved(args.render, args.out)
    if args.sizes:
        sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    elif args.quick:
        sizes = [1000]
    elif args.targets:
        sizes = [700, 10_000, 100_000]
    else:
        sizes = [1000, 10_000, 100_000]
    if args.repeat is None:
        args.repeat = 3 if args.quick else 5
    if args.quick and args.cold_repeat is None:
        args.cold_repeat = 1
    args.scenarios = set(args.scenarios.split(",")) if args.scenarios else None
    if args.reference:
        with open(args.reference, encoding="utf-8") as fh:
            REFERENCE.extend(json.load(fh)["results"])
    bench = Bench(args)
    log(f"promptgen: {bench.pg}; floor interpreter: {bench.python}; workdir: {bench.workdir}")
    info = machine_info(bench)
    load0 = " ".join(f"{x:.2f}" for x in os.getloadavg())
    startup = bench.startup()
    results = []
    for n in sizes:
        results.append(run_size(bench, n))
        text = render(info, startup, results, args, (load0, " ".join(f"{x:.2f}" for x in os.getloadavg())))
        if args.out:  # rewrite after every size: a long 100k run still leaves the smaller sizes
            with open(args.out, "w", encoding="utf-8") as fh:
                fh.write(text)
        if args.json_out:
            with open(args.json_out, "w", encoding="utf-8") as fh:
                json.dump({"machine": info, "startup": startup, "results": results, "argv": argv,
                           "floor_site": args.floor_site, "reference": args.reference,
                           "load": [load0, " ".join(f"{x:.2f}" for x in os.getloadavg())]}, fh, indent=1)
    if not args.keep and not args.workdir:
        shutil.rmtree(bench.workdir, ignore_errors=True)
    shutil.rmtree(bench.daemon_dir, ignore_errors=True)
    sys.stdout.write(text)
    if bench.failures:
        log(f"{bench.failures} promptgen run(s) exited non-zero (see above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Incremental == clean: after any sequence of edits, an incremental build gives exactly the answers of a
from-scratch build of the same workspace.

A hypothesis RuleBasedStateMachine keeps one generated workspace on disk (wsgen) and applies random
edits: status lines, declarations, appended text, FIX / APPROVED dates, same-size edits (only the mtime
tells), same-size edits of a racily clean file with its mtime put back (only the racy-clean guard can
tell), added / deleted / renamed documents (also renamed to another code, feature or folder), touch-only
mtime changes, a new
`size_cap_mib` in `.promptgen/config.toml`, and edits of a prompt template (in a private copy of the
templates folder: `promptgen.prompts.TEMPLATES_DIR` is pointed at it, in-process only). After every step
it runs the no-op fast path and an incremental build (`promptgen.fastpath.try_run`, then
`promptgen.service.build`, as the console script does: the build takes over the fast path's comparison
of the files when it falls through) and a clean build of a copy of the workspace that has no `.promptgen/` state, and
compares: the `status --json` document, the diagnostics, `ready` and `check`, every prompt (`next` of
each plan and of each achievement) and the bytes of every artifact file. It also checks the counting
invariants (every node counted once, touch-only / no-op steps recompute nothing, a clean build is all
misses, a template edit re-renders exactly the prompts built from that template).
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule, run_state_machine_as_test

from promptgen import fastpath, prompts, service
from promptgen.results_view import Results

try:
    from . import wsgen
except ImportError:  # tests/reliability is not a package
    import wsgen

STEPS = 6  # CI: about 60-90 s of CPU for 200 examples (slow variant: 10 steps)

EXTRA_SNIPPETS = (
    "\n## ✅ Completion Status\n\n**Status**: ✅ Complete\n",
    "\n**Final Status**: In Progress\n",
    "\n**Final Status**: ✅ **COMPLETE**\n",
    "\n```\n**Achievement 4.4**: fenced, not a declaration\n```\n",
    "\n## 📝 Current Status & Handoff\n\n- ⏳ Next: Achievement 2.1 (Query planner)\n",
    "\n⏳ **Achievement 1.10: Retry budget** ← **NEXT**\n",
    "\n**Achievement 3.5.1**: Three-level id\n",
    "\n- Achievement 11.0: Sunset review\n",
    "\n**Review Date**: 2025-04-01\n",
    "\n" + "padding line to cross the small size caps. " * 30 + "\n",
    "\r\nCRLF line\r\n",
)
TEMPLATE_EDITS = ("\nEdited line for the reliability test.\n", "\nAnother edit: ${plan_name}.\n")


def snapshot(root: str, fast_path_first: bool = False) -> dict:
    """Build `root` incrementally (in-process, full path) and collect every answer and the counts. With
    `fast_path_first`, the no-op fast path runs first, as in the console script: when it falls through,
    the build takes over its comparison of the files (`promptgen.handoff`)."""
    if fast_path_first:
        fastpath.try_run(["build", "--root", root])
    outcome = service.build(root)
    try:
        res = Results(outcome)
        status = res.status_document(None)
        prompts_: dict = {}
        for plan in status["plans"]:
            name = plan["name"]
            prompts_[(name, None)] = res.next_prompt(name, None)
            for ach in plan["achievements"]:
                prompts_[(name, ach["id"])] = res.next_prompt(name, ach["id"])
        result = outcome.result
        deps = {n: tuple(k[5:] for k, _ in t.inputs if k.startswith("node:")) for n, t in result.traces.items()}
        snap = {
            "status": status,
            "plan_status": {p["name"]: res.status_document(p["name"]) for p in status["plans"]},
            "diagnostics": outcome.diagnostics,
            "ready": res.ready_document(None),
            "check": res.check_report(strict=False).as_json(),
            "prompts": prompts_,
            "artifacts": wsgen.read_tree(os.path.join(root, ".promptgen", "artifacts")),
            "by_type": {t: dict(c) for t, c in outcome.counts.by_type.items()},
            "recomputed": list(outcome.counts.recomputed),
            "decisions": {n: d for n, (d, _r) in result.decisions.items()},
            "traced": set(result.traces),
            "deps": deps,
            "warnings": list(outcome.warnings),
        }
    finally:
        outcome.close()
    return snap


def per_type_total(by_type: dict) -> dict:
    return {t: sum(c.values()) for t, c in by_type.items()}


def total(by_type: dict, decision: str) -> int:
    return sum(c.get(decision, 0) for c in by_type.values())


def check_counts(snap: dict) -> None:
    """Counting invariants of one build, cross-checked against the decisions and the answers."""
    by_type = snap["by_type"]
    nodes_total = sum(per_type_total(by_type).values())
    assert total(by_type, "hit") + total(by_type, "miss") + total(by_type, "cutoff") == nodes_total
    assert set(c for counts in by_type.values() for c in counts) <= {"hit", "miss", "cutoff"}
    # every node reached is decided exactly once, and counted once
    assert nodes_total == len(snap["decisions"]) == len(snap["traced"])
    assert set(snap["decisions"]) == snap["traced"]
    recomputed = snap["recomputed"]
    assert len(recomputed) == len(set(recomputed)) == total(by_type, "miss") + total(by_type, "cutoff")
    assert set(recomputed) == {n for n, d in snap["decisions"].items() if d != "hit"}
    # the node population follows from the answers
    plans = snap["status"]["plans"]
    per_type = per_type_total(by_type)
    achievements = sum(len(p["achievements"]) for p in plans)
    assert per_type.get("prompt", 0) == achievements
    for kind in ("next", "model", "status"):
        assert per_type.get(kind, 0) == len(plans), kind
    assert per_type.get("summary") == 1
    assert per_type.get("template") == len(prompts.TEMPLATE_NAMES)
    for node, kind in ((n, n.split(":", 1)[0]) for n in snap["decisions"]):
        assert kind in per_type, node


def compare(inc: dict, clean: dict) -> None:
    for key in ("status", "plan_status", "diagnostics", "ready", "check"):
        assert inc[key] == clean[key], f"incremental and clean builds disagree on {key}"
    assert inc["prompts"].keys() == clean["prompts"].keys()
    for k in inc["prompts"]:
        assert inc["prompts"][k] == clean["prompts"][k], f"prompt {k} differs"
    assert sorted(inc["artifacts"]) == sorted(clean["artifacts"])
    for rel in inc["artifacts"]:
        assert inc["artifacts"][rel] == clean["artifacts"][rel], f"artifact {rel} differs"
    assert per_type_total(inc["by_type"]) == per_type_total(clean["by_type"])
    assert inc["traced"] == clean["traced"]
    assert inc["deps"] == clean["deps"], "the build graphs differ"
    # a build from no state computes everything once
    assert total(clean["by_type"], "hit") == total(clean["by_type"], "cutoff") == 0
    assert clean["warnings"] == []


def same_size_edit(data, raw: bytes) -> bytes:
    """Swap the case of the ASCII letters of one line, or change one digit: same byte length."""
    lines = raw.split(b"\n")
    alnum = [i for i, line in enumerate(lines)
             if line.translate(_ASCII_SWAP) != line or any(48 <= c <= 57 for c in line)]
    if not alnum:
        return raw
    k = data.draw(st.sampled_from(alnum), label="line")
    line = lines[k]
    digits = [i for i, c in enumerate(line) if 48 <= c <= 57]
    if digits and data.draw(st.booleans(), label="digit"):
        i = data.draw(st.sampled_from(digits), label="digit position")
        line = line[:i] + bytes([48 + (line[i] - 47) % 10]) + line[i + 1:]
    else:
        line = line.translate(_ASCII_SWAP)
    lines[k] = line
    return b"\n".join(lines)


_ASCII_SWAP = bytes.maketrans(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
                              b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _rename_candidates(rel: str) -> list[str]:
    """Other names for a document: another code, feature, kind, suffix, or a non-candidate name."""
    d, name = rel.rsplit("/", 1) if "/" in rel else ("", rel)
    codes = sorted({wsgen.code_of(i) for i in wsgen.ACH_IDS} | {"09", "42"})
    out: list[str] = ["README.md", "NORTH_STAR_" + name]
    m = re.fullmatch(r"SUBPLAN_([A-Z0-9-]+)_(\d+)((?:_ARCHIVED)?)\.md", name)
    if m:
        f, c, s = m.groups()
        out += [f"SUBPLAN_{f}_{k}{s}.md" for k in codes if k != c]
        out += [f"SUBPLAN_{g}_{c}{s}.md" for g in wsgen.FEATURES + (wsgen.ORPHAN_FEATURE,) if g != f]
        out += [f"SUBPLAN_{f}_{c}{'' if s else '_ARCHIVED'}.md", f"SUBPLAN_{f}_7.md"]
    m = re.fullmatch(r"EXECUTION_TASK_([A-Z0-9-]+)_(\d+)_(\d+)((?:_[A-Z0-9]+)?)\.md", name)
    if m:
        f, c, mm, s = m.groups()
        out += [f"EXECUTION_TASK_{f}_{k}_{mm}{s}.md" for k in codes if k != c]
        out += [f"EXECUTION_TASK_{f}_{c}_{n}{s}.md" for n in ("01", "02", "03") if n != mm]
        out += [f"EXECUTION_TASK_{f}_{c}_{mm}{x}.md" for x in ("", "_V2", "_V3", "_RECOVERY", "_ARCHIVED", "_BOGUS")
                if x != s]
        out += [f"EXECUTION_TASK_{g}_{c}_{mm}{s}.md" for g in wsgen.FEATURES if g != f]
    m = re.fullmatch(r"(APPROVED|FIX|SKIPPED)_(\d+)\.md|FIX_(\d+)_RESOLUTION\.md", name)
    if m:
        c = m.group(2) or m.group(3)
        out += [wsgen.feedback_name(k, c) for k in wsgen.FEEDBACK_KINDS if wsgen.feedback_name(k, c) != name]
        out += [f"APPROVED_{k}.md" for k in codes if k != c] + ["APPROVED_1.1.md"]
    m = re.fullmatch(r"PLAN_([A-Z0-9-]+)\.md", name)
    if m:
        out += [f"PLAN_{g}.md" for g in wsgen.FEATURES + (wsgen.ORPHAN_FEATURE,) if g != m.group(1)]
    if name == "parallel.json":
        out += ["parallel-old.json"]
    if name in ("README.md",) or name.startswith("NORTH_STAR_"):
        out += ["PLAN_GAMMA.md", "SUBPLAN_ALPHA_11.md"]
    return [f"{d}/{n}" if d else n for n in out if n != name]


class IncrementalEqualsClean(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.base = wsgen.scratch_dir("pg-inc-")
        self.root = os.path.join(self.base, "ws")
        os.makedirs(self.root)
        self.saved_templates = prompts.TEMPLATES_DIR
        self.templates = Path(self.base) / "templates"
        shutil.copytree(self.saved_templates, self.templates, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
        prompts.TEMPLATES_DIR = self.templates
        self.disk = wsgen.Disk(self.root)
        self.cap = None
        self.cleans = 0
        self.pending_racy: dict = {}  # written this step with a future mtime: racily clean at the next build
        self.racy: dict = {}  # the ones of the previous step (path -> mtime_ns), hashed once since

    def teardown(self) -> None:
        prompts.TEMPLATES_DIR = self.saved_templates
        shutil.rmtree(self.base, ignore_errors=True)

    # -- the check after every step -------------------------------------------------------------------
    def build_and_compare(self, expect_no_recompute: bool = False) -> dict:
        inc = snapshot(self.root, fast_path_first=True)
        self.racy, self.pending_racy = self.pending_racy, {}
        self.cleans += 1
        clean_root = os.path.join(self.base, f"clean-{self.cleans}")
        wsgen.copy_clean(self.root, clean_root)
        try:
            clean = snapshot(clean_root)
        finally:
            shutil.rmtree(clean_root, ignore_errors=True)
        check_counts(inc)
        check_counts(clean)
        compare(inc, clean)
        if expect_no_recompute:
            assert total(inc["by_type"], "miss") == 0 and total(inc["by_type"], "cutoff") == 0, inc["recomputed"]
        return inc

    # -- set-up ------------------------------------------------------------------------------------------
    @initialize(files=wsgen.workspaces(), cap=st.sampled_from(wsgen.CAP_CHOICES))
    def setup(self, files, cap) -> None:
        for rel in sorted(files):
            self.disk.write(rel, files[rel])
        self.cap = cap
        wsgen.write_config(self.root, cap)
        first = self.build_and_compare()
        assert total(first["by_type"], "hit") == 0

    def docs(self) -> list[str]:
        return self.disk.documents()

    def _write(self, data, rel: str, content: bytes) -> None:
        mode = data.draw(st.sampled_from(("old", "old", "old", "now", "future")), label="mtime")
        in_place = data.draw(st.booleans(), label="in_place")
        mtime_ns = self.disk.write(rel, content, in_place=in_place, mtime=mode)
        if mode == "future":
            self.pending_racy[rel] = mtime_ns

    # -- rules -------------------------------------------------------------------------------------------
    @precondition(lambda self: self.docs())
    @rule(data=st.data())
    def edit_document(self, data) -> None:
        rel = data.draw(st.sampled_from(self.docs()), label="path")
        raw = self.disk.read(rel)
        text = raw.decode("utf-8", "replace")
        how = data.draw(st.sampled_from(("status", "add_decl", "remove_decl", "append", "date", "empty",
                                         "bad_bytes", "parallel", "free_text", "same_size")), label="edit")
        if how == "status":
            value = data.draw(st.sampled_from(wsgen.EXEC_STATUSES + ("✅ APPROVED",)))
            lines = list(wsgen.STATUS_RE.finditer(text))
            if lines:
                m = data.draw(st.sampled_from(lines))
                name = m.group(0).split("**:")[0] + "**:"
                text = text[:m.start()] + f"{name} {value}" + text[m.end():]
            else:
                head, _, rest = text.partition("\n")
                text = f"{head}\n\n**Status**: {value}\n{rest}"
        elif how == "add_decl":
            ach = data.draw(st.sampled_from(wsgen.ACH_IDS + ("4.2", "10.3")))
            line = data.draw(st.sampled_from((f"**Achievement {ach}**: Added title",
                                              f"**Achievement {ach}: Added D2** ⏱️ 1 hour",
                                              f"- Achievement {ach}: Added to the index")))
            anchor = "## 🎯 Desirable Achievements\n"
            text = text.replace(anchor, anchor + "\n" + line + "\n", 1) if anchor in text else text + "\n" + line + "\n"
        elif how == "remove_decl":
            lines = list(wsgen.DECL_RE.finditer(text))
            if lines:
                m = data.draw(st.sampled_from(lines))
                text = text[:m.start()] + text[m.end():]
        elif how == "append":
            text += data.draw(st.sampled_from(EXTRA_SNIPPETS))
        elif how == "date":
            new = data.draw(st.sampled_from(wsgen.DATES))
            m = wsgen.DATE_RE.search(text)
            if m:
                text = text[:m.start()] + new + text[m.end():]
            else:
                head, _, rest = text.partition("\n")
                text = f"{head}\n\n**Review Date**: {new}\n{rest}"
        elif how == "free_text":
            text += data.draw(st.text(max_size=30))
        elif how == "same_size":  # a visible change that keeps the byte size (only the mtime tells)
            raw = same_size_edit(data, raw)
            text = None
        if how == "empty":
            content = data.draw(st.sampled_from((b"", b"\n  \n")))
        elif how == "bad_bytes":
            content = raw + b"\n**Status**: caf\xe9 \xff\xfe done\n"
        elif how == "parallel":
            ids = data.draw(st.lists(st.sampled_from(wsgen.ACH_IDS), max_size=4, unique=True))
            items = [(i, data.draw(st.lists(st.sampled_from(ids), max_size=2, unique=True))) for i in ids]
            feature = data.draw(st.sampled_from(wsgen.FEATURES))
            content = wsgen.parallel_doc(feature, items, data.draw(st.sampled_from(("level_1", "level_2", "level_9"))),
                                         broken=data.draw(st.integers(0, 5)) == 0).encode()
        elif text is None:
            content = raw
        else:
            content = text.encode("utf-8", "surrogatepass")
        self._write(data, rel, content)
        self.build_and_compare()

    @precondition(lambda self: self.racy)
    @rule(data=st.data())
    def same_size_same_mtime_edit(self, data) -> None:
        """Rewrite a racily clean file (hashed right after it was written) in place with a same-size
        change and put its mtime back: same (mtime, size, inode). Only the racy-clean guard can see it."""
        live = [p for p in sorted(self.racy) if os.path.isfile(self.disk.path(p))]
        if not live:
            return
        rel = data.draw(st.sampled_from(live), label="path")
        full = self.disk.path(rel)
        before = os.stat(full)
        if before.st_mtime_ns != self.racy[rel]:
            return
        new = same_size_edit(data, self.disk.read(rel))
        with open(full, "r+b") as fh:
            fh.write(new)
        os.utime(full, ns=(before.st_atime_ns, before.st_mtime_ns))
        after = os.stat(full)
        assert (after.st_mtime_ns, after.st_size, after.st_ino) == (before.st_mtime_ns, before.st_size,
                                                                    before.st_ino)
        self.build_and_compare()

    @rule(data=st.data())
    def add_document(self, data) -> None:
        plan_dirs = sorted({os.path.dirname(p) for p in self.docs() if re.search(r"/PLAN_[^/]+\.md$", p)})
        bases = plan_dirs + ["plans/ALPHA", wsgen.FLAT_DIR]
        base = data.draw(st.sampled_from(bases), label="plan dir")
        feature = data.draw(st.sampled_from(wsgen.FEATURES + (wsgen.ORPHAN_FEATURE,)), label="feature")
        ach = data.draw(st.sampled_from(wsgen.ACH_IDS), label="achievement")
        code = wsgen.code_of(ach)
        kind = data.draw(st.sampled_from(("subplan", "execution", "feedback", "plan", "parallel", "other")))
        flat = data.draw(st.booleans(), label="flat folders")
        sub_dir, exe_dir = ("subplans", "execution") if flat else (f"{base}/subplans", f"{base}/execution")
        if kind == "subplan":
            rel = f"{sub_dir}/SUBPLAN_{feature}_{code}.md"
            content = wsgen.subplan_doc(feature, ach, data.draw(st.sampled_from(wsgen.SUB_STATUSES)),
                                        data.draw(st.integers(0, 3)))
        elif kind == "execution":
            mm = data.draw(st.sampled_from(("01", "02", "03")))
            suffix = data.draw(st.sampled_from(("", "_V2", "_RECOVERY", "_ARCHIVED")))
            rel = f"{exe_dir}/EXECUTION_TASK_{feature}_{code}_{mm}{suffix}.md"
            content = wsgen.execution_doc(feature, ach, mm, data.draw(st.sampled_from(wsgen.EXEC_STATUSES)),
                                          data.draw(st.none() | st.sampled_from(wsgen.EXEC_STATUSES)))
        elif kind == "feedback":
            fb = data.draw(st.sampled_from(wsgen.FEEDBACK_KINDS))
            rel = f"{base}/execution/feedbacks/{wsgen.feedback_name(fb, code)}"
            content = wsgen.feedback_doc(fb, ach, data.draw(st.none() | st.sampled_from(wsgen.DATES)))
        elif kind == "plan":
            layout = data.draw(st.sampled_from(("nested", "category", "flat")))
            rel = f"{wsgen.plan_dir_of(feature, layout)}/PLAN_{feature}.md"
            ids = data.draw(st.lists(st.sampled_from(wsgen.ACH_IDS), max_size=3, unique=True))
            pointer = data.draw(st.none() | st.sampled_from(ids or ["0.1"]))
            content = wsgen.plan_doc(feature, [(i, "New", "D1") for i in ids], pointer, "Planning")
        elif kind == "parallel":
            rel = f"{base}/parallel.json"
            ids = data.draw(st.lists(st.sampled_from(wsgen.ACH_IDS), max_size=3, unique=True))
            content = wsgen.parallel_doc(feature, [(i, []) for i in ids])
        else:
            other = ("README.md", "end.txt", "GRAMMAPLAN_ALPHA.md", "PLAN_notes.md")
            rel = f"{base}/{data.draw(st.sampled_from(other))}"
            content = "# not a node\n"
        self._write(data, rel, content.encode("utf-8"))
        self.build_and_compare()

    @precondition(lambda self: self.docs())
    @rule(data=st.data())
    def delete_document(self, data) -> None:
        self.disk.remove(data.draw(st.sampled_from(self.docs()), label="path"))
        self.build_and_compare()

    @precondition(lambda self: self.docs())
    @rule(data=st.data())
    def rename_document(self, data) -> None:
        rel = data.draw(st.sampled_from(self.docs()), label="path")
        name = rel.rsplit("/", 1)[-1]
        if data.draw(st.booleans(), label="other folder"):
            folders = sorted({p.rsplit("/", 1)[0] for p in self.docs() if "/" in p}
                             | {"subplans", "execution", "archive", "plans/ALPHA/execution/feedbacks"})
            new = f"{data.draw(st.sampled_from(folders), label='folder')}/{name}"
        else:
            new = data.draw(st.sampled_from(_rename_candidates(rel)), label="new name")
        if new != rel:
            self.disk.rename(rel, new)
            if data.draw(st.booleans(), label="new mtime"):
                self.disk.touch(new)
        self.build_and_compare()

    @rule(data=st.data())
    def touch_only(self, data) -> None:
        """mtime change, same content (also: nothing at all): nothing may be recomputed."""
        docs = self.docs()
        chosen = data.draw(st.lists(st.sampled_from(docs), max_size=3, unique=True), label="touched") if docs else []
        for rel in chosen:
            if data.draw(st.booleans(), label="rewrite same bytes"):
                self._write(data, rel, self.disk.read(rel))  # same content, maybe a new inode
            else:
                self.disk.touch(rel)
        self.build_and_compare(expect_no_recompute=True)

    @rule(cap=st.sampled_from(wsgen.CAP_CHOICES), comment=st.booleans())
    def change_config(self, cap, comment) -> None:
        unchanged = cap == self.cap
        self.cap = cap
        wsgen.write_config(self.root, cap, "# edited\n" if comment else "")
        inc = self.build_and_compare(expect_no_recompute=unchanged)
        if not unchanged:  # size_cap is part of every node's version key
            assert total(inc["by_type"], "hit") == 0

    @rule(name=st.sampled_from(prompts.TEMPLATE_NAMES), edit=st.sampled_from(TEMPLATE_EDITS))
    def change_template(self, name, edit) -> None:
        path = self.templates / f"{name}.md"
        path.write_text(path.read_text(encoding="utf-8") + edit, encoding="utf-8")
        inc = self.build_and_compare()
        by_type = inc["by_type"]
        assert by_type["template"] == {"hit": 0, "miss": 1, "cutoff": len(prompts.TEMPLATE_NAMES) - 1}
        assert inc["decisions"][f"template:{name}"] == "miss"
        for node, decision in inc["decisions"].items():
            kind = node.split(":", 1)[0]
            if kind in ("prompt", "next"):
                uses = f"template:{name}" in inc["deps"][node]
                assert decision == ("miss" if uses else "hit"), (node, decision)
            elif kind != "template":
                assert decision == "hit", (node, decision)


def _run(max_examples: int, steps: int = STEPS) -> None:
    run_state_machine_as_test(
        IncrementalEqualsClean,
        settings=settings(max_examples=max_examples, stateful_step_count=steps, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                 HealthCheck.data_too_large]),
    )


def test_incremental_equals_clean() -> None:
    _run(200)


@pytest.mark.slow
def test_incremental_equals_clean_long() -> None:
    _run(1000, steps=10)


def test_parallel_owner_change(tmp_path) -> None:
    """Regression (found by the state machine): rename PLAN_ALPHA.md to PLAN_GAMMA.md next to an unchanged
    parallel.json; its parse depends on the owning plan's feature, which must be an input of its node."""
    root = str(tmp_path / "ws")
    files = {"plans/ALPHA/PLAN_ALPHA.md": wsgen.plan_doc("ALPHA", [("0.1", "First", "D1")], None, "x"),
             "plans/ALPHA/parallel.json": wsgen.parallel_doc("ALPHA", [("0.1", [])])}
    disk = wsgen.write_workspace(root, {k: v.encode() for k, v in files.items()})
    wsgen.write_config(root, 5)
    snapshot(root)
    disk.rename("plans/ALPHA/PLAN_ALPHA.md", "plans/ALPHA/PLAN_GAMMA.md")
    inc = snapshot(root)
    clean_root = str(tmp_path / "clean")
    wsgen.copy_clean(root, clean_root)
    assert inc["diagnostics"] == snapshot(clean_root)["diagnostics"]

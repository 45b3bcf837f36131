"""Generate large methodology workspaces for the reliability tests (crash, concurrency).

`generate(dest, copies)` copies the fixture workspace (tests/data/methodology-workspace) to `dest` and
adds `copies` clones of each of its nested plan folders under `plans/gen/`, with the feature name
rewritten in file names and contents (`ORBIT-SYNC` -> `ORBIT-SYNC-C03`, ...). The build graph grows
linearly: about 100 nodes per copy on top of the fixture's 127.

`apply_variant(root, k)` puts the workspace in edit variant k (0 = as generated): every edit slot (a
path and its content per variant, None = file absent) is written or removed, so variants can be
switched in any order and a fresh `generate` + `apply_variant(k)` is the clean equivalent of any
workspace that went through a sequence of variants ending in k. The edits change results: feedback
added (an achievement becomes approved), a SUBPLAN removed, an execution added, a PLAN that gains
achievements, parallel.json dependencies changed, and one same-size rewrite (same length, other
bytes: only a content hash can see it).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "methodology-workspace"

# Nested plan folders of the fixture (relative to the workspace) and their feature names.
PLAN_FOLDERS = {
    "plans/ORBIT-SYNC": "ORBIT-SYNC",
    "plans/LANTERN-INDEX": "LANTERN-INDEX",
    "plans/EMBER-NOTES": "EMBER-NOTES",
    "plans/a_paused/HARBOR-LEDGER": "HARBOR-LEDGER",
    "plans/a_real-use-cases/CINDER-FORGE": "CINDER-FORGE",
}
VARIANTS = (0, 1, 2, 3)


def clone_name(feature: str, i: int) -> str:
    return f"{feature}-C{i:02d}"


def clone_dir(feature: str, i: int) -> str:
    return f"plans/gen/{clone_name(feature, i)}"


def _copy_plan(src: Path, dest: Path, old: str, new: str) -> None:
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src).as_posix().replace(old, new)
        target = dest / rel
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            target.write_bytes(data)
        else:
            target.write_bytes(text.replace(old, new).encode("utf-8"))


def generate(dest: str | os.PathLike, copies: int = 4) -> Path:
    """Create the workspace at `dest` (must not exist) and return its path. Never writes `.promptgen/`."""
    dest = Path(dest)
    shutil.copytree(FIXTURE, dest, symlinks=True)
    for p in [dest, *dest.rglob("*")]:  # the fixture may be read-only; the tests edit the copy
        if p.is_dir():
            p.chmod(0o755)
        else:
            p.chmod(0o644)
    for i in range(1, copies + 1):
        for rel, feature in PLAN_FOLDERS.items():
            _copy_plan(FIXTURE / rel, dest / clone_dir(feature, i), feature, clone_name(feature, i))
    return dest


def _edit_slots(copies: int) -> dict[str, dict[int, str | None]]:
    """path -> {variant: content or None (absent)}; variants not listed keep the generated content."""
    i = 1 if copies >= 1 else None
    j = 2 if copies >= 2 else i
    if i is None:
        raise ValueError("edit variants need at least one copy")
    orbit, lantern = clone_dir("ORBIT-SYNC", i), clone_dir("LANTERN-INDEX", j)
    ember, cinder = clone_dir("EMBER-NOTES", i), clone_dir("CINDER-FORGE", j)
    harbor = clone_dir("HARBOR-LEDGER", i)
    o, l_, e, c = (clone_name("ORBIT-SYNC", i), clone_name("LANTERN-INDEX", j),
                   clone_name("EMBER-NOTES", i), clone_name("CINDER-FORGE", j))
    approved = "# APPROVED\n\n**Reviewer**: crashgen\n\nLooks good; merged.\n"
    execution = (f"# EXECUTION_TASK: {{title}}\n\n**Type**: EXECUTION_TASK\n**Mother Plan**: PLAN_{c}.md\n"
                 f"**Achievement**: 3.1\n**Status**: 🎯 Executing\n\n## Journey\n\n- started\n")
    ember_plan = (f"# PLAN: Ember Field Notes (crashgen)\n\n**Type**: PLAN\n**Status**: 🚀 In Progress\n\n---\n\n"
                  f"## 📋 Achievement Index\n\n- Achievement 0.1: Capture notes\n- Achievement 0.2: Sync notes\n\n"
                  f"## 🎯 Desirable Achievements\n\n**Achievement 0.1**: Capture notes\n\n- **Goal**: capture.\n\n"
                  f"**Achievement 0.2**: Sync notes\n\n- **Goal**: sync.\n")
    return {
        f"{orbit}/execution/feedbacks/APPROVED_12.md": {1: approved, 3: approved},
        f"{lantern}/subplans/SUBPLAN_{l_}_21.md": {1: None, 2: None},
        f"{cinder}/execution/EXECUTION_TASK_{c}_31_01.md": {1: execution.format(title="Dashboard"),
                                                             2: execution.format(title="Dashboard v2")},
        f"{ember}/PLAN_{e}.md": {2: ember_plan, 3: ember_plan},
        f"{harbor}/parallel.json": {2: "PARALLEL-V2", 3: "PARALLEL-V3"},
        f"{orbit}/execution/feedbacks/FIX_12.md": {1: "SAME-SIZE", 3: "SAME-SIZE"},
        f"{orbit}/subplans/SUBPLAN_{o}_32.md": {3: None},
    }


def _base_content(root: Path, rel: str) -> str | None:
    """The generated content of `rel` (None if the generated workspace has no such file)."""
    parts = rel.split("/")
    if parts[:2] == ["plans", "gen"]:
        folder = parts[2]
        for src_rel, feature in PLAN_FOLDERS.items():
            prefix = feature + "-C"
            if folder.startswith(prefix) and folder[len(prefix):].isdigit():
                new = folder
                src = FIXTURE / src_rel / "/".join(parts[3:]).replace(new, feature)
                if not src.is_file():
                    return None
                return src.read_text(encoding="utf-8").replace(feature, new)
    src = FIXTURE / rel
    return src.read_text(encoding="utf-8") if src.is_file() else None


def _same_size_rewrite(text: str) -> str:
    """Same length in bytes, different content (swap the case of ASCII letters in the last line)."""
    lines = text.split("\n")
    idx = max(i for i, line in enumerate(lines) if line.strip())
    lines[idx] = lines[idx].swapcase()
    out = "\n".join(lines)
    assert len(out.encode()) == len(text.encode()) and out != text
    return out


def _parallel(text: str, variant: int) -> str:
    import json

    doc = json.loads(text.lstrip("\ufeff"))
    for a in doc.get("achievements", []):
        if variant == 2:
            a["dependencies"] = []
        elif variant == 3:
            a["dependencies"] = list(reversed(a.get("dependencies", []))) + (["0.1"] if a["achievement_id"] != "0.1" else [])
    return json.dumps(doc, indent=2) + "\n"


def variant_files(root: str | os.PathLike, variant: int, copies: int = 4) -> dict[str, str | None]:
    """rel path -> content (None = absent) of every edit slot in `variant`."""
    root = Path(root)
    out: dict[str, str | None] = {}
    for rel, by_variant in _edit_slots(copies).items():
        base = _base_content(root, rel)
        content = by_variant.get(variant, base) if variant else base
        if content == "SAME-SIZE":
            content = _same_size_rewrite(base or "")
        elif content in ("PARALLEL-V2", "PARALLEL-V3"):
            content = _parallel(base or "{}", int(content[-1]))
        out[rel] = content
    return out


def apply_variant(root: str | os.PathLike, variant: int, copies: int = 4) -> list[str]:
    """Put the workspace at `root` in edit variant `variant`; return the paths written or removed."""
    root = Path(root)
    changed = []
    for rel, content in variant_files(root, variant, copies).items():
        path = root / rel
        if content is None:
            if path.exists():
                path.unlink()
                changed.append(rel)
            continue
        data = content.encode("utf-8")
        if path.is_file() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        changed.append(rel)
    return changed


if __name__ == "__main__":  # python tests/reliability/crashgen.py DEST [COPIES] [VARIANT]
    import sys

    ws = generate(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 4)
    if len(sys.argv) > 3:
        apply_variant(ws, int(sys.argv[3]), int(sys.argv[2]))
    print(ws)

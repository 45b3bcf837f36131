"""What a build leaves for the next command's fast path: `manifest.bin` (file records, counts, a small
payload) and `answers.bin` (the printable answers, rewritten only when they changed)."""
from __future__ import annotations

import marshal
import os
from typing import TYPE_CHECKING

from promptgen.config import Config

if TYPE_CHECKING:
    from promptgen.collected import Collected

MANIFEST_KEY = "promptgen-manifest-2"  # the real key (version, config, templates) is in the payload


def save_manifest(cfg: Config, spec, collected: Collected, outcome, artifact_stats: dict | None,
                  base, global_key: bytes) -> None:
    """Write the no-op fast path's manifest: file stats + digests, counts per type, the answers' key and
    small values, the stats of the default artifacts (None after `--out`: the next plain build rewrites
    them) and the build's files snapshot (when every record agrees with the engine's: the next build may
    then tell the engine which files changed). `base` is the fast path's `Handoff` when the engine
    trusted it: the records then start from the old manifest's. `global_key`: `fastpath.global_key`."""
    from graph_cache.manifest import Manifest
    from promptgen import fastpath, stored_answers

    counts_by_type: dict[str, int] = {}
    for node_type, c in outcome.counts.by_type.items():
        counts_by_type[node_type] = sum(c.values())
    stats, digests, agree = manifest_files(cfg, spec, outcome.result, base)
    small = {"global_key": global_key, "workspace": cfg.workspace, "artifacts": artifact_stats,
             "files_snapshot": outcome.result.files_snapshot if agree else None, "walk_notes": spec.walk_notes}
    if collected.known is not None:  # answers.bin holds these answers already (`unchanged_answers`)
        small.update(collected.known)
    else:
        # Printable answers are stored as UTF-8 bytes, as the answers node made them; they go to sections
        # of answers.bin, which only status/check read.
        answer_fields, sections = stored_answers.split_answers(collected.answers.payload())
        small.update(answer_fields)
        small["answers_key"] = save_answers(cfg, sections, outcome.result, global_key)  # first: the manifest names it
    manifest = Manifest(MANIFEST_KEY, stats, digests, marshal.dumps(small), counts_by_type)
    manifest.save(os.path.join(cfg.state_dir, fastpath.MANIFEST))


def answers_key(result, global_key: bytes) -> str:
    """The key of `answers.bin`: a digest of the answers node's output fingerprint and the fast path's
    `global_key` (tool, code, configuration). Equal keys mean equal answers."""
    import xxhash

    from promptgen.answers import ANSWERS_ID

    return xxhash.xxh3_128(global_key + b"\0" + result.fingerprints[ANSWERS_ID].encode()).hexdigest()


def save_answers(cfg: Config, sections: dict, result, global_key: bytes) -> str:
    """Write the answer sections to `answers.bin` unless it holds them already; return its key
    (`answers_key`). A file with the same key, whole and with the same sections, is kept (its CRCs are
    not read back: the fast path checks them when it prints a section and removes a damaged file,
    which the next build writes again). An edit that changes no plan's status rewrites the 2 MB
    manifest, not 6 more MB of answers (10k documents)."""
    from graph_cache.manifest import Manifest
    from promptgen import stored_answers

    key = answers_key(result, global_key)
    if not _answers_file_holds(cfg, key, set(sections)):
        Manifest(key, sections=sections).save(os.path.join(cfg.state_dir, stored_answers.ANSWERS_FILE))
    return key


def _answers_file_holds(cfg: Config, key: str, names: set) -> bool:
    """Whether `answers.bin` is whole (its header loads and the file has the size it records), has the
    answers key `key` and exactly the sections `names` (nothing else is read)."""
    from graph_cache.manifest import Manifest
    from promptgen import stored_answers

    answers = Manifest.load(os.path.join(cfg.state_dir, stored_answers.ANSWERS_FILE))
    if answers is None:
        return False
    answers.close()
    return answers.global_key == key and answers.section_names() == names


def unchanged_answers(cfg: Config, result, base, global_key: bytes, plan_names) -> dict | None:
    """The last manifest's answer fields (`handoff.ANSWER_FIELDS`), if the answers did not change since
    it was written and `answers.bin` still holds them (same key, one section per plan); else None.
    The build then neither reads the answers node's output (6 MB at 10k documents, 60 MB at 100k) nor
    writes `answers.bin`. `base`: the fast path's `Handoff` (None: nothing known)."""
    from promptgen import stored_answers

    known = base.answers if base is not None else None
    if not known or not isinstance(known.get("diag_summary"), dict) or not isinstance(known.get("check_exit"), int):
        return None
    key = answers_key(result, global_key)
    if known.get("answers_key") != key:
        return None
    expected = {*stored_answers.ANSWERS, *(stored_answers.PLAN_SECTION + name for name in plan_names)}
    return dict(known) if _answers_file_holds(cfg, key, expected) else None


def manifest_files(cfg: Config, spec, result, base=None) -> tuple[dict, dict, bool]:
    """({path: (mtime_ns, size, ino)}, {path: digest}, agree) of every scanned candidate file, node
    input or not. The stats keep the order of the walk (`spec.stats`), so that the no-op path's
    comparison with its own walk is one byte comparison (graph_cache/manifest.py). A file whose stat
    moved since the engine's record is hashed again; `agree` is False if its content moved too (the
    manifest then cannot vouch for the engine's records). With `base` (a trusted `Handoff`) only the
    files it names and the ones the engine fingerprinted are looked at; the others keep the old
    manifest's records, which equal their walk stats."""
    from graph_cache.fingerprint import fingerprint_file
    from graph_cache.fs import RealFileSystem

    known = result.files
    row_of = getattr(known, "row", None)  # stored rows as they are: no FileRecord per file
    fs = None
    agree = True

    def record(path: str, st) -> tuple | None:
        nonlocal fs, agree
        if row_of is not None:
            row = row_of(path)
        else:
            rec = known.get(path)
            row = None if rec is None else (rec.stat.mtime_ns, rec.stat.size, rec.stat.ino, rec.digest)
        if row is None or (st is not None and row[:3] != tuple(st)):
            fs = fs or RealFileSystem(cfg.workspace_dir)
            rec, _ = fingerprint_file(fs, path, None, st)
            new = None if rec is None else (rec.stat.mtime_ns, rec.stat.size, rec.stat.ino, rec.digest)
            if row is not None and (new is None or new[3] != row[3]):
                agree = False
            row = new
        return row

    stats, digests = {}, {}
    if base is None:
        for path, st in spec.stats.items():
            row = record(path, st)
            if row is not None:
                stats[path] = row[:3]
                digests[path] = row[3]
        return stats, digests, agree
    # The walk's stats in its order, the old digests, then the few files looked at again: copies at C
    # speed instead of a Python loop over every file (0.1 s at 100k documents).
    fingerprinted, touched, old = result.fingerprinted, base.touched, base.digests
    stats, digests = dict(spec.stats), dict(old)
    for path in base.changed | touched.keys() | fingerprinted.keys() | (stats.keys() - old.keys()):
        st = stats.get(path)
        rec = touched.get(path) if path not in fingerprinted else None
        row = None if path not in stats else record(path, st) if rec is None else (*rec.stat, rec.digest)
        if row is None:  # removed (or unreadable) since the old manifest
            stats.pop(path, None)
            digests.pop(path, None)
        else:
            stats[path] = row[:3]
            digests[path] = row[3]
    if digests.keys() != stats.keys():  # the handoff was not this walk's comparison: never trust it
        return manifest_files(cfg, spec, result)
    return stats, digests, agree

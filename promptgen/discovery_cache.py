"""Discovery and root specs, reused while the set of scanned paths stays the same.

Discovery reads names only (never contents), so the same scanned paths (with the same stat failures), the
same configuration and the same code give the same plans, root specs and discovery diagnostics. An edit
build therefore skips `discover_paths` and `graphspec.root_specs` (≈ 0.4 s at 10k documents) and loads
them from `.promptgen/discovery.bin` (marshal, checksummed body; the root specs stay marshalled until a
full build needs them). Adding, removing or renaming a file changes the key and
the next build discovers afresh. The file is disposable: any problem reading it means "not cached".
"""
from __future__ import annotations

import marshal
import os

FILE = "discovery.bin"
MAGIC = "promptgen-discovery-3"


class CachedDiscovery:
    """What a build needs from discovery besides the root specs (the subset of `Discovery` it reads)."""

    def __init__(self, diagnostics: list, workspace_diagnostics: list) -> None:
        self.diagnostics, self.workspace_diagnostics = diagnostics, workspace_diagnostics


def key_of(global_key: bytes, files: dict, containers: tuple, walk_diagnostics: list) -> bytes:
    """Digest of everything discovery depends on: code/config (`global_key`) and the walk's names. The
    names are taken in the walk's order, a function of the set of names (`scan.scan_tree` lists every
    folder sorted): no sort of 100k paths."""
    import xxhash

    h = xxhash.xxh3_128(global_key)
    h.update(marshal.dumps(([(p, st is None) for p, st in files.items()], tuple(containers),
                            [sorted(d.items()) for d in walk_diagnostics]), 2))
    return h.digest()


def load(state_dir: str, key: bytes):
    """((CachedDiscovery, GraphSpec without stats) if cached under `key`, else None; the root specs of
    the last build as stored, `SpecRows`, whatever their key, or None).

    The root specs stay marshalled (`SpecRows.lazy`) with their stored digest: an edit build compares
    the digest with the last build's and never needs the specs themselves (graph_cache/dirty.py); a
    build whose paths changed hands the last roots to the engine, which compares the new roots with
    them (graph_cache/root_changes.py). The plan infos are rebuilt without validation: they are our own
    `model_dump`s, checksummed (validating would build PlanInfo's validator, which an edit build needs
    nowhere else). What `load_ahead` read for this folder is used (equal keys, equal discoveries)."""
    global _ahead
    ahead, _ahead = _ahead, None
    got = ahead[1:] if ahead is not None and ahead[0] == os.path.abspath(state_dir) else _read(state_dir)
    if got is None:
        return None, None
    return (got[1] if got[0] == key else None), got[1][1].specs


_ahead: tuple | None = None  # (state_dir, stored key, loaded) read by `load_ahead`


def load_ahead(state_dir: str) -> None:
    """Read and decode the cache before the build that will ask for it (a daemon's child does while its
    client still walks the tree, before the key is known); `load` takes it over, once."""
    global _ahead
    got = _read(state_dir)
    _ahead = None if got is None else (os.path.abspath(state_dir), *got)


def _read(state_dir: str):
    """(stored key, (CachedDiscovery, GraphSpec)) of the cache file, or None if missing or unusable."""
    import xxhash

    from graph_cache.regular_files import read_regular
    from graph_cache.spec_rows import SpecRows
    from promptgen.graphspec import GraphSpec
    from promptgen.results import PlanInfo

    try:
        magic, stored_key, checksum, body = marshal.loads(read_regular(os.path.join(state_dir, FILE)))
        if magic != MAGIC or xxhash.xxh3_128_digest(body) != checksum:
            return None
        specs, digest, count, infos, disc_diags, diags, ws_diags = marshal.loads(body)
        spec = GraphSpec(specs=SpecRows.lazy(specs, digest, count),
                         plan_infos={name: PlanInfo.model_construct(**info) for name, info in infos.items()},
                         discovery_diags=disc_diags)
        return stored_key, (CachedDiscovery(diags, ws_diags), spec)
    except Exception:  # missing, damaged or from another version: discover afresh
        return None


def save(state_dir: str, key: bytes, disc, spec) -> None:
    """Write the cache atomically (no fsync: a torn file reads as "not cached": the body is checksummed);
    failures are ignored. The specs' digest is usually known already (the engine computed it)."""
    import xxhash

    from graph_cache.spec_rows import SpecRows

    roots = spec.specs if isinstance(spec.specs, SpecRows) else SpecRows(spec.specs)
    path = os.path.join(state_dir, FILE)
    tmp = os.path.join(state_dir, f".{FILE}.{os.getpid()}.tmp")  # swept if we are killed (store_db)
    try:
        body = marshal.dumps((marshal.dumps(roots.rows()), roots.digest(), len(roots),
                              {name: info.model_dump() for name, info in spec.plan_infos.items()},
                              spec.discovery_diags, disc.diagnostics, disc.workspace_diagnostics))
        data = marshal.dumps((MAGIC, key, xxhash.xxh3_128_digest(body), body))
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except (OSError, ValueError):
        try:
            os.unlink(tmp)
        except OSError:
            pass

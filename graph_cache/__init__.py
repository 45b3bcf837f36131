"""graph_cache: a generic incremental build engine (scheduler x verifying traces x early cutoff).

Import the submodules you need (`graph_cache.engine`, `graph_cache.store`, ...). This package module is
deliberately empty so that `graph_cache.manifest` (the no-op fast path) imports in about a millisecond.
See docs/ENGINE.md.
"""

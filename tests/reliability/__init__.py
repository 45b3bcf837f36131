"""Reliability tests: crash safety, concurrency, confinement, corrupt state, hostile documents."""

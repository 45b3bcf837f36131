"""The error boundary: documented exit codes, one line on stderr, never a traceback."""
from __future__ import annotations

from graph_cache.errors import StateDirError as EngineStateDirError
from promptgen import errors
from promptgen.boundary import guarded


def fail(exc: BaseException):
    def fn() -> int:
        raise exc
    return fn


def test_engine_state_errors_escaping_a_build_are_state_dir_errors(capsys):
    """A lazy read of a build's outputs after the runner returned can meet a damaged state file: that is
    exit 4 with the engine's message, not an internal error."""
    assert guarded(fail(EngineStateDirError("cannot read build state /x/state.db: malformed"))) == errors.EXIT_STATE_DIR
    assert capsys.readouterr().err == "promptgen: cannot read build state /x/state.db: malformed\n"


def test_library_errors_and_bugs(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    assert guarded(fail(errors.StateDirError("cannot write"))) == errors.EXIT_STATE_DIR
    assert guarded(fail(KeyError("next:X"))) == errors.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "promptgen: cannot write" in err and "internal error: KeyError" in err and "Traceback" not in err

"""`crashlog.record` never raises: it is called while an internal error is being reported."""
from __future__ import annotations

from promptgen import crashlog


def test_record_writes_text_that_is_not_utf8_escaped(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    try:
        raise RuntimeError("computing plan:plans/\udcff/HX/PLAN_HX.md failed")  # a path's undecodable byte
    except RuntimeError as exc:
        where = crashlog.record(exc)
    text = open(where, encoding="utf-8").read()
    assert "RuntimeError" in text and "plans/\\udcff/HX" in text


def test_record_reports_a_failure_instead_of_raising(tmp_path, monkeypatch):
    monkeypatch.setattr(crashlog.tempfile, "mkstemp", lambda **kw: (_ for _ in ()).throw(PermissionError(13, "no")))
    assert crashlog.record(ValueError("x")) == "no log written"

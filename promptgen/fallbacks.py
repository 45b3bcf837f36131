"""A safety net for derived nodes: a bug on one plan's odd documents must not fail the whole build.

If resolving, deciding states or rendering raises, the node's output becomes a degraded but valid
result carrying an `internal-error` diagnostic (severity error, on the PLAN) that names the exception,
and the rest of the workspace is built normally. Tests set `PROMPTGEN_STRICT=1` so bugs still raise.
"""
from __future__ import annotations

import os
from typing import Any, Callable

from promptgen.documents import Diagnostic, PlanDoc
from promptgen.results import PlanInfo, PlanModel, PlanStatus

Compute = Callable[[Any, Any], Any]


def strict() -> bool:
    return os.environ.get("PROMPTGEN_STRICT") == "1"


def internal_error(path: str, what: str, exc: BaseException) -> Diagnostic:
    return Diagnostic(code="internal-error", severity="error", path=path,
                      message=f"promptgen failed to {what}: {type(exc).__name__}: {exc} (please report this)")


def guard(fn: Compute, fallback: Callable[[Any, BaseException], Any]) -> Compute:
    def compute(spec, ctx):
        try:
            return fn(spec, ctx)
        except Exception as exc:
            if strict():
                raise
            return fallback(spec, exc)

    return compute


def model_fallback(plan_infos: dict[str, PlanInfo]) -> Callable[[Any, BaseException], Any]:
    def fallback(spec, exc: BaseException) -> bytes:
        info = plan_infos[spec.key]
        diag = internal_error(info.plan_file, "resolve this plan's files", exc)
        return PlanModel(info=info, plan=PlanDoc(path=info.plan_file, feature=info.name),
                         diagnostics=(diag,)).model_dump_json().encode()

    return fallback


def status_fallback(plan_infos: dict[str, PlanInfo]) -> Callable[[Any, BaseException], Any]:
    def fallback(spec, exc: BaseException) -> bytes:
        info = plan_infos[spec.key]
        diag = internal_error(info.plan_file, "decide this plan's states", exc)
        return PlanStatus(info=info, diagnostics=(diag,)).model_dump_json().encode()

    return fallback


def prompt_fallback(spec, exc: BaseException) -> dict:
    return {"template": spec.deps[-1].split(":", 1)[1] if spec.deps else "error",
            "text": f"promptgen could not render this prompt ({type(exc).__name__}: {exc}); please report this.\n"}

"""What the CLI reads after a build: the answers node's output and, on demand, each plan's status."""
from __future__ import annotations

from promptgen.answers import ANSWERS_ID, Answers


class Collected:
    """This build's answers (`answers:workspace`, sliced, not decoded) and plan statuses (plain JSON,
    decoded from the node outputs only when a command or a re-rendered artifact asks for them)."""

    def __init__(self, result, plan_names) -> None:
        self._result = result
        self.names: list[str] = sorted(plan_names)
        self.answers = Answers(result.output_bytes(ANSWERS_ID))
        self._statuses: list[dict] | None = None

    @property
    def diagnostics(self) -> list[dict]:
        """Every diagnostic of the build, sorted."""
        return self.answers.diagnostics

    @property
    def statuses(self) -> list[dict]:
        """Every plan's status output, in plan-name order (decodes them all: reading commands only)."""
        if self._statuses is None:
            self._statuses = [self.status(name) for name in self.names]
        return self._statuses

    def status(self, feature: str) -> dict:
        return self._result.output("status:" + feature)

    def plan_diagnostics(self, feature: str) -> list[dict]:
        """One plan's diagnostics, sorted."""
        return self.answers.plan_diagnostics(feature)

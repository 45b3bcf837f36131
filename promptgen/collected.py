"""What the CLI reads after a build: the answers node's output and, on demand, each plan's status."""
from __future__ import annotations

from promptgen.answers import ANSWERS_ID, Answers


class Collected:
    """This build's answers (`answers:workspace`, sliced, not decoded) and plan statuses (plain JSON,
    decoded from the node outputs only when a command or a re-rendered artifact asks for them). The
    answers output is read on first use: `known` (`manifest_write.unchanged_answers`, the last
    manifest's answer fields when the answers did not change) spares it to a build that re-renders
    no artifact made from it."""

    def __init__(self, result, plan_names, known: dict | None = None) -> None:
        self._result = result
        self.names: list[str] = sorted(plan_names)
        self.known = known
        self._answers: Answers | None = None
        self._statuses: list[dict] | None = None

    @property
    def answers(self) -> Answers:
        if self._answers is None:
            self._answers = Answers(self._result.output_bytes(ANSWERS_ID))
        return self._answers

    def diag_summary(self) -> dict[str, int]:
        """Diagnostics per severity (counted when the answers were assembled)."""
        if self.known is not None:
            return dict(self.known["diag_summary"])
        return self.answers.diag_summary()

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

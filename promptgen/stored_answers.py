"""The answers the no-op fast path prints: the sections of `answers.bin`, the build report, printing.

Standard library only (the fast path imports this module). A build stores its printable answers
(`status --json` whole and per plan, `check` text and JSON, the diagnostics) as sections of
`answers.bin`, a file in the manifest's format whose key the manifest names (`answers_key`), rewritten
only when the answers changed (`manifest_write.save_answers`).
"""
from __future__ import annotations

import os
import sys

ANSWERS_FILE = "answers.bin"
ANSWERS = ("diagnostics_json", "status_json", "check_json", "check_text")  # + status_by_plan: sections
PLAN_SECTION = "status_by_plan:"  # + feature name: the section of `status --json FEATURE`


def warn_damaged(path: str) -> None:
    """One stderr line for a manifest or answers file that exists but cannot be used; the full build
    then rewrites it."""
    sys.stderr.write(f"promptgen: warning: discarded unusable {path} (damaged, truncated or of another "
                     f"format); the build rewrites it\n")


class AnswerSections:
    """The answer sections of `answers.bin`, opened on first use, if it is the one the manifest names
    (`answers_key`): None for a missing or another build's file (the full CLI answers); a damaged one
    gets the warning line and None too."""

    def __init__(self, state_dir: str, payload: dict) -> None:
        self.path = os.path.join(state_dir, ANSWERS_FILE)
        self.key = payload.get("answers_key")

    def section(self, name: str) -> bytes | None:
        from graph_cache.manifest import Damaged, Manifest

        if not isinstance(self.key, str):
            return None
        answers = Manifest.load(self.path)
        if answers is None:
            if os.path.isfile(self.path):
                warn_damaged(self.path)  # exists, but torn or garbled (a missing one is silent)
            return None
        if answers.global_key != self.key:  # another build's (killed before its manifest): silent
            answers.close()
            return None
        try:
            return answers.section(name)
        except Damaged:
            warn_damaged(self.path)
            remove_if_same(self.path, answers.fileno())  # the next build writes it again
            return None
        finally:
            answers.close()


def remove_if_same(path: str, fd: int) -> None:
    """Unlink `path` if it is still the file open as `fd` (not one a build has written since): best
    effort, without the lock (losing a race costs the next command a rebuild of the file, no answer)."""
    try:
        if os.stat(path).st_ino == os.fstat(fd).st_ino:
            os.unlink(path)
    except (OSError, TypeError):
        pass


def answer(opts: dict, manifest, payload: dict, elapsed: float, answers: AnswerSections) -> tuple[str | bytes, int] | None:
    """(stdout text, exit code) of the command, or None when the full CLI must answer. Writes nothing.
    Big answers are sections of `answers.bin`, read (and CRC-checked) only by the command printing them,
    and returned as the UTF-8 bytes they are stored as (`write` prints them without a decode)."""
    command = opts["command"]
    if command == "build":
        from promptgen import buildreport

        by_type = {t: {"hit": n, "miss": 0, "cutoff": 0} for t, n in manifest.counts_by_type.items()}
        if opts["json"]:
            diagnostics = _text(answers.section("diagnostics_json"))
            if diagnostics is None:
                return None
            return buildreport.build_json(by_type, [], diagnostics, elapsed) + "\n", 0
        return buildreport.build_table(by_type, payload["diag_summary"], elapsed) + "\n", 0
    if command == "status":
        if not opts["json"]:
            return None  # rich tables live in the full CLI
        plan = opts["plan"]
        one = answers.section("status_json" if plan is None else PLAN_SECTION + plan)
        return None if not isinstance(one, bytes) else (one + b"\n", 0)  # unknown plans, aliases: full CLI
    if command == "check":
        code = int(payload["check_exit"])
        text = answers.section("check_json" if opts["json"] else "check_text")
        if not isinstance(text, bytes):
            return None
        if opts["json"]:
            return text + b"\n", code
        return (text + b"\n" if text else b""), code
    return None


def write(text: str | bytes) -> None:
    """Print an answer. Stored answers are UTF-8 bytes: written as they are when stdout encodes UTF-8
    (the bytes the full CLI would write; decoding and re-encoding 2.4 MB of `status --json` at 10k
    documents was ~10 % of that command), else decoded and written as text."""
    out = sys.stdout
    if isinstance(text, bytes):
        buffer = getattr(out, "buffer", None)
        encoding = (getattr(out, "encoding", None) or "").lower().replace("_", "-")
        if buffer is None or encoding not in ("utf-8", "utf8"):
            out.write(text.decode("utf-8"))
            return
        out.flush()
        buffer.write(text)
        return
    out.write(text)


def split_answers(payload: dict) -> tuple[dict, dict]:
    """(the small payload every command reads, {section name: bytes}) of the runner's payload: the
    printable answers (UTF-8 bytes, 7 MB at 10k documents) become manifest sections, read only by the
    command that prints them."""
    small = dict(payload)
    sections = {name: small.pop(name) for name in ANSWERS if name in small}
    for plan, text in small.pop("status_by_plan", {}).items():
        sections[PLAN_SECTION + plan] = text
    return small, sections


def _text(value) -> str | None:
    """A stored answer (UTF-8 bytes in the manifest) as text; None (full CLI) for anything else."""
    return value.decode("utf-8") if isinstance(value, bytes) else None

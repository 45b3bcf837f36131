"""Bytes to text (reading rules of section 10) and the small Markdown model the parsers share.

`decode` strips a UTF-8 BOM, falls back to cp1252 (undefined bytes replaced, warning `encoding`) and
normalises CRLF / CR to LF; NUL bytes are kept as ordinary characters. `Markdown` splits the text into
lines once and knows which lines are inside fenced code blocks, where the ATX headings are, the header
fields (`**Field**: value` or `**Field:** value`, optionally as a `- ` list item, before the first heading of
level >= 2 and within the first 40 lines) and the sections.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Callable, NamedTuple, Optional

from promptgen.documents import Diagnostic

BOM = b"\xef\xbb\xbf"
HEADER_MAX_LINES = 40

_FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})(.*)")
_HEADING = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*))?$")
_FIELD = re.compile(
    r"[ \t]*(?:[-*+][ \t]+)?\*\*(?P<name>[^*\n:][^*\n]{0,79}?)(?:\*\*[ \t]*:|[ \t]*:[ \t]*\*\*)[ \t]*(?P<value>.*)")
_WS = re.compile(r"\s+")
_DROP_CATEGORIES = frozenset({"So", "Sk", "Sm", "Sc", "Cf", "Me", "Co", "Cs", "Cn"})
_DROP_CHARS = frozenset("*\ufe0e\ufe0f\u200d")


# ---------------------------------------------------------------------------------------------- bytes

def decode(data: bytes, path: str) -> tuple[str, list[Diagnostic]]:
    """Decode document bytes: BOM stripped, UTF-8 or cp1252 fallback (warning `encoding`), LF line ends."""
    diags: list[Diagnostic] = []
    if data.startswith(BOM):
        data = data[len(BOM):]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        text = data.decode("cp1252", errors="replace")
        diags.append(Diagnostic(
            code="encoding", severity="warning", path=path, line=line,
            message=f"not valid UTF-8 (first bad byte at offset {exc.start}, line {line}); "
                    "decoded as cp1252 with undefined bytes replaced"))
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, diags


def too_large(data: bytes, path: str, size_cap: int) -> Optional[Diagnostic]:
    """Warning `too-large` when the document exceeds `size_cap` bytes (R-READ-SIZE), else None."""
    if len(data) <= size_cap:
        return None
    return Diagnostic(code="too-large", severity="warning", path=path,
                      message=f"document is {len(data)} bytes, over the size cap of {size_cap} bytes; not parsed")


def is_blank(text: str) -> bool:
    """True for an empty document (no characters, or only white space)."""
    return not text or text.isspace()


def empty_file(path: str) -> Diagnostic:
    return Diagnostic(code="empty-file", severity="warning", path=path,
                      message="the file is empty (0 bytes or only white space)")


# ------------------------------------------------------------------------------------------- headings

def norm_heading(text: str) -> str:
    """Heading text for comparisons: emoji / symbols / `*` removed, case-folded, white space collapsed."""
    return _norm_cached(text) if len(text) <= 200 else _norm(text)


def _norm(text: str) -> str:
    if text.isascii():
        kept = text.translate(_ASCII_DROP)
    else:
        kept = "".join(c for c in text if c not in _DROP_CHARS and unicodedata.category(c) not in _DROP_CATEGORIES)
    return _WS.sub(" ", kept).strip().casefold()


_norm_cached = lru_cache(maxsize=4096)(_norm)
_ASCII_DROP = {ord(c): None for c in "*`^|~<>=+$"}


def parse_heading(line: str) -> Optional[tuple[int, str]]:
    """`(level, text)` of an ATX heading line (`#`..`######`), else None. Fences are not considered."""
    if "#" not in line[:4]:
        return None
    m = _HEADING.match(line.rstrip())
    if m is None:
        return None
    text = (m.group(2) or "").strip()
    if text.endswith("#"):  # optional closing sequence: ` ###`
        bare = text.rstrip("#")
        if not bare or bare[-1] in " \t":
            text = bare.rstrip()
    return len(m.group(1)), text


class HeaderField(NamedTuple):
    """A `**Field**: value` line of a header block (`line` is 1-based). A plain tuple: header fields
    never leave the parser, so they need no validated model."""

    name: str
    value: str
    line: int


class Heading(NamedTuple):
    index: int  # 0-based line index
    level: int
    text: str

    @property
    def norm(self) -> str:
        return norm_heading(self.text)


class Section(NamedTuple):
    """A heading and its extent: lines `start` (the heading) .. `end` (exclusive)."""

    start: int
    end: int
    level: int
    text: str
    norm: str


# ------------------------------------------------------------------------------------------- markdown

def _hash_starts(text: str) -> list[int]:
    """Offsets of the line starts of the lines that start with at most 3 spaces and a `#`, ascending.

    `str.find` jumps from `#` to `#` (a multiline regex anchored with `^` would try a match at every
    character)."""
    out: list[int] = []
    find, rfind = text.find, text.rfind
    pos = find("#")
    while pos >= 0:
        start = rfind("\n", 0, pos) + 1
        if pos - start <= 3 and (pos == start or text.startswith(" " * (pos - start), start)):
            out.append(start)
        nl = find("\n", pos)  # any later `#` of this line comes after this one: not a candidate
        if nl < 0:
            break
        pos = find("#", nl)
    return out


def _marker_starts(text: str, marker: str) -> list[int]:
    """Offsets of the line starts of the lines that begin with `[ \\t]*` + `marker`, ascending."""
    out: list[int] = []
    find, rfind = text.find, text.rfind
    pos = find(marker)
    while pos >= 0:
        start = rfind("\n", 0, pos) + 1
        if pos == start or not text[start:pos].strip(" \t"):
            out.append(start)
        nl = find("\n", pos)
        if nl < 0:
            break
        pos = find(marker, nl)
    return out


def _fence_starts(text: str) -> list[int]:
    starts = _marker_starts(text, "```")
    if "~" in text:  # a one-character test is several times faster than a scan for "~~~"
        tildes = _marker_starts(text, "~~~")
        if tildes:
            starts = sorted(set(starts).union(tildes))
    return starts


def _line_numbers(text: str, starts: list[int]) -> list[int]:
    """0-based line indices of ascending line-start offsets (newlines counted between them only)."""
    out: list[int] = []
    count = text.count
    line = last = 0
    for start in starts:
        line += count("\n", last, start)
        last = start
        out.append(line)
    return out


def candidate_lines(text: str) -> tuple[list[int], list[int]]:
    """`(hash_lines(text), fence_lines(text))` with one newline count for both."""
    hashes, fences = _hash_starts(text), _fence_starts(text)
    if not fences:
        return _line_numbers(text, hashes), []
    if not hashes:
        return [], _line_numbers(text, fences)
    merged = sorted(hashes + fences)  # disjoint: a line starts with `#` or with a fence marker
    index = dict(zip(merged, _line_numbers(text, merged)))
    return [index[o] for o in hashes], [index[o] for o in fences]


def hash_lines(text: str) -> list[int]:
    """0-based indices of the lines that start with at most 3 spaces and a `#` (`^ {0,3}#` in re.M terms).

    Lines are those of `text.split("\\n")`."""
    return _line_numbers(text, _hash_starts(text))


def fence_lines(text: str) -> list[int]:
    """0-based indices of the lines that can open or close a fence (`^[ \\t]*(?:`{3,}|~{3,})` in re.M terms)."""
    return _line_numbers(text, _fence_starts(text))


def fence_mask(lines: list[str], candidates: Optional[list[int]] = None) -> list[bool]:
    """Per line: True inside a fenced code block (delimiter lines included).

    A fence opens with >= 3 backticks or tildes (any indentation; a backtick info string may not contain
    a backtick) and closes with the same character, at least as many, and nothing else on the line. An
    unclosed fence runs to the end of the document. `candidates` (indices of the lines that can open or
    close a fence) lets a caller skip the other lines.
    """
    mask = [False] * len(lines)
    indices = candidates if candidates is not None else range(len(lines))
    char, size, opened = "", 0, 0
    for i in indices:
        line = lines[i]
        if char:
            if char * 3 in line:
                m = _FENCE.match(line)
                if m and m.group(1)[0] == char and len(m.group(1)) >= size and not m.group(2).strip():
                    mask[opened:i + 1] = [True] * (i + 1 - opened)
                    char = ""
            continue
        if "```" in line or "~~~" in line:
            m = _FENCE.match(line)
            if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
                char, size, opened = m.group(1)[0], len(m.group(1)), i
    if char:
        mask[opened:] = [True] * (len(lines) - opened)
    return mask


_new = tuple.__new__  # builds a NamedTuple without its Python-level `__new__`


def _match_field(line: str) -> Optional[tuple[str, str]]:
    """(name, value) of a `**Field**: value` line, both stripped, else None."""
    m = _FIELD.match(line)
    return (m.group("name").strip(), m.group("value").strip()) if m else None


# Header lines repeat a lot across a workspace (`**Type**: EXECUTION_TASK`, the status lines, a plan's
# parent references): memoised, most of them skip the regex (its lazy name part is the costly bit).
_field_of = lru_cache(maxsize=8192)(_match_field)


class Markdown:
    """A decoded document split into lines, with fences, headings and header fields resolved once."""

    __slots__ = ("lines", "fenced", "headings", "_fields", "_folded", "_ends", "_sections")

    def __init__(self, text: str) -> None:
        self.lines = lines = text.split("\n")
        hashes, fences = candidate_lines(text)
        if fences:
            self.fenced = fenced = fence_mask(lines, fences)
        else:
            self.fenced = fenced = [False] * len(lines)
        heads = []
        match = _HEADING.match
        for i in hashes:  # `parse_heading` inlined: these lines have a `#` in their first 4 chars
            if not fenced[i]:
                m = match(lines[i].rstrip())
                if m is not None:
                    title = m.group(2)
                    title = title.strip() if title else ""
                    if title.endswith("#"):  # optional closing sequence: ` ###`
                        bare = title.rstrip("#")
                        if not bare or bare[-1] in " \t":
                            title = bare.rstrip()
                    heads.append(_new(Heading, (i, len(m.group(1)), title)))
        self.headings: list[Heading] = heads
        self._fields: Optional[list[HeaderField]] = None
        self._folded: list[str] = []  # casefolded names of `_fields`
        self._ends: Optional[list[int]] = None
        self._sections: dict[int, list[Section]] = {}

    def title(self) -> Optional[str]:
        """Text of the first level-1 heading (without the `# `), or None."""
        for h in self.headings:
            if h.level == 1:
                return h.text
        return None

    def header_fields(self) -> list[HeaderField]:
        """`**Field**: value` lines before the first heading of level >= 2, within the first 40 lines."""
        if self._fields is None:
            lines, fenced = self.lines, self.fenced
            stop = min(len(lines), HEADER_MAX_LINES)
            for h in self.headings:
                if h.level >= 2:
                    stop = min(stop, h.index)
                    break
            out = []
            for i in range(stop):
                line = lines[i]
                if "**" in line and not fenced[i]:
                    nv = _field_of(line) if len(line) <= 300 else _match_field(line)
                    if nv is not None:
                        out.append(_new(HeaderField, (nv[0], nv[1], i + 1)))
            self._fields = out
            self._folded = [f.name.casefold() for f in out]
        return self._fields

    def fields_named(self, folded_names) -> list[HeaderField]:
        """Header fields whose case-folded name is in `folded_names` (names given case-folded), in order."""
        fields = self.header_fields()
        return [fields[k] for k, name in enumerate(self._folded) if name in folded_names]

    def field(self, *names: str) -> Optional[HeaderField]:
        """First header field whose name (case-insensitive) is one of `names`."""
        fields = self.header_fields()
        if len(names) == 1:
            wanted = names[0].casefold()
            for k, name in enumerate(self._folded):
                if name == wanted:
                    return fields[k]
            return None
        folded = {n.casefold() for n in names}
        for k, name in enumerate(self._folded):
            if name in folded:
                return fields[k]
        return None

    def level_sections(self, level: int = 2) -> list[Section]:
        """Every section whose heading has `level`, in file order (computed once per level)."""
        found = self._sections.get(level)
        if found is None:
            ends = self._section_ends()
            found = [_new(Section, (h.index, ends[k], level, h.text, norm_heading(h.text)))
                     for k, h in enumerate(self.headings) if h.level == level]
            self._sections[level] = found
        return found

    def sections(self, pred: Callable[[str], bool], level: int = 2) -> list[Section]:
        """Sections whose heading has `level` and whose normalised text satisfies `pred`, in file order.

        A section runs to the next heading of the same or a higher level (so `###` belong to a `##`).
        """
        return [sec for sec in self.level_sections(level) if pred(sec.norm)]

    def section_end(self, k: int) -> int:
        """End (exclusive line index) of the section opened by `self.headings[k]`."""
        return (self._ends or self._section_ends())[k]

    def _section_ends(self) -> list[int]:
        if self._ends is None:
            heads = self.headings
            ends = [len(self.lines)] * len(heads)
            open_: list[int] = []  # stack of heading numbers, levels strictly increasing
            for j, h in enumerate(heads):
                while open_ and heads[open_[-1]].level >= h.level:
                    ends[open_.pop()] = h.index
                open_.append(j)
            self._ends = ends
        return self._ends

    def first_section(self, pred: Callable[[str], bool], level: int = 2) -> Optional[Section]:
        for sec in self.level_sections(level):
            if pred(sec.norm):
                return sec
        return None

    def excerpt(self, start: int, end: int, cap: int) -> str:
        """Lines `start:end` without trailing blank / `---` lines, at most `cap` lines."""
        return clip(self.lines[start:min(end, start + cap)])

    def body(self, section: Optional[Section], cap: int) -> str:
        """The section's text below its heading (at most `cap` lines), or "" without a section."""
        if section is None:
            return ""
        return self.excerpt(section.start + 1, section.end, cap)


def clip(lines: list[str]) -> str:
    """Join lines after trimming leading blank lines and trailing blank / rule (`---`) lines."""
    a, b = 0, len(lines)
    while a < b and not lines[a].strip():
        a += 1
    while b > a and lines[b - 1].strip() in ("", "---", "***", "___"):
        b -= 1
    return "\n".join(map(str.rstrip, lines[a:b]))

"""Line-index helpers of `parse.text` (`hash_lines`, `fence_lines`) against naive per-line references."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptgen.parse.text import Markdown, candidate_lines, fence_lines, fence_mask, hash_lines, parse_heading

_HASH = re.compile(r" {0,3}#")
_FENCE = re.compile(r"[ \t]*(?:`{3,}|~{3,})")


def naive_hash_lines(text: str) -> list[int]:
    return [i for i, line in enumerate(text.split("\n")) if _HASH.match(line)]


def naive_fence_lines(text: str) -> list[int]:
    return [i for i, line in enumerate(text.split("\n")) if _FENCE.match(line)]


def naive_headings(text: str) -> list[tuple[int, int, str]]:
    lines = text.split("\n")
    mask = fence_mask(lines)
    out = []
    for i, line in enumerate(lines):
        h = None if mask[i] else parse_heading(line)
        if h is not None:
            out.append((i, h[0], h[1]))
    return out


PIECES = ["#", "##", "### T", " #", "  #", "   #", "    #", "\t#", "x#", "# a # b", "```", "````md", "~~~",
          " ```", "\t~~~~", "a```", "``", "~~", "`", "~", " ", "\t", "\n", "\r\n", "\r", "\x00", "\u2028", "\x85",
          "\U0001f4cb", "text", "**Status**: x"]
texts = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=40).map("".join),
    st.lists(st.sampled_from(PIECES), max_size=40).map("\n".join),
    st.text(alphabet=st.sampled_from("#`~ \t\nab\r\x00\u2028\U0001f504"), max_size=80),
    st.text(max_size=80),
)


@settings(max_examples=600, deadline=None)
@given(texts)
def test_line_indices_match_naive_reference(text):
    assert hash_lines(text) == naive_hash_lines(text)
    assert fence_lines(text) == naive_fence_lines(text)
    assert candidate_lines(text) == (naive_hash_lines(text), naive_fence_lines(text))


@settings(max_examples=300, deadline=None)
@given(texts)
def test_markdown_headings_and_fences_match_full_scan(text):
    md = Markdown(text)
    assert md.fenced == fence_mask(text.split("\n"))
    assert [(h.index, h.level, h.text) for h in md.headings] == naive_headings(text)


@pytest.mark.parametrize("text, hashes, fences", [
    ("", [], []),
    ("#", [0], []),
    ("a\n   # b\n    # c\n\t# d\n#", [1, 4], []),
    ("x # y\n# z", [1], []),
    ("```\n ```\n\t~~~x\n a```\n~~```", [], [0, 1, 2]),
    ("~~~\n```\n", [], [0, 1]),
    ("\n\n#\n", [2], []),
])
def test_line_indices_examples(text, hashes, fences):
    assert hash_lines(text) == hashes
    assert fence_lines(text) == fences


FIELD_PIECES = ["**", "*", ":", " ", "\t", "- ", "* ", "Status", "Type", "a:b", "\u2705", "x" * 290, "\n", "## H",
                "```", "**Status**: done", "**Name:** v", "**A** : v"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FIELD_PIECES), max_size=30).map("".join))
def test_header_fields_match_uncached_regex(text):
    from promptgen.parse.text import _FIELD, HEADER_MAX_LINES

    md = Markdown(text)
    stop = min(len(md.lines), HEADER_MAX_LINES)
    for h in md.headings:
        if h.level >= 2:
            stop = min(stop, h.index)
            break
    expected = []
    for i in range(stop):
        m = None if md.fenced[i] else _FIELD.match(md.lines[i])
        if m:
            expected.append((m.group("name").strip(), m.group("value").strip(), i + 1))
    assert [tuple(f) for f in md.header_fields()] == expected
    assert [tuple(f) for f in Markdown(text).header_fields()] == expected  # second time: from the cache

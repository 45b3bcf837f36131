"""Rendering helpers of `prompts` / `prompt_blocks` against the straightforward implementations they replace."""
from __future__ import annotations

import re
from string import Template

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptgen import prompt_blocks as B
from promptgen import prompts

KEYS = ["a", "b", "plan_name", "_x1", "B"]
pieces = st.sampled_from(["$", "$$", "$a", "${a}", "$b", "${b}", "$plan_name", "${plan_name}x", "$_x1", "$B",
                          "${", "${a", "$ ", "$1", "$-", "${c}", "$c", "x", " ", "\n", "\r\n", "\r", "\u00e9", "{}"])
templates = st.lists(pieces, max_size=20).map("".join)
mappings = st.dictionaries(st.sampled_from(KEYS), st.one_of(st.text(max_size=5), st.integers()), max_size=5)


def outcome(fn):
    try:
        return ("ok", fn())
    except (KeyError, ValueError) as exc:
        return (type(exc).__name__, str(exc))


@settings(max_examples=600, deadline=None)
@given(templates, mappings)
def test_substitute_matches_string_template(text, mapping):
    assert outcome(lambda: prompts._substitute(text, mapping)) == outcome(lambda: Template(text).substitute(mapping))


def reference_finish(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return out.strip("\n") + "\n"


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(["\n", "\n\n\n", "\n" * 7, "\r\n", "\r", " ", "\t", "x", "\u2028", "\x0c"]),
                max_size=30).map("".join))
def test_finish_matches_regex_version(text):
    assert prompts._finish(text) == reference_finish(text)


def reference_fence(text: str, info: str = "markdown") -> str:
    body = text.strip("\n")
    if not body.strip():
        return "_(empty)_"
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    marks = "`" * max(3, longest + 1)
    return f"{marks}{info}\n{body}\n{marks}"


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["`", "``", "```", "````", "x", "\n", " "]), max_size=20).map("".join))
def test_fence_matches_reference(text):
    assert B.fence(text) == reference_fence(text)


@pytest.mark.parametrize("text", ["$a and $$ and ${b}", "no placeholders", ""])
def test_substitute_caches_parsed_templates(text):
    prompts._COMPILED.clear()
    assert prompts._substitute(text, {"a": "1", "b": "2"}) == Template(text).substitute({"a": "1", "b": "2"})
    assert text in prompts._COMPILED

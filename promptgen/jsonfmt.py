"""`json.dumps(obj, ensure_ascii=False, indent=2)` without the pure-Python encoder.

`json.dumps` with `indent` cannot use the C encoder: it walks the object through `_iterencode`, a chain of
generators yielding one small chunk per token. The artifacts are plain JSON trees (dict / list / str /
int / bool / None from node outputs), for which a recursive join builds the same text several times
faster; strings go through the C string encoder. Anything else (a float that is not finite, a non-str
key, a subclass, a cycle...) makes `dumps_indent2` fall back to `json.dumps` itself, so the result is
always byte-identical to it.
"""
from __future__ import annotations

import json
from json.encoder import encode_basestring as _str  # C implementation, ensure_ascii=False
from typing import Iterator

_INDENTS = ["\n" + "  " * n for n in range(64)]
_SEPS = ["," + i for i in _INDENTS]


_KEYS: dict[str, str] = {}  # key -> encoded key + ": " (artifact keys repeat)


class _Fallback(Exception):
    pass


def _encode(obj, depth: int) -> str:
    t = type(obj)
    if t is str:
        return _str(obj)
    if t is dict:
        if not obj:
            return "{}"
        if depth >= 62:
            raise _Fallback
        inner = _INDENTS[depth + 1]
        keys = _KEYS
        parts = []
        for k, v in obj.items():
            kq = keys.get(k)
            if kq is None:
                if type(k) is not str:
                    raise _Fallback
                kq = _str(k) + ": "
                if len(keys) < 4096:
                    keys[k] = kq
            parts.append(inner + kq + (_str(v) if type(v) is str else _encode(v, depth + 1)))
        return "{" + ",".join(parts) + _INDENTS[depth] + "}"
    if t is list or t is tuple:
        if not obj:
            return "[]"
        if depth >= 62:
            raise _Fallback
        inner = _INDENTS[depth + 1]
        if type(obj[0]) is str:
            try:  # a list of strings: one C call per item, no Python loop
                return "[" + inner + _SEPS[depth + 1].join(map(_str, obj)) + _INDENTS[depth] + "]"
            except TypeError:  # not only strings
                pass
        return ("[" + ",".join([inner + (_str(v) if type(v) is str else _encode(v, depth + 1)) for v in obj])
                + _INDENTS[depth] + "]")
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if t is int:
        return int.__repr__(obj)
    if t is float and obj == obj and obj not in (float("inf"), float("-inf")):
        return float.__repr__(obj)
    raise _Fallback


def dumps_indent2(obj) -> str:
    """Exactly `json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False)`."""
    try:
        return _encode(obj, 0)
    except (_Fallback, RecursionError):
        return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False)


def _encode_at(obj, depth: int) -> str:
    """`obj` as it appears at `depth` inside an indented document (json.dumps shifted if unsupported:
    its only raw newlines are the indentation's)."""
    try:
        return _encode(obj, depth)
    except (_Fallback, RecursionError):
        return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False).replace("\n", _INDENTS[depth])


def dumps_indent2_pieces(obj: dict, batch: int = 1024) -> Iterator[str]:
    """`dumps_indent2(obj)` of a dict in pieces that join to exactly it: its list values `batch` items at
    a time, so a large artifact is neither one string nor a parts list of every item at once."""
    if not obj or not all(type(k) is str for k in obj):
        yield dumps_indent2(obj)
        return
    inner = _INDENTS[2]
    for n, (key, value) in enumerate(obj.items()):
        yield ("{" if n == 0 else ",") + _INDENTS[1] + _str(key) + ": "
        if type(value) is list and value:
            for start in range(0, len(value), batch):
                yield ("[" if start == 0 else ",") + ",".join(
                    [inner + _encode_at(v, 2) for v in value[start:start + batch]])
            yield _INDENTS[1] + "]"
        else:
            yield _encode_at(value, 1)
    yield _INDENTS[0] + "}"

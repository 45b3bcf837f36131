"""parallel.json parser: the two fixture files and every file-local R-PAR-VALID problem."""
from __future__ import annotations

import json

import pytest

from promptgen.parse.parallel import find_cycles, parse_parallel

from .conftest import EXPECTED, WS

ORBIT = "plans/ORBIT-SYNC/parallel.json"
HARBOR = "plans/a_paused/HARBOR-LEDGER/parallel.json"


def par(obj, feature: str = "F", raw: bool = False):
    data = obj if raw else json.dumps(obj, indent=1).encode()
    return parse_parallel(data, "plans/F/parallel.json", feature)


def invalid(doc) -> list[str]:
    return sorted(d.detail for d in doc.diagnostics if d.code == "invalid-parallel-json")


def good(**changes):
    base = {"plan_name": "F", "parallelization_level": "level_2",
            "achievements": [{"achievement_id": "1.1", "dependencies": []},
                             {"achievement_id": "1.2", "dependencies": ["1.1"]}]}
    base.update(changes)
    return base


def test_orbit_is_valid_with_one_field_type_warning():
    doc = parse_parallel((WS / ORBIT).read_bytes(), ORBIT, "ORBIT-SYNC")
    assert doc.valid and doc.plan_name == "ORBIT-SYNC" and doc.level == "level_2"
    assert [i.id for i in doc.items] == ["0.1", "0.2", "1.1", "1.2", "1.3", "2.1", "2.2", "3.1", "3.2"]
    assert doc.items[5].dependencies == ("0.2", "1.1") and doc.items[0].line == 6
    (d,) = doc.diagnostics
    exp = [x for p in EXPECTED["plans"] for x in p["diagnostics"] if x["file"] == ORBIT][0]
    assert (d.code, d.severity, d.path, d.achievement, d.detail) == \
        (exp["code"], exp["severity"], exp["file"], exp["achievement"], exp["detail"])
    assert d.line == 9


def test_harbor_is_invalid_with_expected_problems():
    doc = parse_parallel((WS / HARBOR).read_bytes(), HARBOR, "HARBOR-LEDGER")
    assert not doc.valid
    exp = sorted((x["detail"], tuple(x["achievements"])) for p in EXPECTED["plans"]
                 for x in p["diagnostics"] if x["file"] == HARBOR)
    got = []
    for d in doc.diagnostics:
        assert (d.code, d.severity, d.path) == ("invalid-parallel-json", "error", HARBOR)
        assert d.detail in d.message
        ids = (d.achievement,) if d.achievement else tuple(d.message.split("among ")[1].split(", "))
        got.append((d.detail, ids))
    assert sorted(got) == exp
    dup = [d for d in doc.diagnostics if d.detail == "duplicate-id"][0]
    assert dup.line == 11


def test_unknown_id_only_for_dependencies_missing_from_the_file():
    doc = par(good(achievements=[{"achievement_id": "1.1", "dependencies": ["9.9", "8.8"]},
                                 {"achievement_id": "1.2", "dependencies": ["9.9"]}]))
    assert invalid(doc) == ["unknown-id", "unknown-id"]
    assert sorted(d.achievement for d in doc.diagnostics) == ["8.8", "9.9"]


@pytest.mark.parametrize("obj, detail", [
    ({"parallelization_level": "level_1", "achievements": []}, "schema"),  # no plan_name
    (good(plan_name=3), "schema"),
    (good(parallelization_level="level_4"), "schema"),
    (good(parallelization_level=None), "schema"),
    (good(achievements={"1.1": []}), "schema"),
    (good(achievements=["1.1"]), "schema"),
    (good(achievements=[{"achievement_id": "1", "dependencies": []}]), "schema"),
    (good(achievements=[{"achievement_id": 1.1, "dependencies": []}]), "schema"),
    (good(achievements=[{"dependencies": []}]), "schema"),
    (good(achievements=[{"achievement_id": "1.1"}]), "schema"),
    (good(achievements=[{"achievement_id": "1.1", "dependencies": "1.2"}]), "schema"),
    (good(achievements=[{"achievement_id": "1.1", "dependencies": [1.2]}]), "schema"),
    ([1, 2], "schema"),
    (good(achievements=[{"achievement_id": "1.1", "dependencies": ["1.1"]}]), "cycle"),
    (good(achievements=[{"achievement_id": "1.1", "dependencies": ["1.1.0"]},
                        {"achievement_id": "1.1", "dependencies": []},
                        {"achievement_id": "1.1.0", "dependencies": []}]), "duplicate-id"),
])
def test_invalid_problems(obj, detail):
    doc = par(obj)
    assert not doc.valid and invalid(doc) == [detail]


def test_long_cycle_is_one_diagnostic():
    doc = par(good(achievements=[{"achievement_id": "1.1", "dependencies": ["1.3"]},
                                 {"achievement_id": "1.2", "dependencies": ["1.1"]},
                                 {"achievement_id": "1.3", "dependencies": ["1.2"]},
                                 {"achievement_id": "2.1", "dependencies": ["1.3"]}]))
    (d,) = doc.diagnostics
    assert d.detail == "cycle" and "1.1, 1.2, 1.3" in d.message and d.achievement is None


@pytest.mark.parametrize("raw", [b"", b"{", b"{\"plan_name\": \"F\",}", b"\xef\xbb\xbf", b"[" * 100000,
                                 b"{\"a\": " + b"9" * 6000 + b"}", b"nul\x00l"])
def test_syntax_errors(raw):
    doc = par(raw, raw=True)
    assert not doc.valid and invalid(doc) == ["syntax"] and "syntax" in doc.diagnostics[-1].message


def test_syntax_error_line():
    doc = par(b'{\n"plan_name": "F",\n"achievements": [,]\n}', raw=True)
    assert doc.diagnostics[0].line == 3


def test_warnings_keep_the_file_valid():
    doc = par(good(plan_name="G", achievements=[
        {"achievement_id": "1.1", "dependencies": [], "estimated_hours": "4-6", "actual_hours": None,
         "status": "bogus-status"},
        {"achievement_id": "1.2", "dependencies": ["1.1"], "estimated_hours": 2.5, "actual_hours": True}]))
    assert doc.valid
    got = sorted((d.code, d.achievement) for d in doc.diagnostics)
    assert got == [("parallel-field-type", "1.1"), ("parallel-field-type", "1.2"), ("parallel-plan-name-mismatch", None)]
    assert {d.severity for d in doc.diagnostics} == {"warning"}


def test_bom_encoding_and_size_cap():
    data = b"\xef\xbb\xbf" + json.dumps(good(extra={"note": "caf\u00e9"})).encode()
    assert par(data, raw=True).diagnostics == ()
    doc = par(json.dumps(good(achievements=[{"achievement_id": "1.1", "dependencies": [], "title": "caf\u00e9"}]),
                         ensure_ascii=False)
              .encode("cp1252"), raw=True)
    assert doc.valid and [d.code for d in doc.diagnostics] == ["encoding"] and doc.items[0].title == "caf\u00e9"
    doc = parse_parallel(b"{}" + b" " * 100, "p.json", "F", size_cap=50)
    assert not doc.valid and [d.code for d in doc.diagnostics] == ["too-large"]


def test_find_cycles():
    assert find_cycles({"a": ["b"], "b": ["c"], "c": []}) == []
    assert sorted(map(sorted, find_cycles({"a": ["b"], "b": ["a"], "c": ["c"], "d": ["a"]}))) == [["a", "b"], ["c"]]
    chain = {str(i): [str(i + 1)] for i in range(50000)}
    chain["50000"] = ["0"]
    (big,) = find_cycles(chain)
    assert len(big) == 50001


@pytest.mark.parametrize("raw", [b'{"plan_name": "F", "achievements": [], "x": NaN}', b'[Infinity]', b'{"a": -Infinity}'])
def test_non_json_constants_are_syntax_errors(raw):
    doc = par(raw, raw=True)
    assert not doc.valid and invalid(doc) == ["syntax"] and "not a JSON value" in doc.diagnostics[-1].message


def test_escaped_lone_surrogates_become_replacement_characters():
    """`"\\ud800"` is valid JSON but no UTF-8 text: the values are kept with U+FFFD, so the document can be
    stored and printed (it made every command fail)."""
    raw = (b'{"plan_name": "\\ud800F", "parallelization_level": "\\udc00", "achievements": '
           b'[{"achievement_id": "1.1", "title": "a\\udfffb", "dependencies": []}], "\\ud801": 1}')
    doc = par(raw, raw=True)
    assert doc.plan_name == "\ufffdF" and doc.level == "\ufffd"
    assert doc.model_dump_json().encode("utf-8")
    pair = par(b'{"plan_name": "\\ud83d\\ude00", "achievements": []}', raw=True)  # a pair is one character
    assert pair.plan_name == "\U0001F600"


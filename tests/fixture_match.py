"""Shared by tests/promptgen/test_check_cli.py and tests/promptgen/test_fixture_end_to_end.py: the
fixture's matching rule (tests/data/expected.json conventions, as in check_fixture.py)."""
from __future__ import annotations


def match(got: list[dict], want: list[dict]) -> list[str]:
    """Misses: expected diagnostics not found, and errors/warnings nobody expected."""
    unmatched = [g for g in got if g["severity"] in ("error", "warning")]
    misses = []
    for d in want:
        hit = next((g for g in unmatched
                    if (g["severity"], g["code"], g["path"]) == (d["severity"], d["code"], d["file"])
                    and (g.get("achievement") is None or d.get("achievement") is None
                         or g["achievement"] == d["achievement"])
                    and (d["code"] != "invalid-parallel-json" or g.get("detail") == d.get("detail"))), None)
        if hit is None:
            misses.append(f"missing {d['severity']} {d['code']} {d['file']} {d.get('achievement')} {d.get('detail')}")
        else:
            unmatched.remove(hit)
    misses += [f"unexpected {g['severity']} {g['code']} {g['path']} {g.get('achievement')} {g.get('detail')}"
               for g in unmatched]
    return misses

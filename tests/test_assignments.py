"""The autograded exercises: every reference solution passes every check, every blank stub fails one.

A grader that passes a blank answer is a broken exercise. For each master notebook in
``assignments/``, ``tools/assignments.py`` runs otter's own transformation (``otter assign``), executes
the reference (autograder) notebook and the student notebook (the stubs, ``...``) in fresh
namespaces, and runs the autograder zip's test files against both.
"""

from pathlib import Path

import pytest
from tooling import load_tool

ROOT = Path(__file__).resolve().parent.parent
assignments = load_tool("assignments")

MASTERS = assignments.masters()


def test_every_chapter_has_an_assignment():
    chapters = sorted(p.name[:2] for p in (ROOT / "book").glob("0[1-9]_*.ipynb"))
    assert [m.name[2:4] for m in MASTERS] == chapters, "one master notebook assignments/chNN_*.ipynb per chapter 1-9"
    for m in MASTERS:
        assert assignments.questions(m), f"{m.name} has no question"
        stem = m.stem.split("_", 1)[1]
        assert (ROOT / "book" / f"{m.name[2:4]}_{stem}.ipynb").exists(), f"{m.name}: no chapter book/{m.name[2:4]}_{stem}.ipynb"


@pytest.mark.parametrize("master", MASTERS, ids=lambda p: p.stem)
def test_reference_passes_and_stub_fails(master):
    results = assignments.check_master(master)
    assert results
    for question, res in results.items():
        failed = [msg for ok, msg in res["reference"] if not ok]
        assert res["reference"] and not failed, f"{master.name} {question}: the reference solution fails:\n{failed[0]}"
        assert any(not ok for ok, _ in res["stub"]), \
            f"{master.name} {question}: the blank student stub passes every check (a broken exercise)"


def test_solutions_are_marked_and_stubs_are_blank():
    """Every question has a solution block, and the stub keeps no line of the solution's body."""
    import json

    for m in MASTERS:
        nb = json.loads(m.read_text())
        text = "\n".join("".join(c["source"]) for c in nb["cells"])
        for q in assignments.questions(m):
            assert q.startswith("ex-"), f"{m.name}: question {q!r} must be named by its exercise label"
        assert text.count("# BEGIN QUESTION") == text.count("# END QUESTION") == text.count("# BEGIN TESTS")
        assert "ok_format: false" in text, f"{m.name}: use exception-based tests"

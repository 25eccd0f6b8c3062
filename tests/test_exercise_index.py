"""Exercise metadata: every exercise of the book carries it, valid, and in agreement with assignments/."""

from pathlib import Path

import pytest
from tooling import load_tool

ROOT = Path(__file__).resolve().parent.parent
exercise_index = load_tool("exercise_index")

ROWS = exercise_index.book_exercises()


def test_every_exercise_has_valid_metadata():
    assert len(ROWS) >= 40, f"found only {len(ROWS)} exercises"
    problems = exercise_index.problems(ROWS)
    assert not problems, "\n".join(problems)


def test_every_chapter_1_to_9_has_an_autograded_coding_exercise():
    by_chapter = {}
    for r in ROWS:
        meta = exercise_index.parse_metadata(r["classes"])
        if meta["autograded"]:
            assert meta["kind"] == "coding", f"{r['label']}: only coding exercises are autograded"
            by_chapter.setdefault(r["chapter"], []).append(r["label"])
    assert all(by_chapter.get(c) for c in range(1, 10)), by_chapter


def test_chapter_numbers_follow_the_toc():
    first = {r["chapter"]: r for r in ROWS if r["number"].endswith(".1")}
    assert first[1]["label"] == "ex-fpc" and first[1]["path"].name.startswith("01_")
    assert first[10]["path"].name.startswith("10_")


@pytest.mark.parametrize("tokens, problem", [
    ("difficulty-2 minutes-30 autograded-no gpu-no", "kind"),
    ("kind-poem difficulty-2 minutes-30 autograded-no gpu-no", "kind must be"),
    ("kind-coding difficulty-4 minutes-30 autograded-no gpu-no", "difficulty"),
    ("kind-coding difficulty-2 minutes-3 autograded-no gpu-no", "minutes"),
    ("kind-coding difficulty-2 minutes-30 autograded-maybe gpu-no", "autograded"),
    ("kind-coding kind-plot difficulty-2 minutes-30 autograded-no gpu-no", "exactly one 'kind"),
])
def test_invalid_metadata_is_reported(tokens, problem):
    with pytest.raises(ValueError, match=problem):
        exercise_index.parse_metadata(tokens.split())


def test_problems_reports_a_missing_class_and_a_wrong_autograded_token(tmp_path):
    text = ("```{exercise} A\n:label: ex-a\n\nQ\n```\n\n"
            "```{exercise} B\n:label: ex-noise-along-training\n"
            ":class: kind-coding difficulty-2 minutes-40 autograded-no gpu-no\n\nQ\n```\n")
    rows = [{**ex, "chapter": 1, "number": f"1.{i}", "docname": "x", "path": tmp_path / "x.md"}
            for i, ex in enumerate(exercise_index.exercises_in(text), start=1)]
    problems = exercise_index.problems(rows)
    assert any("ex-a" in p and "kind" in p for p in problems), problems
    assert any("ex-noise-along-training" in p and "autograded-no" in p for p in problems), problems


def test_instructors_page_has_the_index_and_three_problem_sets():
    text = (ROOT / "book" / "instructors.md").read_text()
    assert "```{exercise-index}" in text
    assert text.count("```{exercise-set}") >= 3
    labels = {r["label"] for r in ROWS}
    import re
    for block in re.findall(r"```\{exercise-set\}\n(.*?)```", text, flags=re.S):
        named = [ln.strip() for ln in block.splitlines() if ln.strip()]
        assert named and all(n in labels for n in named), named

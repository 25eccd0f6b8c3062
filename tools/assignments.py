"""Autograded assignments: otter-grader master notebooks in ``assignments/`` -> student notebooks,
autograders and the student pack (not part of the sgdnoise library).

Usage::

    python tools/assignments.py build _build/assignments     # otter assign, every chapter
    python tools/assignments.py pack _build/assignments _build/student_notebooks _build/pack/noisy-descent-student-pack.zip
    python tools/assignments.py check                        # reference passes, stub fails (fast)
    python tools/assignments.py list                         # the autograded questions, per chapter

Each master notebook ``assignments/chNN_<topic>.ipynb`` is in otter-grader's assign format: one
question per autograded exercise, named by the exercise's label (``ex-...``), with a reference
solution between ``# BEGIN SOLUTION`` / ``# END SOLUTION`` and exception-based tests (functions
whose arguments otter fills in from the notebook's variables).

``build`` runs ``otter assign`` on every master, which executes the reference notebook in a kernel
and fails when any test fails; it writes ``<out>/<name>/student/<name>.ipynb`` (the notebook a
learner fills in, with ``grader.check("ex-...")`` cells) and ``<out>/<name>/autograder/`` (the
reference notebook and ``<name>-autograder.zip``, which ``otter run -a <zip> <submission.ipynb>``
grades without Docker).

``check`` is the test no course has: for every question, the reference solution passes every test
and the blank student stub fails at least one. It runs ``otter assign --no-run-tests`` (the same
transformation) and executes the reference and the student notebooks' code in-process, then runs
the autograder's own test files (read from the autograder zip) against both namespaces.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MASTERS = ROOT / "assignments"


def masters() -> list[Path]:
    """The master notebooks, in chapter order."""
    return sorted(MASTERS.glob("ch[0-9][0-9]_*.ipynb"))


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def questions(master: Path) -> list[str]:
    """The question names of a master notebook (each an exercise label ``ex-...``), in order."""
    nb = json.loads(master.read_text())
    names = []
    for cell in nb["cells"]:
        text = _source(cell)
        if cell["cell_type"] == "raw" and text.lstrip().startswith("# BEGIN QUESTION"):
            m = re.search(r"^name:\s*(\S+)", text, flags=re.M)
            if not m:
                raise ValueError(f"{master.name}: a question without a name")
            names.append(m.group(1))
    return names


def autograded_labels() -> dict[str, list[str]]:
    """``{master name: [exercise labels]}`` for every master notebook."""
    return {m.stem: questions(m) for m in masters()}


@contextlib.contextmanager
def _quiet():
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        yield buf


def _assign(master: Path, out: Path, run_tests: bool) -> Path:
    """Run otter assign on ``master`` into ``out``; return the autograder zip (renamed without timestamp)."""
    from otter.assign import main as otter_assign

    master, out = master.resolve(), out.resolve()
    if out.exists():
        shutil.rmtree(out)
    cwd = os.getcwd()
    try:  # otter resolves the master's relative paths from the working directory
        os.chdir(master.parent)
        otter_assign(str(master), str(out), no_run_tests=not run_tests, no_pdfs=True)
    finally:
        os.chdir(cwd)
    zips = sorted((out / "autograder").glob("*-autograder_*.zip"))
    if len(zips) != 1:
        raise RuntimeError(f"{master.name}: expected one autograder zip, found {zips}")
    target = out / "autograder" / f"{master.stem}-autograder.zip"
    zips[0].rename(target)
    return target


def build(out_dir: Path) -> list[Path]:
    """otter assign (with the reference solutions executed and checked) for every master notebook."""
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for master in masters():
        z = _assign(master, out_dir / master.stem, run_tests=True)
        print(f"{master.stem}: {', '.join(questions(master))} -> {z.relative_to(out_dir.parent)}")
        written.append(z)
    return written


def pack(assign_dir: Path, notebooks_dir: Path, zip_path: Path) -> Path:
    """One zip for students: the book's notebooks without solutions, and every assignment's student side."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    readme = (
        "Noisy Descent: the student pack\n\n"
        "notebooks/    every chapter as a notebook, exercises without their solutions\n"
        "assignments/  one notebook per chapter with its autograded exercises: fill in the cells\n"
        "              marked ..., then run the grader.check(\"ex-...\") cell below each to test it\n"
        "              (needs the course environment: otter-grader and sgdnoise, see the README)\n"
    )
    nbs = sorted(notebooks_dir.glob("*.ipynb"))
    students = sorted(assign_dir.glob("*/student/*.ipynb"))
    if not nbs or not students:
        raise SystemExit(f"nothing to pack: {len(nbs)} notebooks in {notebooks_dir}, "
                         f"{len(students)} assignments in {assign_dir}")
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("noisy-descent-student-pack/README.txt", readme)
        for p in nbs:
            z.write(p, f"noisy-descent-student-pack/notebooks/{p.name}")
        for p in students:
            # the student folder holds the notebook and otter's public test data it needs
            for f in sorted(p.parent.rglob("*")):
                if f.is_file():
                    z.write(f, f"noisy-descent-student-pack/assignments/{p.parent.parent.name}/"
                               f"{f.relative_to(p.parent)}")
    print(f"student pack: {len(nbs)} notebooks and {len(students)} assignments in {zip_path}")
    return zip_path


def _run_cells(nb_path: Path, skip_grader: bool) -> tuple[dict, list[str]]:
    """Execute a notebook's code cells in one fresh namespace; errors are recorded, not raised."""
    nb = json.loads(nb_path.read_text())
    env: dict = {"__name__": "__main__"}
    errors = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        code = _source(cell)
        if skip_grader and ("otter" in code or "grader." in code):
            continue  # the init and grader.check cells: the check below runs the tests itself
        code = "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in code.splitlines())
        try:
            with _quiet():
                exec(compile(code, f"<{nb_path.name}>", "exec"), env)
        except Exception as e:  # a stub may raise; the tests must then fail
            errors.append(f"{type(e).__name__}: {e}")
    return env, errors


def _test_files(zip_path: Path, dest: Path) -> dict[str, Path]:
    with zipfile.ZipFile(zip_path) as z:
        names = [n for n in z.namelist() if n.startswith("tests/") and n.endswith(".py")]
        z.extractall(dest, members=names)
    return {Path(n).stem: dest / n for n in names}


def _grade(test_path: Path, env: dict):
    from otter.test_files import ExceptionTestFile

    if "OK_FORMAT = False" not in test_path.read_text():
        raise ValueError(f"{test_path.name}: write tests in otter's exception-based format (tests: ok_format: false)")
    tf = ExceptionTestFile.from_file(str(test_path))
    with _quiet():
        tf.run(env)
    return [(tcr.passed, tcr.message) for tcr in tf.test_case_results]


def check_master(master: Path) -> dict[str, dict]:
    """Reference and stub results of every question of one master notebook.

    Returns ``{question: {"reference": [(passed, message), ...], "stub": [...]}}``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with _quiet():
            z = _assign(master, tmp / "out", run_tests=False)
        tests = _test_files(z, tmp / "tests")
        cwd = os.getcwd()
        os.chdir(tmp / "out" / "student")
        try:
            ref_env, ref_errors = _run_cells(tmp / "out" / "autograder" / master.name, skip_grader=True)
            stub_env, _ = _run_cells(tmp / "out" / "student" / master.name, skip_grader=True)
        finally:
            os.chdir(cwd)
        if ref_errors:
            raise RuntimeError(f"{master.name}: the reference notebook raised {ref_errors}")
        expected = questions(master)
        if sorted(tests) != sorted(expected):
            raise RuntimeError(f"{master.name}: test files {sorted(tests)} != questions {expected}")
        return {q: {"reference": _grade(tests[q], ref_env), "stub": _grade(tests[q], stub_env)} for q in expected}


def check(paths: list[Path] | None = None) -> int:
    """Print, per question, the reference and stub results; return the number of broken questions."""
    broken = 0
    for master in paths or masters():
        for q, res in check_master(master).items():
            ref_ok = all(p for p, _ in res["reference"])
            stub_fails = sum(not p for p, _ in res["stub"])
            ok = ref_ok and stub_fails > 0
            broken += not ok
            print(f"{'ok ' if ok else 'BROKEN'} {master.stem} {q}: reference passes "
                  f"{sum(p for p, _ in res['reference'])}/{len(res['reference'])}, "
                  f"stub fails {stub_fails}/{len(res['stub'])}")
    return broken


def main(argv: list[str]) -> int:
    cmd, *args = argv
    if cmd == "build":
        build(Path(args[0]))
    elif cmd == "pack":
        pack(Path(args[0]), Path(args[1]), Path(args[2]))
    elif cmd == "check":
        return 1 if check([Path(a).resolve() for a in args] or None) else 0
    elif cmd == "list":
        for name, labels in autograded_labels().items():
            print(f"{name}: {' '.join(labels)}")
    else:
        raise SystemExit(f"unknown command {cmd!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

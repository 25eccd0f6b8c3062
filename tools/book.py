"""Small build helpers for the Makefile (not part of the sgdnoise library).

Usage::

    python tools/book.py toc-notebooks _toc.yml      # notebooks listed in the table of contents
    python tools/book.py cache-key _build/.jupyter_cache
    python tools/book.py student-config _config.yml _build/student_config.yml
    python tools/book.py check-student _build/html _build/student/_build/html
    python tools/book.py student-notebooks _toc.yml _build/student_notebooks
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def toc_files(toc_path: Path) -> list[str]:
    """Every ``file:`` entry of a Jupyter Book ``_toc.yml``, in order (root first)."""
    toc = yaml.safe_load(toc_path.read_text())
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return files


def toc_notebooks(toc_path: Path) -> list[Path]:
    """Paths of the ``.ipynb`` files the table of contents names."""
    out = []
    for f in toc_files(toc_path):
        p = ROOT / f
        if p.suffix == "":
            p = p.with_suffix(".ipynb") if p.with_suffix(".ipynb").exists() else p.with_suffix(".md")
        if p.suffix == ".ipynb":
            out.append(p)
    return out


def library_hash() -> str:
    """SHA-256 over the library sources and the pinned environment."""
    h = hashlib.sha256()
    paths = sorted((ROOT / "lib").rglob("*.py")) + [ROOT / "requirements.txt", ROOT / "pyproject.toml"]
    for p in paths:
        h.update(str(p.relative_to(ROOT)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def cache_key(cache_dir: Path) -> None:
    """Empty the execution cache when the library changed since it was filled."""
    key_file = cache_dir.parent / ".cache_key"
    key = library_hash()
    old = key_file.read_text().strip() if key_file.exists() else None
    if old != key:
        if cache_dir.exists():
            print(f"library changed ({old} -> {key}): clearing the notebook execution cache")
            shutil.rmtree(cache_dir)
        # Sphinx re-reads only the source files that changed since its saved state (the doctrees):
        # a notebook whose file did not change would keep the outputs of the old library. Drop
        # every saved state under the build folder (site, student site, PDFs) with the cache.
        for doctrees in sorted(cache_dir.parent.rglob(".doctrees")):
            if doctrees.is_dir():
                print(f"library changed: removing {doctrees}")
                shutil.rmtree(doctrees)
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(key + "\n")


def student_config(src: Path, dst: Path) -> None:
    """Copy ``_config.yml`` with sphinx-exercise's ``hide_solutions`` switched on."""
    cfg = yaml.safe_load(src.read_text())
    cfg.setdefault("sphinx", {}).setdefault("config", {})["hide_solutions"] = True
    cfg["title"] = cfg.get("title", "") + " (student edition)"
    # Jupyter Book resolves local extension folders against the config file's own folder.
    local = cfg["sphinx"].get("local_extensions") or {}
    for name, path in local.items():
        local[name] = os.path.relpath((src.resolve().parent / path).resolve(), dst.resolve().parent) + "/"
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(yaml.safe_dump(cfg, sort_keys=False))


# An exercise's box: sphinx-exercise writes its classes ("exercise", then the directive's :class:
# tokens, e.g. the metadata kind-coding ...) before "admonition".
EXERCISE_DIV = re.compile(r'class="exercise(?: [^"]*)? admonition[ "]')


def count_exercises(html: str) -> int:
    """The number of exercise boxes in a built page."""
    return len(EXERCISE_DIV.findall(html))


def check_student(full_html: Path, student_html: Path) -> None:
    """Every page with exercises: solutions in the full build, none in the student build."""
    pages = sorted(full_html.rglob("*.html"))
    checked = 0
    for page in pages:
        full = page.read_text(errors="replace")
        n_ex = count_exercises(full)
        if not n_ex:
            continue
        student_page = student_html / page.relative_to(full_html)
        student = student_page.read_text(errors="replace")
        if full.count("Solution to") == 0:
            raise SystemExit(f"{page}: exercises but no solutions in the full build")
        if "Solution to" in student or 'class="solution' in student:
            raise SystemExit(f"{student_page}: the student build still shows solutions")
        if count_exercises(student) != n_ex:
            raise SystemExit(f"{student_page}: the student build lost exercises")
        checked += 1
    if not checked:
        raise SystemExit("no page with exercises found")
    print(f"student build: {checked} page(s) with exercises, solutions present in full build, absent in student build")


# A MyST solution directive, fenced by three or more backticks (or colons), up to the closing
# fence of the same length: ```{solution} ex-label ... ``` or ````{solution} ... ````.
SOLUTION_BLOCK = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{solution(?:-start|-end)?\}[^\n]*\n.*?^(?P=fence)[ \t]*(?:\n|\Z)\n?",
    flags=re.M | re.S,
)


def strip_solutions(markdown: str) -> str:
    """Markdown with every ``{solution}`` directive block removed."""
    return SOLUTION_BLOCK.sub("", markdown)


def student_notebook(nb: dict) -> dict:
    """A copy of a notebook (nbformat JSON) whose markdown cells hold no solution."""
    out = json.loads(json.dumps(nb))
    for cell in out["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        stripped = strip_solutions(text)
        if "{solution" in stripped:
            raise ValueError(f"a solution directive survived stripping:\n{stripped[:500]}")
        cell["source"] = stripped
    out["cells"] = [c for c in out["cells"] if c["cell_type"] != "markdown" or "".join(c["source"]).strip()]
    return out


def student_notebooks(toc_path: Path, out_dir: Path) -> list[Path]:
    """Write the student copy of every notebook in the table of contents into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for nb_path in toc_notebooks(toc_path):
        nb = json.loads(nb_path.read_text())
        dst = out_dir / nb_path.name
        dst.write_text(json.dumps(student_notebook(nb), indent=1, ensure_ascii=False) + "\n")
        written.append(dst)
    print(f"student notebooks: {len(written)} written to {out_dir}, solutions removed")
    return written


def main(argv: list[str]) -> int:
    cmd, *args = argv
    if cmd == "toc-notebooks":
        print(" ".join(str(p.relative_to(ROOT)) for p in toc_notebooks(Path(args[0]))))
    elif cmd == "cache-key":
        cache_key(Path(args[0]))
    elif cmd == "check-student":
        check_student(Path(args[0]), Path(args[1]))
    elif cmd == "student-notebooks":
        student_notebooks(Path(args[0]), Path(args[1]))
    elif cmd == "student-config":
        student_config(Path(args[0]), Path(args[1]))
    else:
        raise SystemExit(f"unknown command {cmd!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

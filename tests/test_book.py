"""Tests of the book itself: table of contents, notebooks, pinned environment, build helpers."""

import json
import re
from pathlib import Path

import pytest
import yaml
from tooling import load_tool

ROOT = Path(__file__).resolve().parent.parent
booktools = load_tool("book")

NOTEBOOKS = sorted((ROOT / "book").rglob("*.ipynb"))
CHAPTERS = [p for p in NOTEBOOKS if re.match(r"\d\d_", p.name)]


def load(nb_path):
    return json.loads(nb_path.read_text())


def source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_every_notebook_is_in_the_toc_and_vice_versa():
    toc_nbs = set(booktools.toc_notebooks(ROOT / "_toc.yml"))
    on_disk = {p for p in NOTEBOOKS if ".ipynb_checkpoints" not in p.parts}
    assert on_disk, "no notebooks found under book/"
    assert toc_nbs == on_disk, f"not in _toc.yml: {on_disk - toc_nbs}; listed but missing: {toc_nbs - on_disk}"


def test_every_toc_entry_exists():
    for f in booktools.toc_files(ROOT / "_toc.yml"):
        candidates = [ROOT / f, (ROOT / f).with_suffix(".md"), (ROOT / f).with_suffix(".ipynb")]
        assert any(c.is_file() for c in candidates), f"_toc.yml names {f}, which does not exist"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(nb):
    for cell in load(nb)["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs", []) == [], f"{nb.name}: a code cell has stored outputs"
            assert cell.get("execution_count") is None, f"{nb.name}: a code cell has an execution count"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_kernel_and_imports(nb):
    data = load(nb)
    assert data["metadata"]["kernelspec"]["name"] == "python3"
    code = "\n".join(source(c) for c in data["cells"] if c["cell_type"] == "code")
    assert "import sgdnoise" in code
    for forbidden in ("!pip", "%pip", "sys.path.append", "sys.path.insert", "urlopen", "requests.get", "wget "):
        assert forbidden not in code, f"{nb.name} uses {forbidden!r}"


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_chapter_has_exercises_each_with_a_solution(nb):
    text = "\n".join(source(c) for c in load(nb)["cells"] if c["cell_type"] == "markdown")
    exercises = re.findall(r"`{3,}\{exercise\}[^\n]*\n:label: ([\w-]+)", text)
    solutions = re.findall(r"`{3,}\{solution\} ([\w-]+)", text)
    assert len(exercises) >= 4, f"{nb.name} has {len(exercises)} exercises, needs at least 4"
    assert sorted(exercises) == sorted(solutions), "every exercise needs exactly one solution"
    assert "solution-start" not in text, "use the plain solution directive (hide_solutions crashes on gated ones)"
    assert "Learning goals" in text and "## Summary" in text


def _names_glued_in_dict_loops(code: str) -> set[str]:
    """Names glued by ``for name, value in dict(a=..., b=...).items(): glue(name, ...)``: the keys."""
    import ast

    names = set()
    for cell in code.split("\n\n\n#%%\n"):
        try:
            tree = ast.parse(cell)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.For) and isinstance(node.target, ast.Tuple)
                    and isinstance(node.iter, ast.Call) and isinstance(node.iter.func, ast.Attribute)
                    and node.iter.func.attr == "items" and isinstance(node.iter.func.value, ast.Call)
                    and getattr(node.iter.func.value.func, "id", None) == "dict"):
                continue
            key = node.target.elts[0]
            glues = [c for c in ast.walk(node) if isinstance(c, ast.Call) and getattr(c.func, "id", None) == "glue"
                     and c.args and isinstance(c.args[0], ast.Name) and isinstance(key, ast.Name)
                     and c.args[0].id == key.id]
            if glues:
                names |= {kw.arg for kw in node.iter.func.value.keywords if kw.arg}
    return names


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_glued_names_used_in_prose_are_defined(nb):
    cells = load(nb)["cells"]
    prose = "\n".join(source(c) for c in cells if c["cell_type"] == "markdown")
    code = "\n\n\n#%%\n".join(source(c) for c in cells if c["cell_type"] == "code")
    used = set(re.findall(r"\{glue(?::text)?\}`([\w]+)", prose))
    literal = set(re.findall(r'glue\("([\w]+)"', code)) | _names_glued_in_dict_loops(code)
    patterns = [re.compile(re.sub(r"\\\{[^}]*\\\}", r"\\w+", re.escape(p)) + "$")
                for p in re.findall(r'glue\(f"([^"]+)"', code)]
    missing = {u for u in used if u not in literal and not any(p.match(u) for p in patterns)}
    assert not missing, f"{nb.name}: prose uses glue names never glued: {missing}"
    assert used, "chapter prose should quote computed numbers through glue"


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_figures_have_alt_text_and_caption(nb):
    for cell in load(nb)["cells"]:
        if cell["cell_type"] == "code" and "plt.show()" in source(cell):
            meta = cell.get("metadata", {}).get("mystnb", {})
            assert meta.get("image", {}).get("alt"), f"{nb.name}: a figure cell has no alt text"
            assert meta.get("figure", {}).get("caption"), f"{nb.name}: a figure cell has no caption"


def test_requirements_are_exact_pins():
    lines = [ln.strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    reqs = [ln for ln in lines if ln and not ln.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.+\-]+", r) for r in reqs), [r for r in reqs if "==" not in r]
    pins = {r.split("==")[0].lower(): r.split("==")[1] for r in reqs}
    assert pins["torch"] == "2.13.0"
    assert pins["jupyter-book"].startswith("1.")
    for needed in ("numpy", "matplotlib", "nbval", "pytest", "pytest-xdist", "sphinx-exercise", "scikit-learn"):
        assert needed in pins, f"{needed} missing from requirements.txt"


def test_config_essentials():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["only_build_toc_files"] is True
    assert cfg["execute"]["allow_errors"] is False
    assert cfg["sphinx"]["config"]["nb_execution_raise_on_error"] is True
    assert "sphinx_exercise" in cfg["sphinx"]["extra_extensions"]
    for excluded in (".venv", "lib", "tests", "_build"):
        assert excluded in cfg["exclude_patterns"]


def test_student_config_hides_solutions(tmp_path):
    out = tmp_path / "student.yml"
    booktools.student_config(ROOT / "_config.yml", out)
    cfg = yaml.safe_load(out.read_text())
    assert cfg["sphinx"]["config"]["hide_solutions"] is True
    assert cfg["bibtex_bibfiles"] == yaml.safe_load((ROOT / "_config.yml").read_text())["bibtex_bibfiles"]
    for name, path in cfg["sphinx"].get("local_extensions", {}).items():
        assert (out.parent / path / f"{name}.py").is_file(), f"local extension {name} not found from {out}"


def test_cache_key_clears_the_cache_when_the_library_changes(tmp_path, monkeypatch):
    cache = tmp_path / ".jupyter_cache"
    cache.mkdir()
    (tmp_path / ".cache_key").write_text("stale\n")
    booktools.cache_key(cache)
    assert not cache.exists()
    assert (tmp_path / ".cache_key").read_text().strip() == booktools.library_hash()
    cache.mkdir()
    booktools.cache_key(cache)  # unchanged library: the cache stays
    assert cache.exists()


def test_cache_key_drops_sphinx_saved_state_when_the_library_changes(tmp_path):
    # Otherwise Sphinx would not re-read an unchanged notebook and would keep the old library's outputs.
    cache = tmp_path / ".jupyter_cache"
    saved = [tmp_path / ".doctrees", tmp_path / "student" / "_build" / ".doctrees",
             tmp_path / "pdf" / "book" / "_build" / ".doctrees"]
    for d in (cache, *saved):
        d.mkdir(parents=True)
    (tmp_path / "html").mkdir()
    (tmp_path / ".cache_key").write_text("stale\n")
    booktools.cache_key(cache)
    assert not any(d.exists() for d in saved) and (tmp_path / "html").exists()
    saved[0].mkdir()
    booktools.cache_key(cache)  # unchanged library: the saved state stays
    assert saved[0].exists()


def test_bibliography_parses_without_duplicates():
    import pybtex.database

    text = (ROOT / "book" / "references.bib").read_text()
    keys = re.findall(r"^@\w+\{([^,]+),", text, flags=re.M)
    assert len(keys) == len(set(keys)), f"duplicate keys: {sorted(k for k in set(keys) if keys.count(k) > 1)}"
    bib = pybtex.database.parse_string(text, "bibtex")  # raises on an unclosed entry
    assert len(bib.entries) == len(keys)


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_student_notebook_has_exercises_and_no_solutions(nb):
    data = load(nb)
    student = booktools.student_notebook(data)
    full_md = "\n".join(source(c) for c in data["cells"] if c["cell_type"] == "markdown")
    md = "\n".join(source(c) for c in student["cells"] if c["cell_type"] == "markdown")
    assert "{solution" not in md
    assert md.count("{exercise}") == full_md.count("{exercise}") >= 4
    assert [source(c) for c in student["cells"] if c["cell_type"] == "code"] == \
        [source(c) for c in data["cells"] if c["cell_type"] == "code"], "code cells must be untouched"
    assert "## Summary" in md and "## Exercises" in md


def test_strip_solutions_handles_both_fence_lengths():
    text = ("intro\n\n```{exercise} A\n:label: ex-a\nQ\n```\n\n```{solution} ex-a\n:class: dropdown\nA\n```\n\n"
            "````{solution} ex-b\n:class: dropdown\n```python\nx = 1\n```\n````\nafter\n")
    out = booktools.strip_solutions(text)
    assert "{solution}" not in out and "x = 1" not in out
    assert "```{exercise} A" in out and out.rstrip().endswith("after")


def test_binder_pins_match_requirements():
    def pins(path):
        lines = [ln.strip() for ln in path.read_text().splitlines()]
        return dict(ln.split("==", 1) for ln in lines if ln and not ln.startswith(("#", "-")))

    main, binder = pins(ROOT / "requirements.txt"), pins(ROOT / "binder" / "requirements.txt")
    assert binder.pop("torch") == main.pop("torch") + "+cpu"
    assert binder == main, "binder/requirements.txt must pin exactly what requirements.txt pins"
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install --no-deps --no-build-isolation -e ." in post


def test_synthesis_cheat_sheet_links_every_chapter():
    """Chapter 10's table names a chapter as plain text until it is in _toc.yml, then by {doc}."""
    synthesis = ROOT / "book" / "10_synthesis.md"
    if not synthesis.exists():
        pytest.skip("no synthesis chapter")
    text = synthesis.read_text()
    chapters = [p.stem for p in booktools.toc_notebooks(ROOT / "_toc.yml") if re.match(r"\d\d_", p.name)]
    unlinked = [c for c in chapters if f"{{doc}}`{c}`" not in text]
    assert not unlinked, (f"book/10_synthesis.md: turn the cheat-sheet row of {unlinked} into a "
                          "{doc} link (with a {numref} to its key figure)")


def test_figure_and_exercise_labels_are_unique_across_the_book():
    seen = {}
    for nb in NOTEBOOKS:
        cells = load(nb)["cells"]
        labels = [c.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("name") for c in cells]
        text = "\n".join(source(c) for c in cells if c["cell_type"] == "markdown")
        labels += re.findall(r":label: ([\w-]+)", text)
        for label in filter(None, labels):
            assert label not in seen, f"label {label!r} is defined in {nb.name} and in {seen[label]}"
            seen[label] = nb.name


def _code_cells(nb):
    return [c for c in load(nb)["cells"] if c["cell_type"] == "code"]


def _python(src):
    """A code cell's source as Python (IPython magics and shell lines blanked)."""
    return "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in src.splitlines())


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_chapter_checks_go_through_the_claims_api(nb):
    """No bare assert on a result: every check is a claim, recorded and shown on the page."""
    import ast

    for cell in _code_cells(nb):
        tree = ast.parse(_python(source(cell)))
        asserts = [n for n in ast.walk(tree) if isinstance(n, ast.Assert)]
        raises = [n for n in ast.walk(tree) if isinstance(n, ast.Raise) and n.exc is not None
                  and "AssertionError" in ast.unparse(n.exc)]
        assert not asserts and not raises, (
            f"{nb.name}: a check written as a bare assert (use sgdnoise.claims): "
            f"{ast.unparse((asserts + raises)[0])[:120]}")
    code = "\n".join(source(c) for c in _code_cells(nb))
    assert f'ClaimLog("{nb.stem}")' in code, f"{nb.name}: create the page's claims with ClaimLog({nb.stem!r})"
    assert re.search(r"\bclaims\.(agree|exact|order|paired|slope|distribution|bound|magnitude)\(", code), \
        f"{nb.name}: the chapter checks no claim"


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_chapter_shows_its_claims_table_before_the_exercises(nb):
    cells = load(nb)["cells"]
    heads = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
             and re.search(r"^## Checked on this page\s*$", source(c), re.M)]
    exercises = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
                 and re.search(r"^## Exercises\s*$", source(c), re.M)]
    assert len(heads) == 1 and len(exercises) == 1, f"{nb.name}: one 'Checked on this page' and one 'Exercises'"
    table = cells[heads[0] + 1]
    assert table["cell_type"] == "code" and source(table).strip() == "claims.table()", \
        f"{nb.name}: the cell after 'Checked on this page' must be `claims.table()`"
    assert "remove-input" in table.get("metadata", {}).get("tags", [])
    assert heads[0] < exercises[0] == heads[0] + 2, f"{nb.name}: the table comes right before the exercises"
    assert "{doc}`claims_ledger`" in source(cells[heads[0]]), "link the ledger from the table's heading"


def test_ledger_page_is_in_the_toc_and_linked_from_front_page_and_instructors():
    assert "book/claims_ledger" in booktools.toc_files(ROOT / "_toc.yml")
    assert "```{claims-ledger}" in (ROOT / "book" / "claims_ledger.md").read_text()
    for page in ("intro.md", "instructors.md"):
        assert "{doc}`claims_ledger`" in (ROOT / "book" / page).read_text(), page
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "claims_ledger" in cfg["sphinx"]["local_extensions"]


def test_ledger_extension_collects_claims_from_a_page_and_warns_on_loose_ones(monkeypatch):
    """The ledger reads the JSON that ClaimLog.table() writes, from a page's raw HTML output."""
    from types import SimpleNamespace

    from docutils import nodes
    from docutils.utils import new_document
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser

    from sgdnoise.claims import ClaimLog

    claims_ledger = load_tool("claims_ledger")
    log = ClaimLog("07_x", profile="large", device="cuda")
    log.agree("tight", 1.0, 1.0, 0.01, source="s")
    log.agree("loose", 1.0, 1.0, 0.1, source="s", why_loose="only the sign")
    html = log.table()._repr_html_()
    doc = new_document("page", get_default_settings(Parser))
    doc += nodes.raw("", html, format="html")
    env = SimpleNamespace(docname="book/07_x")
    warnings = []
    monkeypatch.setattr(claims_ledger.LOGGER, "warning", lambda msg, **kw: warnings.append(msg))
    claims_ledger.collect_claims(SimpleNamespace(env=env), doc)
    stored = env.sgdnoise_claims["book/07_x"]
    assert stored["profile"] == "large" and stored["device"] == "cuda"
    assert [c["statement"] for c in stored["claims"]] == ["tight", "loose"]
    assert not warnings                                   # the loose one says why
    # A page whose JSON carries a loose claim without a reason (hand-edited) is reported.
    bad = html.replace('"why_loose": "only the sign"', '"why_loose": ""')
    doc2 = new_document("page", get_default_settings(Parser))
    doc2 += nodes.raw("", bad, format="html")
    claims_ledger.collect_claims(SimpleNamespace(env=env), doc2)
    assert len(warnings) == 1 and "loose" in warnings[0]


def test_count_exercises_sees_boxes_with_metadata_classes():
    html = ('<div class="exercise admonition" id="ex-a">'
            '<div class="exercise kind-coding difficulty-2 minutes-40 autograded-yes gpu-no admonition" id="ex-b">'
            '<div class="solution admonition">')
    assert booktools.count_exercises(html) == 2


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_chapter_ends_with_its_provenance_line(nb):
    """The last two cells: the glued sgdnoise.provenance() (hidden) and the line that shows it."""
    cells = load(nb)["cells"]
    glue_cell, line = cells[-2], cells[-1]
    assert glue_cell["cell_type"] == "code" and source(glue_cell).startswith('glue("provenance", sn.provenance()'), \
        f"{nb.name}: the second-to-last cell must glue sn.provenance() as 'provenance'"
    assert "remove-cell" in glue_cell.get("metadata", {}).get("tags", [])
    assert line["cell_type"] == "markdown" and "{glue:text}`provenance`" in source(line)
    assert "{container} sgdnoise-provenance" in source(line), f"{nb.name}: the line's container class (styled, tested)"


# The animations and sweeps of the static site: chapter -> (animations, sweeps); tests/site checks them in a browser.
PLAYERS = {"01_stochastic_gradient": (1, 0), "03_langevin": (1, 1), "04_escape": (1, 0),
           "06_batch_and_learning_rate": (0, 1), "07_engineering_noise": (1, 0)}


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_animations_and_sweeps_have_alt_text_and_prose_next_to_them(nb):
    cells = load(nb)["cells"]
    found = {"animate_frames": 0, "slider_sweep": 0}
    for i, cell in enumerate(cells):
        src = source(cell)
        kinds = [k for k in found if f"sn.animation.{k}(" in src]
        if cell["cell_type"] != "code" or not kinds:
            continue
        found[kinds[0]] += 1
        assert re.search(r'alt="[^"]{20,}', src), f"{nb.name}: an animation without alt text"
        assert "hide-input" in cell.get("metadata", {}).get("tags", []), f"{nb.name}: hide the drawing code"
        before = [source(c) for c in cells[max(0, i - 2):i] if c["cell_type"] == "markdown"]
        assert any(re.search(r"animation|slider", t, re.I) for t in before), \
            f"{nb.name}: say in the prose just before it what the animation or sweep shows"
    assert (found["animate_frames"], found["slider_sweep"]) == PLAYERS.get(nb.stem, (0, 0))

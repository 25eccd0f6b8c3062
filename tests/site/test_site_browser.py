"""The built website in a real browser: headless chromium, driven by selenium, off the network.

Run by ``make site-test`` (part of ``make test``) after ``make book`` and ``make student`` have
built ``_build/html`` and ``_build/student/_build/html``. Both sites are served by a local
``http.server`` on 127.0.0.1; chromium starts with a fresh profile, with the flags that keep it
off the network, and with every host name but 127.0.0.1 unresolvable, so anything the pages
fetched from a CDN would fail and show up as a console error.

For every page in ``_toc.yml`` (full site):
- it loads with no severe console error;
- every image loads (``naturalWidth > 0``) and has alt text; figure images (PNG) have an opaque,
  light background, so they stay readable in the theme's dark mode;
- MathJax (served from the site itself) typesets every formula: MathJax output present, no
  MathJax error node, no raw ``$...$``, ``\\(`` or ``\\[`` left in the text;
- every internal link, script, stylesheet and image resolves to a file of the built site, and
  every ``#anchor`` to an element of the target page (this covers the citations, which point at
  the bibliography, and the .ipynb download button of notebook pages);
- chapter pages: at least four exercises, each with its solution;
- a full-page screenshot goes to ``_build/screenshots/full/``, and a dark-mode screenshot of the
  first figure of each chapter to ``_build/screenshots/dark/``.
For every chapter page of the student site: the same exercises, no solution, math typeset, no
console error; a screenshot of its exercises goes to ``_build/screenshots/student/``.

Also (issue 20): every chapter ends with its provenance line (a version and a device); every
animation and slider sweep (``sgdnoise.animation``) renders, does not play by itself, and its
step / play / slider controls change the frame shown; no display formula and no code cell is wider
than the article column (it scrolls inside its own block), at 1280 px and at a 390-px phone
width, with phone screenshots in ``_build/screenshots/phone/``; at 1280 px every code line fits its
cell without scrolling (the notebooks' code is written to 88 columns; at the phone width it scrolls
inside the cell); and the players stay within their size budget.

Without chromium or chromedriver the whole module is skipped, with the reason.
"""

from __future__ import annotations

import base64
import functools
import http.server
import importlib.util
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("SITE_BUILD_DIR", ROOT / "_build"))  # holds html/ and student/_build/html/
FULL = BUILD / "html"
STUDENT = BUILD / "student" / "_build" / "html"
SHOTS = BUILD / "screenshots"

spec = importlib.util.spec_from_file_location("booktools", ROOT / "tools" / "book.py")
booktools = importlib.util.module_from_spec(spec)
spec.loader.exec_module(booktools)

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
if not CHROMIUM or not CHROMEDRIVER:
    pytest.skip(
        "browser test skipped: chromium and chromedriver are needed "
        f"(found chromium={CHROMIUM}, chromedriver={CHROMEDRIVER}; "
        "apt-get install chromium chromium-driver, as .ci/run does)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip("selenium.webdriver", reason="browser test skipped: selenium not installed")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

# The flags that keep chromium off the network (and quiet), plus a resolver that knows no host
# but 127.0.0.1: a page that needs a CDN fails here instead of silently fetching it.
CHROME_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--window-size=1280,900", "--hide-scrollbars",
]
# The only console error we accept: chromium asks every site for /favicon.ico, which the book
# does not have (it sets no logo or favicon).
IGNORED_CONSOLE = re.compile(r"favicon\.ico")


def page_path(toc_file: str) -> str:
    return toc_file + ".html"


TOC_PAGES = [page_path(f) for f in booktools.toc_files(ROOT / "_toc.yml")]
CHAPTER_PAGES = [p for p in TOC_PAGES if re.match(r"\d\d_", Path(p).name)]


def require_site(site: Path) -> None:
    """Fail (under ``make site-test``) or skip (a plain ``pytest``) when a site is not built."""
    if not (site / "index.html").exists():
        msg = f"{site} is not built: run `make book` and `make student` first (make test does)"
        if os.environ.get("SITE_TEST_REQUIRED"):
            pytest.fail(msg)
        pytest.skip(msg)


# ---------------------------------------------------------------------------------------------
# fixtures: a local server for _build/, one browser for the module


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(QuietHandler, directory=str(BUILD))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="noisy-descent-chromium-")
    opts = Options()
    opts.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={profile}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# helpers


def load(driver, url: str) -> list[str]:
    """Open ``url``, wait for MathJax to finish; return the severe console messages."""
    driver.get_log("browser")  # drop messages of the previous page
    driver.get(url)
    state = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        if (!document.querySelector('.math')) { done('no math'); return; }
        if (!window.MathJax || !window.MathJax.startup) { done('MathJax did not load'); return; }
        MathJax.startup.promise.then(() => done('ok'), e => done('MathJax failed: ' + e));
        """
    )
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    errors = [m for m in errors if not IGNORED_CONSOLE.search(m)]
    if state not in ("ok", "no math"):
        errors.append(state)
    return errors


RAW_MATH = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\$[^$\s][^$\n]{0,200}?\$")

MATH_STATE_JS = """
const article = document.querySelector('article') || document.querySelector('main') || document.body;
const clone = article.cloneNode(true);
clone.querySelectorAll('pre, code, script, style, textarea, mjx-container, .MathJax').forEach(e => e.remove());
return {
  math: document.querySelectorAll('.math').length,
  typeset: document.querySelectorAll('mjx-container').length,
  merror: document.querySelectorAll('mjx-merror').length,
  untypeset: [...document.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container')).length,
  text: clone.textContent,
  version: (window.MathJax && window.MathJax.version) || null,
};
"""

IMAGES_JS = """
const article = document.querySelector('article') || document.body;
return [...article.querySelectorAll('img')].map(i => ({
  src: i.currentSrc || i.src, alt: i.getAttribute('alt') || '', ok: i.complete && i.naturalWidth > 0,
  animation: !!i.closest('.animation') || (i.id || '').startsWith('_anim_img')}));
"""

REFS_JS = """
const out = [];
document.querySelectorAll('a[href]').forEach(a => out.push(['a', a.href, a.getAttribute('href')]));
document.querySelectorAll('script[src]').forEach(s => out.push(['script', s.src, s.getAttribute('src')]));
document.querySelectorAll('link[href]').forEach(l => out.push(['link', l.href, l.getAttribute('href')]));
document.querySelectorAll('img[src]').forEach(i => out.push(['img', i.src, i.getAttribute('src')]));
return out;
"""

COUNTS_JS = """
return {
  exercises: document.querySelectorAll('.exercise.admonition').length,
  solutions: document.querySelectorAll('.solution.admonition, .solution').length,
};
"""


@functools.lru_cache(maxsize=None)
def ids_in(path: Path) -> frozenset[str]:
    text = path.read_text(errors="replace")
    return frozenset(re.findall(r'\bid="([^"]+)"', text)) | frozenset(re.findall(r'\bname="([^"]+)"', text))


def check_refs(driver, server: str) -> tuple[list[str], int]:
    """Every local href/src resolves to a file (and anchor); no resource from another host."""
    problems, citations = [], 0
    for kind, absolute, raw in driver.execute_script(REFS_JS):
        url = urlparse(absolute)
        if url.scheme in ("mailto", "javascript", "data"):
            continue
        if f"{url.scheme}://{url.netloc}" != server:
            if kind != "a":  # a script, stylesheet or image from elsewhere: the site is not self-contained
                problems.append(f"external {kind}: {absolute}")
            continue
        target = BUILD / unquote(url.path).lstrip("/")
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            problems.append(f"broken {kind} {raw!r} -> {target.relative_to(BUILD)} does not exist")
            continue
        if url.fragment and target.suffix == ".html" and unquote(url.fragment) not in ids_in(target):
            problems.append(f"broken anchor {raw!r}: no id {url.fragment!r} in {target.relative_to(BUILD)}")
        if kind == "a" and target.name == "references.html" and url.fragment:
            citations += 1
    return problems, citations


def screenshot(driver, path: Path, full_page: bool, max_height: int = 15000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if full_page:
        driver.execute_script(
            "window.scrollTo(0, 0); document.querySelectorAll('*').forEach(e => { if (e.scrollLeft) e.scrollLeft = 0; });"
        )
        size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], max_height), "scale": 1}
        shot = driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {"format": "jpeg", "quality": 70, "captureBeyondViewport": True, "clip": clip},
        )
        path.write_bytes(base64.b64decode(shot["data"]))
    else:
        driver.save_screenshot(str(path))


def light_opaque_background(png: Path) -> bool:
    """The four corners of a figure are opaque and light (readable on a dark page)."""
    from PIL import Image

    with Image.open(png) as im:
        im = im.convert("RGBA")
        w, h = im.size
        for x, y in [(1, 1), (w - 2, 1), (1, h - 2), (w - 2, h - 2)]:
            r, g, b, a = im.getpixel((x, y))
            if a < 250 or 0.299 * r + 0.587 * g + 0.114 * b < 200:
                return False
    return True


def math_problems(driver) -> list[str]:
    st = driver.execute_script(MATH_STATE_JS)
    out = []
    if st["math"]:
        if not str(st["version"] or "").startswith("3"):
            out.append(f"MathJax 3 not running (version {st['version']})")
        if st["untypeset"]:
            out.append(f"{st['untypeset']} of {st['math']} math elements not typeset")
        if st["merror"]:
            out.append(f"{st['merror']} MathJax error(s) (undefined macro?)")
    raw = RAW_MATH.findall(st["text"])
    if raw:
        i = RAW_MATH.search(st["text"]).start()
        out.append(f"raw TeX left in the text: {raw[:5]} near {st['text'][max(0, i - 60): i + 60]!r}")
    return out


PROVENANCE_JS = """
const e = document.querySelector('div.sgdnoise-provenance');
return e ? e.innerText : null;
"""

PLAYERS_JS = """
return [...document.querySelectorAll('.sgdnoise-player')].map(p => {
  const img = p.querySelector('img.sgdnoise-player-frame');
  return {id: p.id, kind: p.classList.contains('sgdnoise-animation') ? 'animation' : 'sweep',
          frames: +p.dataset.frames, frame: +p.dataset.frame, src: img.src.length + ':' + img.src.slice(-400, -24), alt: img.alt,
          loaded: img.complete && img.naturalWidth > 0,
          label: p.querySelector('.sgdnoise-player-label').textContent,
          fits: p.getBoundingClientRect().width <= (document.querySelector('article') || document.body).getBoundingClientRect().width + 1};
});
"""

# Display formulas and code cells against the article column: a block may not stick out of the
# column; a block whose content is wider must scroll inside itself (overflow-x auto/scroll).
LAYOUT_JS = """
const col = (document.querySelector('article.bd-article') || document.querySelector('article')).getBoundingClientRect();
const out = {column: col.width, page: document.documentElement.scrollWidth, window: window.innerWidth, bad: [], checked: 0,
             codeScrolls: [], codeChecked: 0};
document.querySelectorAll('div.cell_input pre').forEach(e => {
  if (e.getBoundingClientRect().width === 0) return;
  out.codeChecked += 1;
  if (e.scrollWidth > e.clientWidth + 1) {
    const line = e.textContent.split(String.fromCharCode(10)).reduce((a, b) => b.length > a.length ? b : a, '');
    out.codeScrolls.push(`code cell needs ${e.scrollWidth} px in ${e.clientWidth} px; longest line (${line.length} columns): ${line.trim().slice(0, 60)}`);
  }
});
document.querySelectorAll('mjx-container[display="true"], div.math, div.cell pre, div.highlight pre').forEach(e => {
  const r = e.getBoundingClientRect();
  if (r.width === 0) return;
  out.checked += 1;
  const overflowX = getComputedStyle(e).overflowX;
  const sticksOut = r.right > col.right + 1 || r.left < col.left - 1;
  const clipped = e.scrollWidth > e.clientWidth + 1 && !['auto', 'scroll'].includes(overflowX);
  if (sticksOut || clipped)
    out.bad.push(`${e.tagName.toLowerCase()}.${e.className}: ${Math.round(r.width)} px wide at ${Math.round(r.left)}..${Math.round(r.right)}, ` +
                 `content ${e.scrollWidth} px, overflow-x ${overflowX}; column ${Math.round(col.left)}..${Math.round(col.right)}`);
});
return out;
"""

# What tests/test_book.py's PLAYERS lists: chapter -> (animations, sweeps).
EXPECTED_PLAYERS = {"01_stochastic_gradient": (1, 0), "03_langevin": (1, 1), "04_escape": (1, 0),
                    "06_batch_and_learning_rate": (0, 1), "07_engineering_noise": (1, 0)}
PLAYER_BYTES_MAX = 500_000          # one animation or sweep
PLAYERS_TOTAL_MAX = 4_000_000       # all of them: the site's growth from issue 20
SITE_BYTES_MAX = 32_000_000         # the whole _build/html (24.8 MB before the animations)
PLAYER_HTML = re.compile(r'<div class="sgdnoise-player .*?</script></div>', re.S)


def player_state(driver, pid: str) -> dict:
    return next(p for p in driver.execute_script(PLAYERS_JS) if p["id"] == pid)


def click(driver, pid: str, action: str) -> None:
    driver.execute_script(f"document.querySelector('#{pid} button[data-action={action}]').click()")


# ---------------------------------------------------------------------------------------------
# tests


def test_toc_pages_are_built():
    require_site(FULL)
    missing = [p for p in TOC_PAGES if not (FULL / p).is_file()]
    assert not missing, f"pages in _toc.yml missing from the build: {missing}"


def test_mathjax_is_served_locally():
    require_site(FULL)
    pages_with_math = [p for p in TOC_PAGES if 'class="math' in (FULL / p).read_text(errors="replace")]
    assert pages_with_math
    for p in pages_with_math:
        html = (FULL / p).read_text(errors="replace")
        srcs = re.findall(r'<script[^>]+src="([^"]*tex-mml-chtml[^"]*)"', html)
        assert srcs and all("://" not in s for s in srcs), f"{p}: MathJax not loaded from the site: {srcs}"
    assert (FULL / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()
    assert (FULL / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


@pytest.mark.parametrize("page", TOC_PAGES)
def test_page_in_full_site(page, browser, server):
    require_site(FULL)
    problems = [f"console: {m}" for m in load(browser, f"{server}/html/{page}")]
    problems += math_problems(browser)

    images = browser.execute_script(IMAGES_JS)
    for img in images:
        if not img["ok"]:
            problems.append(f"image did not load: {img['src']}")
        # matplotlib's to_jshtml animations draw their frames into an <img> that myst-nb cannot give
        # the cell's alt text; test_book checks that the cell itself has alt text and a caption.
        if not img["alt"].strip() and not img["animation"]:
            problems.append(f"image without alt text: {img['src'][:120]}")
        url = urlparse(img["src"])
        if url.scheme.startswith("http") and url.path.endswith(".png") and "/_images/" in url.path:
            if not light_opaque_background(BUILD / unquote(url.path).lstrip("/")):
                problems.append(f"figure without an opaque light background (unreadable in dark mode): {url.path}")

    ref_problems, citations = check_refs(browser, server)
    problems += ref_problems

    name = Path(page).stem
    screenshot(browser, SHOTS / "full" / f"{name}.jpg", full_page=True)

    if page in CHAPTER_PAGES:
        counts = browser.execute_script(COUNTS_JS)
        if counts["exercises"] < 4:
            problems.append(f"{counts['exercises']} exercises, expected at least 4")
        if counts["solutions"] != counts["exercises"]:
            problems.append(f"{counts['exercises']} exercises but {counts['solutions']} solutions")
        if citations == 0:
            problems.append("no citation linking to the bibliography")
        if (ROOT / page).with_suffix(".ipynb").exists():
            hrefs = [h for _, h, _ in browser.execute_script(REFS_JS) if h.endswith(f"{name}.ipynb")]
            if not hrefs:
                problems.append("no .ipynb download link")
        if images:  # dark mode: the first figure, on the theme's dark background
            browser.execute_script(
                "document.documentElement.dataset.theme = 'dark'; document.documentElement.dataset.mode = 'dark';"
                "const f = document.querySelector('article img'); if (f) f.scrollIntoView({block: 'center'});"
            )
            screenshot(browser, SHOTS / "dark" / f"{name}.png", full_page=False)
            browser.execute_script("localStorage.clear()")
        line = browser.execute_script(PROVENANCE_JS)
        if not (ROOT / page).with_suffix(".ipynb").exists():
            pass                                       # a chapter written in Markdown computes nothing
        elif not line:
            problems.append("no provenance line (sgdnoise.provenance) at the end of the chapter")
        elif not (re.search(r"sgdnoise \d+\.\d+", line) and re.search(r"torch \d+\.\d+", line)
                  and re.search(r"\bon (cpu|cuda)\b", line) and re.search(r"(small|large) size profile", line)):
            problems.append(f"provenance line without a version, a device or a size profile: {line!r}")
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("page", CHAPTER_PAGES)
def test_chapter_in_student_site(page, browser, server):
    require_site(STUDENT)
    full_html = (FULL / page).read_text(errors="replace")
    n_exercises = len(re.findall(r'class="exercise(?: [^"]*)? admonition[ "]', full_html))
    problems = [f"console: {m}" for m in load(browser, f"{server}/student/_build/html/{page}")]
    problems += math_problems(browser)
    counts = browser.execute_script(COUNTS_JS)
    if counts["solutions"]:
        problems.append(f"{counts['solutions']} solution(s) in the student build")
    if counts["exercises"] != n_exercises:
        problems.append(f"{counts['exercises']} exercises in the student build, {n_exercises} in the full one")
    line = browser.execute_script(PROVENANCE_JS) or ""
    if (ROOT / page).with_suffix(".ipynb").exists() and not (re.search(r"sgdnoise \d+\.\d+", line) and re.search(r"\bon (cpu|cuda)\b", line)):
        problems.append(f"no provenance line with a version and a device: {line!r}")
    text = browser.execute_script("return document.body.innerText")
    if "Solution to" in text:
        problems.append("the text 'Solution to' appears in the student build")
    browser.execute_script(
        "const e = document.querySelector('.exercise.admonition'); if (e) e.scrollIntoView({block: 'start'});"
    )
    screenshot(browser, SHOTS / "student" / f"{Path(page).stem}.png", full_page=False)
    assert not problems, f"student {page}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("page", [p for p in CHAPTER_PAGES if Path(p).stem in EXPECTED_PLAYERS])
@pytest.mark.parametrize("site", ["full", "student"])
def test_animations_and_sweeps_play_only_when_asked(page, site, browser, server):
    import time

    root = FULL if site == "full" else STUDENT
    require_site(root)
    url = f"{server}/html/{page}" if site == "full" else f"{server}/student/_build/html/{page}"
    problems = [f"console: {m}" for m in load(browser, url)]
    players = browser.execute_script(PLAYERS_JS)
    kinds = [p["kind"] for p in players]
    expected = EXPECTED_PLAYERS[Path(page).stem]
    if (kinds.count("animation"), kinds.count("sweep")) != expected:
        problems.append(f"players {kinds}, expected {expected[0]} animation(s) and {expected[1]} sweep(s)")
    time.sleep(1.0)                                    # nothing may move by itself
    for p in players:
        pid, name = p["id"], f"{p['kind']} {p['id']}"
        now = player_state(browser, pid)
        if not p["loaded"] or len(p["alt"].strip()) < 20 or not p["fits"]:
            problems.append(f"{name}: loaded {p['loaded']}, alt {p['alt']!r}, fits the column {p['fits']}")
        if p["frames"] < 2:
            problems.append(f"{name}: {p['frames']} frame(s)")
            continue
        if now["frame"] != 0 or now["src"] != p["src"]:
            problems.append(f"{name}: the frame changed without a click (autoplay)")
        click(browser, pid, "next")
        after = player_state(browser, pid)
        if after["frame"] != 1 or after["label"] == p["label"]:
            problems.append(f"{name}: 'next' did not show frame 2 (frame {after['frame']}, label {after['label']!r})")
        click(browser, pid, "last")                    # (neighbouring frames may look alike; first and last do not)
        if player_state(browser, pid)["src"] == p["src"]:
            problems.append(f"{name}: the last frame shows the same image as the first")
        click(browser, pid, "first")
        after = player_state(browser, pid)
        if after["frame"] != 0 or after["src"] != p["src"]:
            problems.append(f"{name}: 'first' did not go back to the first frame")
        if p["kind"] == "animation":
            click(browser, pid, "play")
            time.sleep(0.8)
            playing = player_state(browser, pid)
            click(browser, pid, "play")                # pause
            paused = player_state(browser, pid)
            time.sleep(0.5)
            if playing["frame"] <= 1:
                problems.append(f"{name}: 'play' did not advance the frames")
            if player_state(browser, pid)["frame"] != paused["frame"]:
                problems.append(f"{name}: 'pause' did not stop it")
        else:
            browser.execute_script(
                f"const s = document.querySelector('#{pid} input[type=range]'); s.value = s.max;"
                "s.dispatchEvent(new Event('input'));")
            last = player_state(browser, pid)
            if last["frame"] != p["frames"] - 1 or last["src"] == p["src"] or last["label"] == p["label"]:
                problems.append(f"{name}: moving the slider to the end did not show the last frame")
        if site == "full":
            browser.execute_script(f"document.getElementById('{pid}').scrollIntoView({{block: 'center'}})")
            screenshot(browser, SHOTS / "players" / f"{Path(page).stem}-{p['kind']}.png", full_page=False)
    assert not problems, f"{site} {page}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("page", CHAPTER_PAGES)
def test_math_and_code_stay_in_the_column(page, width, browser, server):
    require_site(FULL)
    browser.set_window_size(width, 900)
    try:
        problems = [f"console: {m}" for m in load(browser, f"{server}/html/{page}")]
        state = browser.execute_script(LAYOUT_JS)
        if state["checked"] == 0 and (ROOT / page).with_suffix(".ipynb").exists():
            problems.append("no display formula or code cell found (selectors out of date?)")
        problems += state["bad"]
        if width == 1280:
            # On a desktop window the code must fit without scrolling: the notebooks' code is written
            # to 88 columns (tests/test_notebook_style.py); on a phone it scrolls inside its cell.
            if state["codeChecked"] == 0 and (ROOT / page).with_suffix(".ipynb").exists():
                problems.append("no visible code cell found (selector div.cell_input pre out of date?)")
            problems += state["codeScrolls"]
        if state["page"] > state["window"] + 1:
            problems.append(f"the page scrolls sideways: {state['page']} px of content in a {state['window']} px window")
        if width == 390:
            browser.execute_script(
                "const m = document.querySelector('mjx-container[display=\"true\"]');"
                "if (m) m.scrollIntoView({block: 'center'});")
            screenshot(browser, SHOTS / "phone" / f"{Path(page).stem}-math.png", full_page=False)
            browser.execute_script("const c = document.querySelector('div.cell pre'); if (c) c.scrollIntoView({block: 'center'});")
            screenshot(browser, SHOTS / "phone" / f"{Path(page).stem}-code.png", full_page=False)
    finally:
        browser.set_window_size(1280, 900)
    assert not problems, f"{page} at {width} px:\n  " + "\n  ".join(problems)


def test_site_size_within_budget():
    require_site(FULL)
    sizes = {}
    for page in CHAPTER_PAGES:
        for i, block in enumerate(PLAYER_HTML.findall((FULL / page).read_text(errors="replace"))):
            sizes[f"{Path(page).stem}#{i}"] = len(block.encode())
    expected = sum(a + s for a, s in EXPECTED_PLAYERS.values())
    assert len(sizes) == expected, f"found {len(sizes)} players in the built pages, expected {expected}: {sizes}"
    too_big = {k: v for k, v in sizes.items() if v > PLAYER_BYTES_MAX}
    assert not too_big, f"players over {PLAYER_BYTES_MAX} bytes: {too_big}"
    assert sum(sizes.values()) <= PLAYERS_TOTAL_MAX, f"players add {sum(sizes.values())} bytes: {sizes}"
    # The pages and what they load; the downloads (the PDFs, the student pack) are not page weight.
    total = sum(f.stat().st_size for f in FULL.rglob("*") if f.is_file() and "_downloads" not in f.parts)
    assert total <= SITE_BYTES_MAX, f"_build/html (without _downloads) is {total} bytes, over {SITE_BYTES_MAX}"
    print(f"players: {sizes}; total {sum(sizes.values())} bytes; _build/html {total} bytes")

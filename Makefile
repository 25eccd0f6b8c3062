# Noisy Descent: every command sets up its own environment first.
#   make book      .venv + execute every notebook + HTML site in _build/html
#   make test      .venv + unit tests + nbval over every notebook + strict build of the book
#   make student   the site with every solution removed, in _build/student/_build/html
#   make student-notebooks  every notebook without its solutions, executed once, in _build/student_notebooks
#   make assignments        autograded exercises (otter-grader): per chapter a student notebook and an
#                           autograder in _build/assignments/, and the student pack zip the site links to
#   make site-test the built sites (book + student) opened in headless chromium (part of make test)
#   make pdf       the book and its student edition as PDFs, in _build/pdf (needs TeX Live)
#   make test-large nbval over every notebook at SGDNOISE_SIZE=large (what a GPU build runs; not in make test)
SHELL        := /bin/bash
.SHELLFLAGS  := -euo pipefail -c
PYTHON       ?= $(shell command -v python3.11 || command -v python3)
VENV         := .venv
PY           := $(VENV)/bin/python
STAMP        := $(VENV)/.installed
# Kernels come from the venv first, whatever the user's own Jupyter set-up has registered.
export JUPYTER_PATH := $(CURDIR)/$(VENV)/share/jupyter
export PYDEVD_DISABLE_FILE_VALIDATION := 1
JOBS         ?= 2
BUILD_FLAGS  ?=
STRICT       := -n -W --keep-going

.PHONY: help venv venv-base lab cache-key mathjax assignments book test test-large unit nbval book-strict student student-check student-notebooks site-test pdf tex-check clean clean-cache bench

help:
	@echo "make book     build the site into _build/html (sets up .venv on first use)"
	@echo "make test     unit tests, nbval over every notebook, strict build of the book"
	@echo "make student  the site without solutions, into _build/student/_build/html"
	@echo "make student-notebooks  notebooks without solutions, executed once, into _build/student_notebooks"
	@echo "make assignments        per chapter a student notebook + otter autograder, and the student pack"
	@echo "make site-test          open both built sites in headless chromium (needs make book + student)"
	@echo "make pdf      the book and its student edition as PDFs in _build/pdf (needs xelatex, latexmk);"
	@echo "              the next make book links them from the front page"
	@echo "make lab      JupyterLab on book/ with the course kernel (the learner's path)"
	@echo "make test-large        every notebook at SGDNOISE_SIZE=large under nbval (long on a CPU)"
	@echo "make bench    run every benchmark script"

# The environment is rebuilt only when requirements.txt or pyproject.toml change.
$(STAMP): requirements.txt pyproject.toml
	@$(MAKE) --no-print-directory venv-base
	$(PY) -m pip install --quiet --upgrade pip==23.2.1
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (Noisy Descent)" >/dev/null
	touch $(STAMP)

venv: $(STAMP)

# A virtual environment with a working pip, nothing more. A .venv without pip (a `python -m venv`
# that stopped half-way, e.g. on Debian/Ubuntu without the python3.11-venv package, which leaves a
# .venv with a python but no pip) is removed and made afresh; when venv itself fails, the
# half-made .venv is removed and the one command that fixes it is printed.
venv-base:
	@command -v $(PYTHON) >/dev/null || { \
	    echo "make: Python 3.11 not found ($(PYTHON)); install it, or run make PYTHON=/path/to/python3.11"; exit 1; }
	@if ! $(PY) -m pip --version >/dev/null 2>&1; then \
	    if [ -e $(VENV) ]; then echo "make: $(VENV) has no working pip; making it afresh"; rm -rf $(VENV); fi; \
	    if ! $(PYTHON) -m venv $(VENV); then \
	        rm -rf $(VENV); \
	        echo "make: '$(PYTHON) -m venv $(VENV)' failed: this Python has no working venv/ensurepip module."; \
	        echo "make: on Debian or Ubuntu install it with:  sudo apt-get install python3.11-venv"; \
	        echo "make: (or python3-venv where python3 is 3.11), then run make again."; \
	        exit 1; \
	    fi; \
	    $(PY) -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV); \
	        echo "make: the new $(VENV) has no pip; on Debian or Ubuntu: sudo apt-get install python3.11-venv"; exit 1; }; \
	fi

# JupyterLab on the book's folder, with the course's kernel "Python 3 (Noisy Descent)" (the venv's
# kernels come first on JUPYTER_PATH). Ctrl-C stops it.
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)/book" $$([ "$$(id -u)" = 0 ] && echo --allow-root || echo)

# jupyter-cache does not see changes in lib/: key the cache on the library's contents.
cache-key: $(STAMP)
	@$(PY) tools/book.py cache-key _build/.jupyter_cache

# MathJax is served from the site itself (no CDN): the es5 build of MathJax 3.2.2 that the pinned
# PyPI package django-static-mathjax ships (installed with requirements.txt, so neither npm nor the
# network is needed), copied into a static folder that _config.yml publishes (html_static_path,
# mathjax_path).
MATHJAX_STATIC  := _build/_static_offline/mathjax
$(MATHJAX_STATIC)/tex-mml-chtml.js: $(STAMP)
	src=$$($(PY) -c 'import mathjax, pathlib; print(pathlib.Path(mathjax.__file__).parent / "static" / "mathjax")'); \
	rm -rf $(MATHJAX_STATIC) && mkdir -p $(MATHJAX_STATIC) && \
	cp -r $$src/es5/tex-mml-chtml.js $$src/es5/input $$src/es5/output $$src/es5/a11y $$src/es5/sre $$src/es5/ui \
	      $$src/es5/adaptors $$src/LICENSE $(MATHJAX_STATIC)/

mathjax: $(MATHJAX_STATIC)/tex-mml-chtml.js

# Autograded exercises (otter-grader, offline, no Docker): `otter assign` on every master notebook
# assignments/chNN_*.ipynb (it executes the reference solutions and fails if a test fails) writes
# _build/assignments/<chapter>/student/ (the notebook a student fills in, with grader.check cells)
# and .../autograder/ (reference notebook and <chapter>-autograder.zip, for `otter run -a`).
# The student pack (book notebooks without solutions + every assignment's student side) is the
# zip the instructors page links to with {download}, so every build of the site makes it first;
# it is remade only when a notebook, the toc or the tools change.
ASSIGN_DIR   := _build/assignments
STUDENT_PACK := _build/pack/noisy-descent-student-pack.zip
PACK_INPUTS  := $(wildcard assignments/ch*.ipynb) $(wildcard book/*.ipynb) book/10_synthesis.md _toc.yml \
                tools/assignments.py tools/book.py
$(STUDENT_PACK): $(STAMP) $(PACK_INPUTS)
	$(PY) tools/assignments.py build $(ASSIGN_DIR)
	rm -rf _build/pack/notebooks
	$(PY) tools/book.py student-notebooks _toc.yml _build/pack/notebooks
	$(PY) tools/assignments.py pack $(ASSIGN_DIR) _build/pack/notebooks $@

assignments: $(STUDENT_PACK)

# The site shows no progress bars (sgdnoise.progress): a finished bar on a page is clutter. Nor
# does the PDF, whose build shares the execution cache with the site's (it may fill it first).
book book-strict student pdf: export SGDNOISE_PROGRESS := 0
# One torch thread per kernel in the builds too (as under nbval): on a busy 2-core machine two threads
# per kernel made chapter 1 run into the cell timeout.
book book-strict student pdf: export OMP_NUM_THREADS ?= 1

book: $(STAMP) cache-key mathjax $(STUDENT_PACK)
	$(VENV)/bin/jupyter-book build . $(BUILD_FLAGS)
	@echo "site: $(CURDIR)/_build/html/index.html"

student: $(STAMP) cache-key mathjax $(STUDENT_PACK)
	$(PY) tools/book.py student-config _config.yml _build/student_config.yml
	$(VENV)/bin/jupyter-book build . --config _build/student_config.yml --path-output _build/student $(BUILD_FLAGS)
	@echo "student site: $(CURDIR)/_build/student/_build/html/index.html"

# Both builds strict, then: solutions in the full site, none in the student site.
student-check: book-strict
	$(MAKE) --no-print-directory student BUILD_FLAGS="$(STRICT)"
	$(PY) tools/book.py check-student _build/html _build/student/_build/html

# The layers of the library (import-linter contracts in pyproject.toml), then the unit tests.
unit: $(STAMP)
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -n $(JOBS) tests --ignore=tests/site --doctest-modules lib/sgdnoise

# The built sites in a real browser (headless chromium, off the network); skips with a reason when
# chromium or chromedriver is missing. Screenshots go to _build/screenshots/.
site-test: $(STAMP)
	SITE_TEST_REQUIRED=1 $(PY) -m pytest -q -p no:cacheprovider -rs tests/site

# The printable PDFs: Sphinx's LaTeX builder (through sphinx-jupyterbook-latex, as Jupyter Book's
# `--builder pdflatex` does), typeset by xelatex under latexmk; strict like the site (warnings are
# errors; a LaTeX error stops the build). The notebooks' outputs come from the same execution cache
# as the site, so after make book nothing is executed again (and before it, make pdf executes and
# fills the cache for make book). _build/pdf/noisy-descent.pdf is the whole book with the
# solutions, noisy-descent-student.pdf the student edition without them. The HTML build links
# whichever exists from the front page (tools/book_pdf.py): run make pdf before make book to
# publish them with the site (make test does). TeX comes from Debian, TEX_PACKAGES; .ci/run
# installs them when xelatex, latexmk or pdftotext is missing.
TEX_PACKAGES := texlive-xetex latexmk texlive-fonts-recommended texlive-latex-recommended texlive-latex-extra fonts-freefont-otf poppler-utils
PDF_DIR      := _build/pdf
PDF_BUILD    := LATEXMKOPTS=-xelatex LATEXOPTS="-interaction=nonstopmode -halt-on-error" \
                $(VENV)/bin/jupyter-book build . --builder pdflatex $(STRICT)

tex-check:
	@for tool in xelatex latexmk pdftotext; do command -v $$tool >/dev/null || { \
	    echo "make pdf: $$tool not found; on Debian or Ubuntu: sudo apt-get install --no-install-recommends $(TEX_PACKAGES)"; \
	    exit 1; }; done

pdf: $(STAMP) cache-key mathjax tex-check $(STUDENT_PACK)
	@start=$$(date +%s); \
	rm -f $(PDF_DIR)/noisy-descent.pdf $(PDF_DIR)/noisy-descent-student.pdf; \
	$(PDF_BUILD) --path-output $(PDF_DIR)/book; \
	cp $(PDF_DIR)/book/_build/latex/noisy-descent.pdf $(PDF_DIR)/noisy-descent.pdf; \
	$(PY) tools/book.py student-config _config.yml _build/student_config.yml; \
	$(PDF_BUILD) --config _build/student_config.yml --path-output $(PDF_DIR)/student; \
	cp $(PDF_DIR)/student/_build/latex/noisy-descent.pdf $(PDF_DIR)/noisy-descent-student.pdf; \
	for f in $(PDF_DIR)/noisy-descent.pdf $(PDF_DIR)/noisy-descent-student.pdf; do \
	    echo "$$f: $$(pdfinfo $$f | sed -n 's/^Pages: *//p') pages, $$(( $$(stat -c %s $$f) / 1000 )) kB"; done; \
	echo "make pdf: both PDFs in $$(( $$(date +%s) - start )) s"

# Copies of every notebook in _toc.yml with the solution directives removed, each executed once.
student-notebooks: $(STAMP)
	$(PY) tools/book.py student-notebooks _toc.yml _build/student_notebooks
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -p no:cacheprovider -n $(JOBS) --dist loadfile --nbval-lax --nbval-cell-timeout=600 _build/student_notebooks

# One thread per kernel: two xdist workers with two torch threads each oversubscribe two cores.
nbval: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -p no:cacheprovider -n $(JOBS) --dist loadfile --nbval-lax --nbval-cell-timeout=600 $$($(PY) tools/book.py toc-notebooks _toc.yml)

# The large experiment sizes (what a GPU build runs by default), every notebook under nbval, one at
# a time: the large profile is sized for 16 GiB of memory, and two at once would not fit a 24 GiB
# machine. -v names each cell as it passes; see the performance page for the times on a CPU.
test-large: $(STAMP)
	@start=$$(date +%s); \
	SGDNOISE_SIZE=large OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(PY) -m pytest -v -p no:cacheprovider --nbval-lax \
	    --nbval-cell-timeout=1800 $$($(PY) tools/book.py toc-notebooks _toc.yml); \
	echo "make test-large: all passed in $$(( $$(date +%s) - start )) s"

book-strict: $(STAMP) cache-key mathjax $(STUDENT_PACK)
	$(VENV)/bin/jupyter-book build . $(STRICT)

# The PDFs are built before the sites, so that the sites link them and the browser test follows
# those links; where TeX is missing (outside CI) make pdf is left out and the PDF test skips.
# The browser test and the PDF test skip (with their reasons) where chromium or TeX is missing; the
# last line repeats the reasons, and under CI (CI=true, where .ci/run installs chromium and TeX)
# a skip is a broken install: fail.
SITE_TEST_LOG := _build/site-test.log
test: $(STAMP)
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory unit nbval; \
	if [ "$${CI:-}" = "true" ] || $(MAKE) -s --no-print-directory tex-check >/dev/null 2>&1; then \
	    $(MAKE) --no-print-directory pdf; \
	else rm -f _build/pdf/noisy-descent.pdf _build/pdf/noisy-descent-student.pdf; fi; \
	$(MAKE) --no-print-directory book-strict student-check; \
	mkdir -p _build; $(MAKE) --no-print-directory site-test 2>&1 | tee $(SITE_TEST_LOG); \
	skipped=$$(sed -n 's/.*\(\(browser\|PDF\) test skipped: .*\)/\1/p' $(SITE_TEST_LOG) | sort -u | paste -sd ';' -); \
	if [ -n "$$skipped" ]; then \
	    if [ "$${CI:-}" = "true" ]; then echo "make test: FAILED: under CI the browser and PDF tests must run ($$skipped)"; exit 1; fi; \
	    echo "make test: all passed in $$(( $$(date +%s) - start )) s, except: $$skipped"; \
	else \
	    echo "make test: all passed in $$(( $$(date +%s) - start )) s"; \
	fi

# Every benchmark script, then one machine-readable file and a readable table:
# benchmarks/results/results.json and results.md. The benchmarks run in .venv-bench: the book's
# environment (through a .pth file) plus the peers they compare against (BackPACK, Opacus,
# PyHessian), installed with --no-deps so torch stays 2.13.0; the peers never enter .venv.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: $(STAMP) benchmarks/requirements-peers.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	book_site=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	bench_site=$$($(BENCH_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	echo "import site; site.addsitedir('$$book_site')" > $$bench_site/_noisy_descent_book_env.pth
	$(BENCH_VENV)/bin/python -m pip install --quiet --no-deps -r benchmarks/requirements-peers.txt
	touch $@

bench: $(BENCH_VENV)/.installed
	rm -f benchmarks/results/*.json
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(BENCH_VENV)/bin/python $$f; done
	$(BENCH_VENV)/bin/python benchmarks/summarize.py
	cp benchmarks/results/results.md benchmarks/reference/results.md   # shown on the performance page
	@cat benchmarks/results/results.md

clean-cache:
	rm -rf _build/.jupyter_cache _build/.cache_key

clean:
	rm -rf _build benchmarks/results

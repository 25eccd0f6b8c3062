# Noisy Descent: every command sets up its own environment first.
#   make book      .venv + execute every notebook + HTML site in _build/html
#   make test      .venv + unit tests + nbval over every notebook + strict build of the book
#   make student   the site with every solution removed, in _build/student/_build/html
#   make student-notebooks  every notebook without its solutions, executed once, in _build/student_notebooks
#   make site-test the built sites (book + student) opened in headless chromium (part of make test)
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

.PHONY: help venv venv-base lab cache-key mathjax book test test-large unit nbval book-strict student student-check student-notebooks site-test clean clean-cache bench

help:
	@echo "make book     build the site into _build/html (sets up .venv on first use)"
	@echo "make test     unit tests, nbval over every notebook, strict build of the book"
	@echo "make student  the site without solutions, into _build/student/_build/html"
	@echo "make student-notebooks  notebooks without solutions, executed once, into _build/student_notebooks"
	@echo "make site-test          open both built sites in headless chromium (needs make book + student)"
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

# The site shows no progress bars (sgdnoise.progress): a finished bar on a page is clutter.
book book-strict student: export SGDNOISE_PROGRESS := 0

book: $(STAMP) cache-key mathjax
	$(VENV)/bin/jupyter-book build . $(BUILD_FLAGS)
	@echo "site: $(CURDIR)/_build/html/index.html"

student: $(STAMP) cache-key mathjax
	$(PY) tools/book.py student-config _config.yml _build/student_config.yml
	$(VENV)/bin/jupyter-book build . --config _build/student_config.yml --path-output _build/student $(BUILD_FLAGS)
	@echo "student site: $(CURDIR)/_build/student/_build/html/index.html"

# Both builds strict, then: solutions in the full site, none in the student site.
student-check: book-strict
	$(MAKE) --no-print-directory student BUILD_FLAGS="$(STRICT)"
	$(PY) tools/book.py check-student _build/html _build/student/_build/html

unit: $(STAMP)
	$(PY) -m pytest -q -n $(JOBS) tests --ignore=tests/site --doctest-modules lib/sgdnoise

# The built sites in a real browser (headless chromium, off the network); skips with a reason when
# chromium or chromedriver is missing. Screenshots go to _build/screenshots/.
site-test: $(STAMP)
	SITE_TEST_REQUIRED=1 $(PY) -m pytest -q -p no:cacheprovider -rs tests/site

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

book-strict: $(STAMP) cache-key mathjax
	$(VENV)/bin/jupyter-book build . $(STRICT)

# The browser test skips (with its reason) where chromium is missing; the last line repeats the
# reason, and under CI (CI=true, where .ci/run installs chromium) a skip is a broken install: fail.
SITE_TEST_LOG := _build/site-test.log
test: $(STAMP)
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory unit nbval book-strict student-check; \
	mkdir -p _build; $(MAKE) --no-print-directory site-test 2>&1 | tee $(SITE_TEST_LOG); \
	skipped=$$(sed -n 's/.*\(browser test skipped: .*\)/\1/p' $(SITE_TEST_LOG) | head -n 1); \
	if [ -n "$$skipped" ]; then \
	    if [ "$${CI:-}" = "true" ]; then echo "make test: FAILED: under CI the browser test must run ($$skipped)"; exit 1; fi; \
	    echo "make test: all passed in $$(( $$(date +%s) - start )) s, except the browser test: $$skipped"; \
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

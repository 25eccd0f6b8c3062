# Noisy Descent: every command sets up its own environment first.
#   make book      .venv + execute every notebook + HTML site in _build/html
#   make test      .venv + unit tests + nbval over every notebook + strict build of the book
#   make student   the site with every solution removed, in _build/student/_build/html
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

.PHONY: help venv cache-key book test unit nbval book-strict student student-check clean clean-cache bench

help:
	@echo "make book     build the site into _build/html (sets up .venv on first use)"
	@echo "make test     unit tests, nbval over every notebook, strict build of the book"
	@echo "make student  the site without solutions, into _build/student/_build/html"
	@echo "make bench    run every benchmark script"

# The environment is rebuilt only when requirements.txt or pyproject.toml change.
$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==23.2.1 || true
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (Noisy Descent)" >/dev/null
	touch $(STAMP)

venv: $(STAMP)

# jupyter-cache does not see changes in lib/: key the cache on the library's contents.
cache-key: $(STAMP)
	@$(PY) tools/book.py cache-key _build/.jupyter_cache

book: $(STAMP) cache-key
	$(VENV)/bin/jupyter-book build . $(BUILD_FLAGS)
	@echo "site: $(CURDIR)/_build/html/index.html"

student: $(STAMP) cache-key
	$(PY) tools/book.py student-config _config.yml _build/student_config.yml
	$(VENV)/bin/jupyter-book build . --config _build/student_config.yml --path-output _build/student $(BUILD_FLAGS)
	@echo "student site: $(CURDIR)/_build/student/_build/html/index.html"

# Both builds strict, then: solutions in the full site, none in the student site.
student-check: book-strict
	$(MAKE) --no-print-directory student BUILD_FLAGS="$(STRICT)"
	$(PY) tools/book.py check-student _build/html _build/student/_build/html

unit: $(STAMP)
	$(PY) -m pytest -q -n $(JOBS) tests --doctest-modules lib/sgdnoise

nbval: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -n $(JOBS) --dist loadfile --nbval-lax --nbval-cell-timeout=600 $$($(PY) tools/book.py toc-notebooks _toc.yml)

book-strict: $(STAMP) cache-key
	$(VENV)/bin/jupyter-book build . $(STRICT)

test: $(STAMP)
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory unit nbval book-strict student-check; \
	echo "make test: all passed in $$(( $$(date +%s) - start )) s"

bench: $(STAMP)
	@for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f; done

clean-cache:
	rm -rf _build/.jupyter_cache _build/.cache_key

clean:
	rm -rf _build

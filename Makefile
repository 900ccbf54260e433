# The two commands of the README. Both do all set-up from nothing (a venv in .venv, the project and its
# dependencies, Chromium and MathJax for the book, the default data) and are safe to rerun.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: book test retrain setup lock lint system data clean-results

book: setup data           ## execute every notebook (papermill, profile converged) and build the HTML book
	bash scripts/build_book.sh

test: setup data           ## unit tests, data scripts, notebooks (papermill smoke + nbval), book, browser
	bash scripts/run_tests.sh

RETRAIN_DIR ?= results-retrain
retrain: setup data        ## train every run of the book again, from nothing, into $(RETRAIN_DIR) (resumable)
	$(PY) -m ogm_lib book retrain --results-dir $(RETRAIN_DIR) --compare-to results

setup: $(STAMP) system

# The environment is the lock's: every package of `.[dev]` at one version, each file checked by its hash
# (requirements.lock, made by `make lock` from pyproject.toml's ranges); then the project itself, editable, with
# no dependency of its own to resolve and built by the lock's setuptools.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements.lock
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

# Python 3.11, every extra of `dev`, sha256 of every file. uv comes with the dev extra (or `pip install uv`).
UV ?= $(if $(wildcard $(VENV)/bin/uv),$(VENV)/bin/uv,uv)
lock:                      ## regenerate requirements.lock from pyproject.toml (newest versions its ranges allow)
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

lint: $(STAMP)             ## ruff check and ruff format --check (scripts/lint.sh)
	bash scripts/lint.sh

system:                    ## Debian's Chromium for the browser test (needs root, as on CI)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

data:                      ## the Free Spoken Digit Dataset, from ../shared/data/fsdd or its public source
	$(PY) -m ogm_lib fetch avdigits

clean-results:
	rm -rf results

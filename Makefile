# make all     — the whole paper: train every run, measure, draw, write the PDFs
# make test    — the tests (smoke profile; real MNIST, Jinja, LaTeX and PDF)
# PROFILE=smoke|quick|paper overrides the automatic choice (paper on CUDA, else quick).
SHELL   := /bin/bash
PYTHON  ?= $(shell command -v python3.11 || command -v python3)
VENV    := .venv
PY      := $(VENV)/bin/python
REPRO   := $(VENV)/bin/repro
STAMP   := $(VENV)/.installed-from-lock
PROFILE ?= auto
TEX_PACKAGES := texlive-latex-base texlive-latex-recommended texlive-latex-extra \
                texlive-fonts-recommended latexmk poppler-utils

.PHONY: all test train toy evaluate figures paper poster pdf verify readme list clean venv tex
# Every stage writes the same artifacts folder (one writer at a time, see repro's lock):
# `make -j` runs the targets one after another instead of failing on the lock.
.NOTPARALLEL:

all: $(STAMP) tex
	$(REPRO) all --profile $(PROFILE)

test: $(STAMP) tex
	$(PY) -m pytest -q

# The virtual environment, rebuilt only when the lock (or the package metadata) changes.
venv: $(STAMP)
$(STAMP): environment.lock pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r environment.lock
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# TeX: installed from Debian's packages when missing and we are root; otherwise a clear stop.
tex:
	@if ! command -v latexmk >/dev/null || ! command -v pdflatex >/dev/null \
	     || ! command -v pdftotext >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing TeX from Debian packages: $(TEX_PACKAGES)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      $(TEX_PACKAGES) >/dev/null; \
	  else \
	    echo "error: TeX is missing; install: sudo apt-get install $(TEX_PACKAGES)"; exit 1; \
	  fi; \
	fi

train: $(STAMP)
	$(REPRO) train --profile $(PROFILE)

toy: $(STAMP)
	$(REPRO) toy --profile $(PROFILE)

evaluate: $(STAMP)
	$(REPRO) evaluate --profile $(PROFILE)

figures: $(STAMP)
	$(REPRO) figures --profile $(PROFILE)

fig-%: $(STAMP)
	$(REPRO) figure $* --profile $(PROFILE)

paper: $(STAMP) tex
	$(REPRO) pdf paper --profile $(PROFILE)

poster: $(STAMP) tex
	$(REPRO) pdf poster --profile $(PROFILE)

verify: $(STAMP)
	$(REPRO) verify --profile $(PROFILE)

readme: $(STAMP)
	$(REPRO) readme --profile $(if $(filter auto,$(PROFILE)),quick,$(PROFILE))

list: $(STAMP)
	$(REPRO) list --profile $(PROFILE)

clean:
	rm -rf build artifacts/smoke

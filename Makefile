# Everyday commands. A fresh machine needs only Python 3.11 and this repository:
# every target creates .venv and installs the pinned dependencies it needs.
#
#   make demo    demo data and the development server on http://127.0.0.1:8000
#   make test    the whole test suite (PYTEST_ARGS="-k login -x" to narrow it down)
#   make lint    ruff check + ruff format --check
#   make check   Django's system checks, missing migrations, deployment checklist
#   make bench   benchmarks (bench/run.sh)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
# constraints.txt is a `pip freeze` of the whole dev environment: every transitive
# dependency is pinned, whichever extras are installed.
INSTALL := $(PIP) install --quiet --constraint constraints.txt
PYTEST_ARGS ?=

# Stamps: reinstall only when the dependency declarations change.
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev

.PHONY: help venv dev demo test lint check bench

help:
	@grep -E '^#   make ' Makefile | sed 's/^#   //'

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
		|| { echo "Python 3.11 is needed (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(RUNTIME): $(PY) pyproject.toml constraints.txt
	@echo "==> Installing runtime dependencies into $(VENV)"
	$(INSTALL) --editable .
	@touch $@

$(DEV): $(PY) pyproject.toml constraints.txt
	@echo "==> Installing runtime and development dependencies into $(VENV)"
	$(INSTALL) --editable '.[dev]'
	@touch $@ $(RUNTIME)

venv: $(RUNTIME)

dev: $(DEV)

# seed_demo draws fictional names with Faker, which comes with the dev extra.
demo: $(DEV)
	@echo "==> Migrating the database"
	$(PY) manage.py migrate --noinput
	@if command -v msgfmt >/dev/null && [ -d locale ]; then \
		echo "==> Compiling translations"; \
		$(PY) manage.py compilemessages --ignore '.venv' --ignore 'node_modules'; \
	else \
		echo "==> msgfmt (gettext) not found: using the committed .mo files"; \
	fi
	@echo "==> Loading demo data"
	$(PY) manage.py seed_demo
	@# Bytecode written once: with PYTHONDONTWRITEBYTECODE set, each command would
	@# compile the project's modules again (impact_report from the shell: 50 ms).
	$(PY) -m compileall -q crm scouting pipeline reporting >/dev/null
	@echo "==> Starting the development server on http://127.0.0.1:8000"
	$(PY) manage.py runserver 127.0.0.1:8000

test: $(DEV)
	@echo "==> Running the test suite"
	$(VENV)/bin/pytest -n 2 $(PYTEST_ARGS)

lint: $(DEV)
	@echo "==> ruff check"
	$(VENV)/bin/ruff check .
	@echo "==> ruff format --check"
	$(VENV)/bin/ruff format --check .

# Production-like settings for the deployment checklist; the key is thrown away.
PRODUCTION_ENV = DEBUG=0 ALLOWED_HOSTS=crm.example.org \
	SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(64))')"

check: $(RUNTIME)
	@echo "==> manage.py check"
	$(PY) manage.py check
	@echo "==> makemigrations --check --dry-run"
	$(PY) manage.py makemigrations --check --dry-run
	@echo "==> check --deploy with production settings"
	$(PRODUCTION_ENV) $(PY) manage.py check --deploy --fail-level WARNING

bench: $(DEV)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash bench/run.sh

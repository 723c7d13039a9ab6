# Keel quick start:  `make run` opens the desktop, `make test` runs the tests.
# Both first install any missing Debian packages (packaging/system-deps.sh),
# create .venv and install the project into it when pyproject.toml changed.

PYTHON ?= python3
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: run test bench clean system-deps

run: system-deps $(STAMP)
	$(VENV)/bin/keel demo --if-missing
	$(VENV)/bin/keel gui --demo

test: system-deps $(STAMP)
	QT_QPA_PLATFORM=offscreen $(VENV_PYTHON) -m pytest $(PYTEST_ARGS)

bench: system-deps $(STAMP)
	@set -e; found=; \
	for script in benchmarks/*.py; do \
		[ -e "$$script" ] || continue; found=1; \
		echo "== $$script"; \
		QT_QPA_PLATFORM=offscreen $(VENV_PYTHON) "$$script"; \
	done; \
	[ -n "$$found" ] || echo "no benchmarks/*.py yet"

system-deps:
	@bash packaging/system-deps.sh

# Order-only prerequisites keep the sequence (Debian packages, venv, install)
# right under `make -j` as well.
$(VENV_PYTHON): | system-deps
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }

$(STAMP): pyproject.toml | $(VENV_PYTHON)
	$(VENV_PYTHON) -m pip install -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) build dist .pytest_cache .hypothesis *.egg-info
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +

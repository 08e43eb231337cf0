# The two commands: `make run` starts the whole system, `make test` checks it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test lint fmt clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Re-install only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(PY) manage.py run

# The independent OCPP peer (tests/peer, npm's ocpp-rpc) runs when Node.js is installed.
NPM := $(shell command -v npm 2>/dev/null)
PEER := $(if $(NPM),tests/peer/node_modules/.package-lock.json,)

tests/peer/node_modules/.package-lock.json: tests/peer/package-lock.json
	npm ci --prefix tests/peer --no-audit --no-fund --loglevel=error

# The independent OCPI peer (tests/ocpi/peer, PyPI's extrawest-ocpi) gets its own environment: its
# pins (FastAPI 0.101, pydantic 1) must not meet ChargeNet's.
OCPI_PEER := tests/ocpi/peer/.venv/.installed

$(OCPI_PEER): tests/ocpi/peer/requirements.txt
	$(PYTHON) -m venv tests/ocpi/peer/.venv
	tests/ocpi/peer/.venv/bin/pip install --quiet -r tests/ocpi/peer/requirements.txt
	touch $@

test: $(VENV)/.installed-dev $(PEER) $(OCPI_PEER)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	CHARGENET_DATA_DIR=$${CHARGENET_DATA_DIR:-$(CURDIR)/var/test} $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

fmt: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var

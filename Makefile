# Two commands for a newcomer: `make run` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SANDBOX := --settings=sandbox.settings
ENGINE_URL ?= http://127.0.0.1:8000
SANDBOX_URL ?= http://127.0.0.1:8001

.PHONY: install run sandbox test test-sandbox test-engine test-e2e screenshots lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The whole thing on embedded defaults: engine on :8000, Celery worker and beat, sandbox on :8001.
# config/devrun.py seeds the sandbox, starts the Procfile and prints the logins once all is up;
# Ctrl-C stops everything and ends cleanly.
# Development by choice: the settings are production ones unless DEBUG is set (README,
# "Production"); DEBUG=1 also opens sign-up and derives the token key from SECRET_KEY.
run: export DEBUG ?= 1
run: export SIGNUP_OPEN ?= 1
run: $(STAMP)
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py migrate --no-input $(SANDBOX)
	$(BIN)/python -m config.devrun --engine-url $(ENGINE_URL) --sandbox-url $(SANDBOX_URL)

# The sandbox alone, in the foreground: its server and its delivery worker, seeded.
sandbox: $(STAMP)
	$(BIN)/python manage.py migrate --no-input $(SANDBOX)
	$(BIN)/python manage.py sandbox_seed $(SANDBOX) --redirect-uri $(ENGINE_URL)/connections/cartly/callback/
	$(BIN)/python manage.py sandbox_serve 127.0.0.1:8001 $(SANDBOX)

test: test-sandbox test-engine

test-sandbox: $(STAMP)
	$(BIN)/pytest sandbox/tests --ds=sandbox.settings -p no:cacheprovider

# Includes the browser tests (tests/e2e), which skip themselves where /usr/bin/chromium is missing.
# Tests run on production settings; tests/environment.py sets the keys they need first.
test-engine: $(STAMP)
	$(BIN)/pytest tests

# The browser tests alone: Playwright driving Debian's Chromium (apt-get install chromium).
test-e2e: $(STAMP)
	$(BIN)/pytest tests/e2e

# Refresh the README's pictures (docs/screenshots/) from the browser tests.
screenshots: $(STAMP)
	UPDATE_SCREENSHOTS=1 $(BIN)/pytest tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run --skip-checks
	$(BIN)/python manage.py makemigrations --check --dry-run --skip-checks $(SANDBOX)

# Every figure of issue 11's Goal in one sitting, then n8n's run.sh if n8n is installed
# (N8N=install lets run.sh install it, ~11 min; N8N=skip leaves it out). bench/README.md; not tests.
N8N ?= auto
bench: $(STAMP)
	$(BIN)/python -m bench.suite --n8n $(N8N) $(BENCH_ARGS)

clean:
	rm -rf var/*.sqlite3* var/celery var/run.env var/sandbox-seed.json var/*-login.json

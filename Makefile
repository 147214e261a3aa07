# Two commands for a newcomer: `make run` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SANDBOX := --settings=sandbox.settings
ENGINE_URL ?= http://127.0.0.1:8000

.PHONY: install run sandbox test test-sandbox test-engine test-e2e screenshots lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The whole thing on embedded defaults: engine on :8000, Celery worker and beat, sandbox on :8001.
run: $(STAMP)
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py migrate --no-input $(SANDBOX)
	$(BIN)/python manage.py sandbox_seed $(SANDBOX) --redirect-uri $(ENGINE_URL)/connections/cartly/callback/ --env-file var/run.env
	-$(BIN)/python manage.py demo_user
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/honcho --env var/run.env --procfile Procfile start

# The sandbox alone, in the foreground: its server and its delivery worker, seeded.
sandbox: $(STAMP)
	$(BIN)/python manage.py migrate --no-input $(SANDBOX)
	$(BIN)/python manage.py sandbox_seed $(SANDBOX) --redirect-uri $(ENGINE_URL)/connections/cartly/callback/
	$(BIN)/python manage.py sandbox_serve 127.0.0.1:8001 $(SANDBOX)

test: test-sandbox test-engine

test-sandbox: $(STAMP)
	$(BIN)/pytest sandbox/tests --ds=sandbox.settings -p no:cacheprovider

# Includes the browser tests (tests/e2e), which skip themselves where /usr/bin/chromium is missing.
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

# Every figure of issue 11's Goal in one sitting, then n8n's run.sh if n8n is installed
# (N8N=install lets run.sh install it, ~11 min; N8N=skip leaves it out). bench/README.md; not tests.
N8N ?= auto
bench: $(STAMP)
	$(BIN)/python -m bench.suite --n8n $(N8N) $(BENCH_ARGS)

clean:
	rm -rf var/*.sqlite3* var/celery var/run.env var/sandbox-seed.json

# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
OUT    := out
DB     := $(OUT)/sample.duckdb
SAMPLE := data/sample

.PHONY: run test venv browser bench lock clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# The main job on the real sample shipped in the repo.
run: venv
	@mkdir -p $(OUT)
	@rm -f $(DB) $(DB).wal
	$(BIN)/trollscope ingest $(SAMPLE)/ira_sample.csv.gz $(SAMPLE)/twitter15 --db $(DB)
	$(BIN)/trollscope ingest $(SAMPLE)/gopdebate_sample.csv --db $(DB) \
		--map handle=name,time=tweet_created,text=text
	$(BIN)/trollscope info --db $(DB) --top 5
	$(BIN)/trollscope detect --db $(DB) --top 5
	$(BIN)/trollscope campaign C1 --db $(DB) --evidence 10
	$(BIN)/trollscope narratives --db $(DB) --top 5 --examples 1
	$(BIN)/trollscope report --db $(DB) -o $(OUT)/report.html
	@echo "store written to $(DB); try: $(BIN)/trollscope campaigns --db $(DB) or $(BIN)/trollscope serve --db $(DB)"
	@echo "report: $(abspath $(OUT)/report.html)"

# The browser tests drive Debian's Chromium; install it when missing (needs root or sudo, as on CI).
browser:
	@command -v chromium >/dev/null || { SUDO=$$(command -v sudo || true); \
		{ $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; } \
		|| echo "warning: could not install chromium; the browser tests will be skipped" >&2; }

# One worker per core, each test file on one worker (its module fixtures, e.g. a Spark session, set up once).
test: venv browser
	$(BIN)/python -m pytest -q -n auto --dist loadfile

bench: venv
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/quality.py

# Re-pin the dependencies (needs the registry); commit requirements.lock afterwards.
lock:
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache

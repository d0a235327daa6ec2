# The whole set-up on a fresh machine is two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := workspace/demo
DEMO_DATA := workspace/demo-org

.PHONY: demo test lint typecheck unit clean vendor

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,spark]'
	@command -v java >/dev/null || (apt-get update -qq && apt-get install -y -qq default-jre-headless)
	@# the console's tests: a real PostgreSQL server and Debian's Chromium for Playwright
	@(ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && test -x /usr/lib/chromium/chromium) \
		|| (apt-get update -qq && apt-get install -y -qq postgresql chromium chromium-driver)
	touch $@

## demo: simulate an organisation with labelled insiders, ingest it, detect, evaluate
demo: $(VENV)/.installed
	@test -f $(DEMO_DATA)/.complete || ($(BIN)/molehunt simulate --out $(DEMO_DATA) \
		--users 300 --days 180 --seed 7 && touch $(DEMO_DATA)/.complete)
	@test -f $(DEMO)/molehunt.toml || (mkdir -p $(DEMO) && $(BIN)/python -c \
		"import json; c = json.load(open('$(DEMO_DATA)/company.json'));\
		print('competitors = ' + json.dumps(c['competitors']))" > $(DEMO)/molehunt.toml)
	$(BIN)/molehunt --workspace $(DEMO) ingest cert $(DEMO_DATA)
	$(BIN)/molehunt --workspace $(DEMO) status
	@# the simulated crown jewels become the protected corpus; outbound texts are matched
	@# against it (low-and-slow leaks of excerpts) and inbound ones checked for foreign markings
	$(BIN)/molehunt --workspace $(DEMO) protect import --min-sensitivity 1
	$(BIN)/molehunt --workspace $(DEMO) protect scan --from 2000-01-01 --to 2099-12-31
	$(BIN)/molehunt --workspace $(DEMO) run
	$(BIN)/molehunt --workspace $(DEMO) evaluate --truth $(DEMO_DATA) \
		--json $(DEMO)/evaluation.json --html $(DEMO)/evaluation.html
	@echo "report: $(abspath $(DEMO))/evaluation.html"
	$(BIN)/molehunt --workspace $(DEMO) serve --new-admin-password

## test: install what the tests need, lint, type-check and run the whole suite
test: $(VENV)/.installed-test lint typecheck unit

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

unit: $(VENV)/.installed-test
	@# two workers; each shared simulated organisation is built once, both at the start (tests/conftest.py)
	$(BIN)/python -m pytest -q -n 2

clean:
	rm -rf $(VENV) workspace

## vendor: refresh the console's vendored JavaScript/CSS from the npm registry (build time only)
vendor:
	cd $$(mktemp -d) && npm pack uplot@1.6.32 >/dev/null && tar xzf uplot-1.6.32.tgz && \
		cp package/dist/uPlot.iife.min.js $(CURDIR)/src/molehunt/web/static/vendor/uplot.min.js && \
		cp package/dist/uPlot.min.css $(CURDIR)/src/molehunt/web/static/vendor/uplot.min.css && \
		cp package/LICENSE $(CURDIR)/src/molehunt/web/static/vendor/uplot.LICENSE
	cd $$(mktemp -d) && npm pack swagger-ui-dist@5.35.0 >/dev/null && \
		tar xzf swagger-ui-dist-5.35.0.tgz && \
		cp package/swagger-ui-bundle.js package/swagger-ui.css \
			package/swagger-ui-bundle.js.LICENSE.txt $(CURDIR)/src/molehunt/web/static/vendor/ && \
		cp package/LICENSE $(CURDIR)/src/molehunt/web/static/vendor/swagger-ui.LICENSE && \
		cp package/NOTICE $(CURDIR)/src/molehunt/web/static/vendor/swagger-ui.NOTICE

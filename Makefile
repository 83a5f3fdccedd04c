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
test: install $(CHROMIUM)
	$(BIN)/python -m pytest

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

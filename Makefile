# Two commands do all the set-up on a fresh Debian/Ubuntu machine:
#   make run   - venv, requirements, data, then `streamlit run streamlit_app.py`
#   make test  - the same plus dev tools, Chromium and nginx, then ruff and the whole test suite
#   make replicas K=2 - K servers behind nginx on $(PORT) (see README, "several replicas")
# Both are idempotent: a second run only checks stamps and starts.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
PORT   ?= 8501
K      ?= 2
# nginx's address for `make replicas`: 127.0.0.1 is this machine only, 0.0.0.0 a classroom.
ADDRESS ?= 127.0.0.1
# apt needs root; use sudo when it is there and we are not root.
SUDO   := $(shell [ "$$(id -u)" -ne 0 ] && command -v sudo)

.PHONY: run test setup setup-dev data chromium nginx replicas lint bench screenshots clean

run: setup data
	$(VENV)/bin/streamlit run streamlit_app.py --server.port $(PORT)

test: setup-dev data chromium nginx lint
	$(PY) -m pytest

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

setup: $(VENV)/.installed

setup-dev: $(VENV)/.installed-dev

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(PIP) install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PIP) install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

# The dataset: found by fmnist_lib in $FMNIST_DATA, ./data or Debian's folder;
# if it is nowhere, install Debian's package when apt can be used. Then load it (one
# process, one torch import), which checks the files and writes the tensor cache the app
# starts from, and train the app's default model once (2 s) into data/models, which every
# server start then loads. Exit 1 (the model could not be saved) is only a warning.
data: setup
	@if $(PY) -c "import sys, fmnist_lib.data as d; sys.exit(d.locate() is None)"; then \
		echo "Fashion-MNIST: found."; \
	elif command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; }; then \
		echo "Fashion-MNIST: installing Debian's dataset-fashion-mnist"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; \
	else \
		echo "Fashion-MNIST not found and apt cannot be used: the app will try torchvision's download."; \
		echo "See README, 'Getting the data without apt'."; \
	fi
	@$(PY) -m fmnist_lib default-model; rc=$$?; [ $$rc -le 1 ] || exit $$rc

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
chromium:
	@if command -v chromium >/dev/null 2>&1; then echo "Chromium: found."; \
	elif command -v apt-get >/dev/null 2>&1; then \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "Chromium not found: the browser tests will be skipped."; fi

# Debian's nginx for `make replicas` and the replica tests. deploy/run_replicas.py runs its own
# copy in the foreground with a generated config; the system's nginx service is not used.
nginx:
	@if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then echo "nginx: found."; \
	elif command -v apt-get >/dev/null 2>&1; then \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; \
	else echo "nginx not found: the replica tests will be skipped."; fi

# K replicas on 127.0.0.1:$(PORT)+1.. behind nginx on $(ADDRESS):$(PORT); Ctrl-C stops them all.
replicas: setup data nginx
	$(PY) -m deploy.run_replicas --replicas $(K) --port $(PORT) --address $(ADDRESS)

bench: setup-dev data
	$(PY) -m bench.bench_training

# The README's screenshots in docs/screenshots/ (desktop and phone): tools/screenshots.py is their only writer.
screenshots: setup-dev data chromium
	$(PY) -m tools.screenshots

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache artifacts

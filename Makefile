# Geldern first-contact assistant.  `make run` and `make test` work on a fresh machine:
# they install what is missing, import the knowledge base, build the spaCy pipeline and
# train the model when it is out of date, then start or test.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
ASSISTANT := $(VENV)/bin/assistant
# Python 3.10 from pyenv (whatever its global version is), else python3.10 on PATH.
PYTHON310 ?= $(shell for p in $$(ls -d $$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)/versions/3.10.*/bin/python 2>/dev/null | sort -V | tail -n 1) $$(command -v python3.10 2>/dev/null); do \
  $$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && echo $$p && break; done)
# command:Debian package, installed when the command is missing.
SYSTEM_TOOLS := chromium:chromium espeak-ng:espeak-ng sox:sox pdftotext:poppler-utils npm:npm sipp:sip-tester
export TF_CPP_MIN_LOG_LEVEL := 2
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install system-packages prepare run test test-fast eval bench lint clean lock

install: system-packages $(VENV)/.installed web/node_modules/.installed

system-packages:
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(VENV)/.installed: requirements.lock pyproject.toml
	@test -n "$(PYTHON310)" || { echo "error: Python 3.10 not found (Rasa 3.6 needs it): install it with 'pyenv install 3.10' or set PYTHON310=/path/to/python3.10"; exit 1; }
	@test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip==24.0
	$(PY) -m pip install --progress-bar on -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

web/node_modules/.installed: web/package.json web/package-lock.json
	npm ci --prefix web --no-audit --no-fund
	@touch $@

prepare: install
	$(ASSISTANT) prepare

run: prepare
	@$(ASSISTANT) models download --if-missing || \
	  echo "Voice stays off until a Vosk model is there: see README, section Voice."
	$(ASSISTANT) run --no-prepare

# Extra pytest arguments, e.g. make test PYTEST_ARGS="-k voice" (.ci/run adds a JUnit report).
PYTEST_ARGS ?=
# Leaves out what needs the trained model, speech, a browser or running processes.
FAST_MARKERS := not e2e and not integration and not model and not stack and not speech

test: prepare
	$(PY) -m pytest -q -p no:cacheprovider --durations=25 $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -q -p no:cacheprovider -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

eval: prepare
	$(ASSISTANT) eval

bench: prepare
	$(PY) -m benchmarks.run

# Style and the import contracts of .importlinter (layers, no cycles; docs/architecture.md).
lint: install
	$(VENV)/bin/ruff check servicecenter bot speech tests benchmarks
	$(VENV)/bin/lint-imports

# Re-pin every dependency from the current virtualenv (after a deliberate upgrade).
lock:
	$(PY) -m pip freeze --exclude-editable | grep -v "^-e" > requirements.lock

clean:
	rm -rf var/ reports/ models/rasa bot/data/nlu/generated_knowledge.yml

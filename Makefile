# Shegong Hub: `make run` brings up a demo county hub, `make province` a demo province of seven
# hubs, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HUB    := $(BIN)/hub
STAMP  := $(VENV)/.installed
DEMO_DATA ?= 1
export COUNTY_CONFIG

# The locked dependencies (every package, direct or not, at one version, with its hashes):
# requirements/build.txt (pip, setuptools), runtime.txt (the hub's), test.txt (the hub's and the
# test extras'), written by `make lock` from pyproject.toml's pins and requirements/*.in.
REQS      := requirements
LOCKS     := $(REQS)/build.txt $(REQS)/runtime.txt $(REQS)/test.txt
LOCK_TOOL := $(VENV)/.lock-tool
UV        := $(LOCK_TOOL)/bin/uv
# `make lock` keeps the versions already locked unless pyproject.toml's pins move them;
# `make lock UPGRADE=1` takes the newest the pins allow
COMPILE    = $(UV) pip compile --quiet --generate-hashes --universal --python-version 3.11 \
             --custom-compile-command 'make lock' $(if $(filter 1,$(UPGRADE)),--upgrade,)

.PHONY: run province test stop status reset services install lock perf chaos replay messages \
        screenshots

# the locked packages only (--require-hashes), then the hub itself, editable, without dependencies
$(STAMP): pyproject.toml $(LOCKS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r $(REQS)/build.txt
	$(BIN)/pip install --quiet --require-hashes -r $(REQS)/test.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)

# the lock tool (uv), itself locked, in a virtualenv of its own
$(UV): $(REQS)/lock-tool.txt
	@test -x $(LOCK_TOOL)/bin/python || $(PYTHON) -m venv $(LOCK_TOOL)
	$(LOCK_TOOL)/bin/pip install --quiet --require-hashes -r $(REQS)/lock-tool.txt
	@touch $(UV)

# regenerate the lock files after changing a pin in pyproject.toml (needs PyPI)
lock: $(UV)
	$(COMPILE) $(REQS)/lock-tool.in -o $(REQS)/lock-tool.txt
	$(COMPILE) $(REQS)/build.in -o $(REQS)/build.txt
	$(COMPILE) pyproject.toml -o $(REQS)/runtime.txt
	$(COMPILE) pyproject.toml --extra test -c $(REQS)/runtime.txt -o $(REQS)/test.txt

services:
	@scripts/ensure-services.sh

# the messages marked with _() in the code -> services/hub/locale/messages.pot, merged into the
# Chinese catalogue (translate its new entries; tests/unit/test_i18n.py fails on an empty one)
LOCALE := services/hub/locale
messages: install
	$(BIN)/pybabel extract --mapping-file babel.cfg --keywords _ --no-default-keywords \
	    --no-location --sort-output --omit-header --output-file $(LOCALE)/messages.pot services
	$(BIN)/pybabel update --input-file $(LOCALE)/messages.pot --output-dir $(LOCALE) \
	    --locale zh_CN --no-fuzzy-matching --ignore-obsolete

run: install services
	@$(HUB) secrets
	@$(HUB) setup
	@$(HUB) start
	@if [ "$(DEMO_DATA)" != "0" ]; then $(HUB) demo; fi
	@$(HUB) welcome
	@$(HUB) user first-admin

# a province on this machine: its aggregator, two prefectures' and four county hubs (var/province/),
# linked county -> prefecture -> province, with a year of demo work in each county
province: install services
	@$(HUB) province-demo start

stop: install
	@$(HUB) stop
	@$(HUB) province-demo stop

status: install
	@$(HUB) status

reset: install services
	@$(HUB) stop
	@$(HUB) reset $(if $(filter 1,$(FORCE)),--force,)

test: install services
	@scripts/ensure-test-tools.sh
	$(BIN)/python -m pytest tests/unit tests/integration tests/deploy tests/browser tests/chaos -q

# the long kill-and-count run (tests/chaos): three rounds of every fault under a mixed load
chaos: install services
	@scripts/ensure-test-tools.sh
	$(BIN)/python tests/chaos/kill_and_count.py --profile long

# the seed's prefecture replayed (tests/long): a year of 玉溪市's work through two county hubs'
# interfaces, 369,320 volunteers among it, gives back the seed's sentences in the city's report
# (8-11 minutes on a shared 2-core VM; REPLAY_VOLUNTEERS=N for a quicker run of the same)
replay: install services
	$(BIN)/python -m pytest tests/long -q -s

perf: install services
	@scripts/ensure-test-tools.sh perf
	$(BIN)/python -m pytest tests/perf -q -s
	$(BIN)/python tests/perf/bench_visits.py
	$(BIN)/python tests/perf/bench_stats.py

# pictures of the console (docs/console/): a private hub with demo-like data, every page of a
# worker's and an admin's menu on a phone (360×740) and a desktop (1280×800) window
screenshots: install services
	@scripts/ensure-test-tools.sh
	$(BIN)/python tests/browser/screenshots.py

# Shegong Hub: `make run` brings up a demo county hub, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HUB    := $(BIN)/hub
STAMP  := $(VENV)/.installed
DEMO_DATA ?= 1
export COUNTY_CONFIG

.PHONY: run test stop status reset services install perf chaos

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

services:
	@scripts/ensure-services.sh

run: install services
	@$(HUB) secrets
	@$(HUB) setup
	@$(HUB) start
	@if [ "$(DEMO_DATA)" != "0" ]; then $(HUB) demo; fi
	@$(HUB) welcome

stop: install
	@$(HUB) stop

status: install
	@$(HUB) status

reset: install services
	@$(HUB) stop
	@$(HUB) reset $(if $(filter 1,$(FORCE)),--force,)

test: install services
	@scripts/ensure-test-tools.sh
	$(BIN)/python -m pytest tests/unit tests/integration tests/deploy tests/chaos -q

# the long kill-and-count run (tests/chaos): three rounds of every fault under a mixed load
chaos: install services
	@scripts/ensure-test-tools.sh
	$(BIN)/python tests/chaos/kill_and_count.py --profile long

perf: install services
	@scripts/ensure-test-tools.sh perf
	$(BIN)/python -m pytest tests/perf -q -s
	$(BIN)/python tests/perf/bench_visits.py
	$(BIN)/python tests/perf/bench_stats.py

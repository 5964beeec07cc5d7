# `make` lists the targets. `make run` and `make test` work on a fresh machine: they create
# .venv, install the pinned requirements and use (or start) Postgres and Redis.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
WITH_SERVICES := $(PY) scripts/devservices.py --
PORT ?= 8000
# `make run` serves one address, PORT: HAProxy sends /ws/ to daphne and the rest to gunicorn,
# which listen on the next two ports (Procfile.dev, docs/deploy.md "Serving").
export PDM_PROXY_PORT := $(PORT)
export PDM_WEB_PORT := $(shell expr $(PORT) + 1)
export PDM_WS_PORT := $(shell expr $(PORT) + 2)
# Links in emails and invitations are built from the site address (pdm_saas/settings.py): the port
# `make run` serves on, for every process (honcho gives each process a PORT of its own).
export PDM_SITE_URL ?= http://$(or $(PDM_BASE_DOMAIN),localhost):$(PORT)
# DEBUG is off unless switched on (pdm_saas/settings.py): every target here is development.
export DJANGO_DEBUG ?= true

.DEFAULT_GOAL := help
.PHONY: help install run migrate demo test screenshots lint bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	sh scripts/install_debian_tools.sh
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the pinned requirements

run: $(STAMP) ## migrate, seed the demo tenant, serve web + live + proxy + workers + beat (Ctrl-C stops all)
	mkdir -p .data
	$(WITH_SERVICES) sh -c '$(PY) manage.py platform_migrate -v0 && \
	  $(PY) manage.py demo_seed && $(PY) manage.py vapid_keys --dev && \
	  PATH=$(CURDIR)/$(VENV)/bin:$$PATH PORT=$(PORT) $(VENV)/bin/honcho start -f Procfile.dev'

migrate: $(STAMP) ## migrate the public schema, the tenant template and every tenant
	$(WITH_SERVICES) $(PY) manage.py platform_migrate

test: $(STAMP) ## run the whole test suite, then its calendar-dependent tests under shifted clocks
	$(WITH_SERVICES) $(PY) -m pytest $(PYTEST_ARGS)
	PY=$(PY) $(WITH_SERVICES) sh scripts/shifted_clock_tests.sh $(PYTEST_ARGS)

screenshots: $(STAMP) ## refresh docs/screenshots/ by running the browser suite
	PDM_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(WITH_SERVICES) $(PY) -m pytest tests/web/test_browser_flow.py tests/web/test_browser_insights.py tests/web/test_browser_model_explanations.py \
	  tests/web/test_browser_alarm_history.py tests/web/test_browser_checklists.py tests/web/test_browser_parts.py \
	  tests/web/test_browser_photos.py tests/web/test_browser_pm_plans.py tests/web/test_browser_push.py \
	  tests/web/test_browser_config_transfer.py tests/web/test_browser_offline.py -q

lint: $(STAMP) ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .

bench: $(STAMP) ## run the benchmarks in benchmarks/, each beside its baseline
	$(WITH_SERVICES) $(PY) benchmarks/tenant_provision.py $(PROVISION_ARGS)
	$(WITH_SERVICES) $(PY) benchmarks/ingest.py $(INGEST_ARGS)
	$(WITH_SERVICES) $(PY) benchmarks/engine.py $(ENGINE_ARGS)
	$(WITH_SERVICES) $(PY) benchmarks/quota.py $(QUOTA_ARGS)
	$(WITH_SERVICES) $(PY) benchmarks/recovery.py $(RECOVERY_ARGS)
	$(PY) benchmarks/synthesis.py $(SYNTHESIS_ARGS)
	$(PY) benchmarks/drift.py $(DRIFT_ARGS)
	$(PY) benchmarks/model_quality.py $(QUALITY_ARGS)
	$(PY) benchmarks/optimizer.py
	$(PY) benchmarks/false_alarms.py $(FALSE_ALARMS_ARGS)
	$(PY) benchmarks/baseline_spread.py
	$(WITH_SERVICES) $(PY) benchmarks/real_data.py $(REAL_DATA_ARGS)
	$(WITH_SERVICES) $(PY) benchmarks/search_workers.py $(SEARCH_WORKERS_ARGS)

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) .data staticfiles

# Warmline developer commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON        ?= python3.11
CACHE_DIR     ?= $(HOME)/.cache/warmline
LOCK          := requirements.lock
# Each image's own lock (requirements-<image>.lock), derived from LOCK by tools/runtime_lock.py.
IMAGES        = $(shell $(PYTHON) tools/runtime_lock.py --images)
LOCK_HASH     := $(shell sha256sum $(LOCK) | cut -c1-16)
VENV          ?= $(CACHE_DIR)/venv-$(LOCK_HASH)
PY            := $(VENV)/bin/python
KAFKA_VERSION ?= 4.1.1
BUF_VERSION   ?= v1.75.0
BUF           := $(CACHE_DIR)/bin/buf
HELM_VERSION  ?= v3.19.0
HELM          := $(CACHE_DIR)/bin/helm
# The prometheus module's v0.3XX.Y is Prometheus 3.XX.Y (docker-compose.yml runs the same release).
PROMTOOL_VERSION ?= v0.316.0
PROMTOOL      := $(CACHE_DIR)/bin/promtool
BENCH_OUT     ?= bench/results
PROTOS        := $(wildcard protos/warmline/v1/*.proto)
export WARMLINE_KAFKA_VERSION := $(KAFKA_VERSION)
export PATH := $(VENV)/bin:$(PATH)
# Always the code of this checkout, whichever clone last installed into the shared venv.
export PYTHONPATH := $(CURDIR)/services

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The path carries the lock's hash, so the environment is rebuilt exactly when
# the lock's content changes (not its mtime, which every clone resets).
$(VENV)/.ready:
	@echo "creating environment $(VENV) (first run downloads torch; later runs reuse it)"
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r $(LOCK)
	$(PY) -m pip check
	touch $@

.PHONY: venv
venv: $(VENV)/.ready ## Create or reuse the cached environment and install Warmline into it
	@test -x $(VENV)/bin/warmline \
	  && $(PY) -c "import warmline, sys; sys.exit(0 if warmline.__file__.startswith('$(CURDIR)/') else 1)" 2>/dev/null \
	  || $(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@echo "the warmline command: $(VENV)/bin/warmline (or source $(VENV)/bin/activate)" >&2

.PHONY: proto
proto: venv ## Generate messages, gRPC stubs and typed stubs from protos/
	rm -f services/warmline/v1/*_pb2*.py services/warmline/v1/*_pb2*.pyi
	$(PY) -m grpc_tools.protoc -I protos \
	  --python_out=services --grpc_python_out=services \
	  --mypy_out=services --mypy_grpc_out=services $(PROTOS)

.PHONY: proto-check
proto-check: proto ## Fail when the committed generated code is stale
	git diff --exit-code -- services/warmline/v1
	@test -z "$$(git status --porcelain -- services/warmline/v1)" || { git status --porcelain -- services/warmline/v1; exit 1; }

$(BUF):
	GOBIN=$(CACHE_DIR)/bin go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)

.PHONY: buf-lint
buf-lint: $(BUF) ## Lint the protos with buf, and check for breaking changes against main
	cd protos && $(BUF) lint
	@if git rev-parse --verify -q main >/dev/null && git ls-tree -d main protos >/dev/null 2>&1 && [ -n "$$(git ls-tree main protos)" ]; then \
	  cd protos && $(BUF) breaking --against "$(CURDIR)/.git#branch=main,subdir=protos"; \
	else echo "buf breaking: no protos on main yet"; fi

$(HELM):
	GOBIN=$(CACHE_DIR)/bin go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

$(PROMTOOL):
	GOBIN=$(CACHE_DIR)/bin go install github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL_VERSION)

.PHONY: rules-check
rules-check: $(PROMTOOL) ## Check the Prometheus config and alert rules and run the rules' unit tests (promtool)
	$(PROMTOOL) check config deploy/prometheus/prometheus.yml
	$(PROMTOOL) check rules deploy/prometheus/rules/warmline.rules.yml
	$(PROMTOOL) test rules deploy/prometheus/tests/*.yml

.PHONY: chart
chart: venv $(HELM) ## Render the Helm chart (defaults and all features) and validate it against Kubernetes and CRD schemas
	$(HELM) lint charts/warmline
	$(HELM) lint charts/warmline --values charts/warmline/ci/all-features-values.yaml
	WARMLINE_HELM=$(HELM) $(PY) -m pytest -q tests/unit/test_chart.py tests/unit/test_deploy_config.py

# Helm reads no file outside the chart: it carries copies of deploy/'s alert rules
# and dashboards, which test_chart.py compares with deploy/ (the source of truth).
.PHONY: chart-files
chart-files: ## Copy deploy/'s alert rules and Grafana dashboards into the chart (charts/warmline/files/)
	rm -rf charts/warmline/files/prometheus charts/warmline/files/dashboards
	mkdir -p charts/warmline/files/prometheus charts/warmline/files/dashboards
	cp deploy/prometheus/rules/*.rules.yml charts/warmline/files/prometheus/
	cp deploy/grafana/dashboards/*.json charts/warmline/files/dashboards/

# The CRDs' schemas (Prometheus Operator, KEDA) from cloudcoil's model packages on
# PyPI, installed in a throwaway environment; the tests read the exported JSON.
CRD_MODELS := cloudcoil==0.6.0 cloudcoil-models-prometheus-operator==0.80.1.0 cloudcoil-models-keda==2.16.1.0
.PHONY: chart-crd-schemas
chart-crd-schemas: ## Re-export the CRD schemas the chart tests validate against (tests/fixtures/crd_schemas/)
	rm -rf $(CACHE_DIR)/crd-models
	$(PYTHON) -m venv $(CACHE_DIR)/crd-models
	$(CACHE_DIR)/crd-models/bin/pip install -q $(CRD_MODELS)
	$(CACHE_DIR)/crd-models/bin/python tests/fixtures/crd_schemas/export.py tests/fixtures/crd_schemas

.PHONY: lint
lint: venv ## ruff and mypy (strict) on the package, buf lint, stale generated code
	$(PY) -m ruff check services tests bench tools
	$(PY) -m ruff format --check services tests bench tools
	$(PY) -m mypy
	$(MAKE) --no-print-directory proto-check buf-lint

.PHONY: fmt
fmt: venv ## Format the code with ruff
	$(PY) -m ruff format services tests bench tools
	$(PY) -m ruff check --fix services tests bench tools

CHROMIUM ?= /usr/bin/chromium
export WARMLINE_CHROMIUM := $(CHROMIUM)

.PHONY: browser
browser: ## Install Debian's chromium for the browser test when it is missing (root or sudo)
	@test -x $(CHROMIUM) || { \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); export DEBIAN_FRONTEND=noninteractive; \
	  $$sudo apt-get install -y chromium \
	  || { $$sudo apt-get update && $$sudo apt-get install -y chromium; }; }

.PHONY: test
test: venv $(HELM) $(PROMTOOL) browser ## Run the whole suite against a real Kafka broker (KAFKA_VERSION=3.9.1 or 4.1.1)
	WARMLINE_HELM=$(HELM) WARMLINE_PROMTOOL=$(PROMTOOL) $(PY) -m pytest -q

.PHONY: test-integration
test-integration: venv browser ## Integration and end-to-end tests only (e.g. KAFKA_VERSION=3.9.1)
	$(PY) -m pytest -q tests/integration tests/e2e

.PHONY: test-two-workers
test-two-workers: venv ## The two-worker decisioning test 20 times in a row (#15: no flake allowed)
	TWO_WORKER_RUNS=20 $(PY) -m pytest -q --timeout 180 --timeout-method=thread \
	  tests/integration/decisioning/test_decisioning_workers.py -k split_the_partitions

.PHONY: test-unit
test-unit: venv ## Unit tests only (no broker)
	$(PY) -m pytest -q tests/unit

.PHONY: kafka
kafka: venv ## Run a local single-node Kafka (KRaft) on localhost:9092 until Ctrl-C
	$(PY) -m warmline.localkafka --version $(KAFKA_VERSION) --port 9092

.PHONY: postgres
postgres: venv ## Run a local PostgreSQL 16 (pgserver's binaries, password auth) on localhost:5432 until Ctrl-C
	$(PY) -m warmline.localpostgres --port 5432

.PHONY: demo
demo: venv ## The main job: local broker, all services, sample conversations, live console
	$(PY) -m warmline demo

.PHONY: bench
bench: venv ## Run the benchmarks; JSON results in $(BENCH_OUT)/
	mkdir -p $(BENCH_OUT)
	$(PY) -m warmline bench all --out-dir $(BENCH_OUT)

.PHONY: fuzz
fuzz: venv ## Fuzz every reader of outside input with 5,000 cases a target (cases printed at the end)
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -p no:cacheprovider tests/unit/test_fuzz.py

.PHONY: chaos
chaos: venv ## Faults under steady load (kills, broker restart, rebalances); JSON in $(BENCH_OUT)/chaos.json
	mkdir -p $(BENCH_OUT)
	$(PY) -m warmline bench chaos --out $(BENCH_OUT)/chaos.json

.PHONY: bench-restore
bench-restore: venv ## Decisioning restart on 10k-200k conversations and 1M customers; JSON in $(BENCH_OUT)/restore.json
	mkdir -p $(BENCH_OUT)
	$(PY) -m warmline bench restore --out $(BENCH_OUT)/restore.json

.PHONY: lock
lock: ## Re-pin requirements.lock from pyproject.toml, then the images' runtime locks (needs network)
	rm -rf $(CACHE_DIR)/venv-lock && $(PYTHON) -m venv $(CACHE_DIR)/venv-lock
	$(CACHE_DIR)/venv-lock/bin/pip install -q '.[model,reports,dev,postgres]'
	$(CACHE_DIR)/venv-lock/bin/pip freeze --exclude warmline > $(LOCK)
	$(call runtime_locks,$(CACHE_DIR)/venv-lock/bin/python)

# $(call runtime_locks,PYTHON): requirements-<image>.lock for every image, resolved by
# PYTHON's pip at LOCK's versions (downloads package metadata, installs nothing).
define runtime_locks
	for image in $(IMAGES); do \
	  $(1) tools/runtime_lock.py $$image > requirements-$$image.lock.tmp || exit 1; \
	  mv requirements-$$image.lock.tmp requirements-$$image.lock; \
	done
endef

.PHONY: runtime-locks
runtime-locks: venv ## Re-derive the images' runtime locks from requirements.lock (needs network)
	$(call runtime_locks,$(PY))

.PHONY: image-check
image-check: runtime-locks ## Each image installed without Docker (its lock in a cached venv, pip check), smoke-tested
	git diff --exit-code -- $(foreach image,$(IMAGES),requirements-$(image).lock)
	rm -rf $(CACHE_DIR)/image-wheel
	$(PY) -m pip wheel -q --no-deps --no-build-isolation --wheel-dir $(CACHE_DIR)/image-wheel .
	$(PY) tools/image_envs.py --cache $(CACHE_DIR) --wheel-dir $(CACHE_DIR)/image-wheel > $(CACHE_DIR)/image-envs.json
	WARMLINE_IMAGE_ENVS=$(CACHE_DIR)/image-envs.json $(PY) -m pytest -q tests/images

# netobserv-rs developer entry points. `make help` lists them.
#
# Every target that needs a tool installs it first (idempotently), so `make test` and `make run`
# work on a fresh machine. Nothing here relies on what a developer installed by hand.

SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo
KUBECTL ?= kubectl
# Where `make deploy` installs the operator (config/default sets the same namespace).
NAMESPACE ?= netobserv

export CARGO_TERM_COLOR ?= never

# Image names and tag (IMAGE_REGISTRY, IMAGE_TAG, IMAGE_OPERATOR, ...): the one place they are set.
include images/images.env
# `make bundle VERSION=x.y.z` sets IMAGE_TAG to x.y.z first.
VERSION ?=
INSTALLGEN = $(CARGO) run --quiet -p netobserv-install --bin installgen --

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: prerequisites
prerequisites: ## Install the toolchain pieces the build and tests need (idempotent).
	@scripts/prerequisites.sh

.PHONY: build
build: prerequisites ## Build every crate.
	$(CARGO) build --workspace --all-targets

.PHONY: fmt
fmt: ## Format the code.
	$(CARGO) fmt --all

.PHONY: lint
lint: prerequisites ## Check formatting and run clippy with warnings as errors.
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

.PHONY: manifests
manifests: ## Regenerate config/crd/bases from the Rust API types.
	$(CARGO) run --quiet -p netobserv-api --bin crdgen -- .

.PHONY: check-manifests
check-manifests: ## Fail when config/crd/bases is not what the Rust types generate.
	$(CARGO) run --quiet -p netobserv-api --bin crdgen -- --check .

.PHONY: test
test: prerequisites images ## Run the whole test suite (as root, like CI), images included.
	NETOBSERV_IMAGES_REQUIRED=1 $(CARGO) test --workspace --no-fail-fast
	scripts/check-kustomize.sh
	$(MAKE) test-ui

.PHONY: ui
ui: prerequisites ## Build the console web UI (standalone page and OpenShift plugin) into crates/console/web/build.
	scripts/build-ui.sh

.PHONY: test-ui
test-ui: ui ## UI tests: headless chromium against the real console backend (fixture store), and local mode in namespaces (root).
	$(CARGO) build -p netobserv-console --bin netobserv-console --example ui_fixture --example health_rules -p netobserv-local --bin netobserv-local
	cd crates/console/web && npm test
	cd crates/console/web && npm run test:local

.PHONY: run
run: ## Observe this machine (root): agent, in-process pipeline, flow store, console on 127.0.0.1:9001 (ARGS="--help").
	@ARGS="$(ARGS)" scripts/run-local.sh

.PHONY: run-agent
run-agent: prerequisites ## Run the eBPF agent (root) exporting to TARGET_HOST:TARGET_PORT.
	@test -n "$(TARGET_HOST)" -a -n "$(TARGET_PORT)" || { echo "usage: make run-agent TARGET_HOST=... TARGET_PORT=..."; exit 2; }
	TARGET_HOST=$(TARGET_HOST) TARGET_PORT=$(TARGET_PORT) $(CARGO) run --release -p netobserv-agent --bin netobserv-ebpf-agent

.PHONY: bench-agent
bench-agent: prerequisites ## Agent cost on this machine (root): per-packet ns, throughput ratios, CPU/RSS.
	scripts/bench-agent

.PHONY: bench-pipeline
bench-pipeline: prerequisites ## Pipeline throughput, cores and RSS with the load generator.
	scripts/bench-pipeline

.PHONY: bench-store
bench-store: prerequisites ## Flow store: ingest flows per core, console query p50/p95 on 1M flows.
	scripts/bench-store

.PHONY: bench-capture
bench-capture: prerequisites ## Packet capture (root): packets/s without loss, agent vs tcpdump on a veth pair.
	scripts/bench-capture

.PHONY: bench-cli-collector
bench-cli-collector: prerequisites ## CLI collector: flows per CPU second into JSON + SQLite flow store.
	scripts/bench-cli-collector

.PHONY: update-cli-golden
update-cli-golden: ## Accept a deliberate change of the CLI's --yaml manifests.
	UPDATE_GOLDEN=1 $(CARGO) test -p kubectl-netobserv --test render

.PHONY: run-operator
run-operator: ## Run the operator against the current kube context (exits 1 if no cluster is reachable).
	RELATED_IMAGE_EBPF_AGENT=$(IMAGE_REGISTRY)/$(IMAGE_EBPF_AGENT):$(IMAGE_TAG) \
	RELATED_IMAGE_FLOWLOGS_PIPELINE=$(IMAGE_REGISTRY)/$(IMAGE_FLOWLOGS_PIPELINE):$(IMAGE_TAG) \
	RELATED_IMAGE_CONSOLE_PLUGIN=$(IMAGE_REGISTRY)/$(IMAGE_CONSOLE_PLUGIN):$(IMAGE_TAG) \
	$(CARGO) run -p netobserv-operator -- --health-probe-bind-address=:8081 --metrics-bind-address=:8080

.PHONY: update-golden
update-golden: ## Accept a deliberate change of the operator's rendered objects.
	UPDATE_GOLDEN=1 $(CARGO) test -p netobserv-operator --test golden

.PHONY: bench
bench: ## Run the criterion benchmarks (operator render, pipeline per-flow path, flowdsl).
	$(CARGO) bench -p netobserv-operator --bench render
	$(CARGO) bench -p netobserv-pipeline --bench transforms
	$(CARGO) bench -p flowdsl --bench eval

.PHONY: deploy
deploy: ## Install the CRDs, RBAC and operator in the current kube context (no webhooks, nothing else needed).
	$(KUBECTL) apply --server-side -k config/default

.PHONY: deploy-webhooks
deploy-webhooks: ## Like deploy, plus the admission and conversion webhooks (needs cert-manager).
	@$(KUBECTL) get crd certificates.cert-manager.io >/dev/null 2>&1 || { \
	  echo "deploy-webhooks: cert-manager is not installed (no certificates.cert-manager.io CRD)."; \
	  echo "  Install it first (https://cert-manager.io/docs/installation/), or use 'make deploy' (no webhooks)."; \
	  exit 1; }
	$(KUBECTL) apply --server-side -k config/with-webhooks

.PHONY: undeploy
undeploy: ## Remove what `make deploy` installed (FlowCollectors first, then the operator).
	-$(KUBECTL) delete flowcollectors.flows.netobserv.io --all --ignore-not-found --wait
	$(KUBECTL) delete -k config/default --ignore-not-found

.PHONY: images
images: prerequisites ui ## Build the OCI images (static musl binaries, FROM scratch; the console embeds the web UI) into target/images/
	scripts/build-images.sh

.PHONY: sync-images
sync-images: ## Write the image references of images/images.env into config/manager.
	$(INSTALLGEN) sync-images

.PHONY: bundle
bundle: ## Regenerate the OLM bundle (bundle/, bundle.Dockerfile) from config/; VERSION=x.y.z sets the tag.
	@if [ -n "$(VERSION)" ]; then sed -i 's/^IMAGE_TAG=.*/IMAGE_TAG=$(VERSION)/' images/images.env; fi
	$(INSTALLGEN) sync-images
	$(INSTALLGEN) bundle

.PHONY: bundle-validate
bundle-validate: ## Check bundle/ with the offline operator-sdk validation rules and for staleness.
	$(INSTALLGEN) validate bundle
	$(INSTALLGEN) bundle --check

.PHONY: deploy-openshift
deploy-openshift: ## Install on OpenShift: webhooks with service-CA certificates, ServiceMonitor.
	$(KUBECTL) apply --server-side -k config/openshift

.PHONY: ci
ci: lint test ## What .ci/run runs.

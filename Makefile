# forkline: keep downstream forks of kpt packages in step with their upstream.
# `make help` lists the targets.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BIN := $(CURDIR)/bin
export GOWORK := off

CONTROLLER_GEN_VERSION := $(shell awk '{for (i = 1; i < NF; i++) if ($$i == "sigs.k8s.io/controller-tools") print $$(i+1)}' tools/codegen/go.mod)
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
# golangci-lint with kube-api-linter built in (its documented standalone
# binary), keyed by both versions pinned in tools/lint/go.mod.
LINT_VERSION := $(shell awk '$$1 == "github.com/golangci/golangci-lint/v2" || $$1 == "sigs.k8s.io/kube-api-linter" {printf "%s-", $$2}' tools/lint/go.mod)
GOLANGCI_LINT := $(BIN)/golangci-lint-$(LINT_VERSION)bin
GOTESTSUM := $(BIN)/gotestsum-$(shell awk '{for (i = 1; i < NF; i++) if ($$i == "gotest.tools/gotestsum") print $$(i+1)}' tools/test/go.mod)
STACK := $(BIN)/forkline-stack
# PORCH picks the stack's Porch (v1.5.8 by default, or v1.3.0) for demo,
# stack-up, the benches and the tests: `make bench-fanout PORCH=v1.3.0`.
# The two Porch versions the stack runs, as internal/devstack names them.
PORCH_CURRENT := $(shell awk -F'"' '/PorchCurrent += "/ {print $$2}' internal/devstack/binaries.go)
PORCH_OLDER := $(shell awk -F'"' '/PorchOlder += "/ {print $$2}' internal/devstack/binaries.go)
ifdef PORCH
export FORKLINE_PORCH := $(PORCH)
endif
TEST_TIMEOUT ?= 80m
VERSION ?= v0.1.0

##@ Getting started

.PHONY: demo
demo: stack-bins $(STACK) ## Start the local stack, run the sync flow visibly, keep it up until Ctrl-C.
	$(STACK) demo $(if $(FUNCTIONS),--functions $(FUNCTIONS))

.PHONY: test
# gotestsum prints what `go test -v` prints, then each failed test's output
# again and, last, the failed tests' names: where a CI log's tail shows them.
test: verify $(STACK) $(GOTESTSUM) ## Run `make verify`, then every test (table tests, then the whole end-to-end suite on the real local stack with Porch v1.5.8), then the compatibility leg on Porch v1.3.0.
	$(STACK) build --porch all
	FORKLINE_PORCH=$(PORCH_CURRENT) $(call gotest,$(BIN)/test.json,./...)
	$(MAKE) --no-print-directory test-porch-older

# The compatibility leg: what a platform team still on Porch v1.3.0 relies
# on (lifecycle with its conflicts, merge, approval, the walk, moved tags, deletion
# safety, an unreadable Porch stated), and the tests skipped on v1.5.8
# (docs/install.md, Porch versions, says why).
OLDER_TESTS := ^(TestPackageVariantLifecycle|TestMergeMatchesPorchUpdate|TestAutomaticApproval|TestWalkNeverSkipsAcrossRestarts|TestForceMovedTagKeepsPersonsEdit|TestDeletionKeepsPublishedAndEditedWork|TestUnsupportedPorchIsStated|TestBigPackageUpgrade|TestManagerKilledAtRandomMoments|TestDraftCreateCutOffHalfWay|TestFanOutFetchesOnce|TestBadInput)$$

.PHONY: test-porch-older
test-porch-older: $(STACK) $(GOTESTSUM) ## Run the compatibility leg (OLDER_TESTS) on Porch v1.3.0.
	$(STACK) build --porch $(PORCH_OLDER)
	FORKLINE_PORCH=$(PORCH_OLDER) $(call gotest,$(BIN)/test-porch-older.json,-run '$(OLDER_TESTS)' ./test/e2e)

.PHONY: test-porch-older-all
test-porch-older-all: $(STACK) $(GOTESTSUM) ## Run the whole end-to-end suite on Porch v1.3.0 (not part of `make test`).
	$(STACK) build --porch $(PORCH_OLDER)
	FORKLINE_PORCH=$(PORCH_OLDER) $(call gotest,$(BIN)/test-porch-older-all.json,./test/e2e)

.PHONY: compare-porch
compare-porch: $(STACK) $(GOTESTSUM) ## Measure Porch's own upgrade strategies (resource-merge, copy-merge) against forkline's merge, per merge case, on Porch v1.5.8; prints the table docs/migrating.md quotes.
	$(STACK) build --porch $(PORCH_CURRENT)
	FORKLINE_PORCH=$(PORCH_CURRENT) FORKLINE_COMPARE_PORCH=1 $(call gotest,$(BIN)/compare-porch.json,-run '^TestPorchUpgradeStrategies$$' ./test/e2e)

# gotest runs go test through gotestsum into jsonfile $(1) with arguments $(2).
define gotest
$(GOTESTSUM) --format standard-verbose --jsonfile $(1) -- -count=1 -p 1 -timeout $(TEST_TIMEOUT) $(2) \
	|| { echo "failed: $$(grep '"Action":"fail"' $(1) | grep -o '"Test":"[^"]*"' | cut -d'"' -f4 | tr '\n' ' ')"; exit 1; }
endef

.PHONY: unit
unit: ## Run the pure tests only (no stack): table, golden, property and image tests, in seconds once built.
	go test -count=1 $$(go list ./... | grep -v -e /test/e2e -e /internal/devstack$$)

##@ Local stack

.PHONY: stack-bins
stack-bins: $(STACK) ## Build etcd, kube-apiserver, kubectl, porch-server, porchctl and the function runner into ./bin (once per version; FORKLINE_PORCH=v1.3.0 for the older Porch).
	$(STACK) build

.PHONY: stack-up
stack-up: stack-bins ## Start the local stack in the background (kubeconfig in .stack/kubeconfig); FUNCTIONS=dir adds your steps.
	$(STACK) up --dir $(CURDIR)/.stack $(if $(FUNCTIONS),--functions $(FUNCTIONS))

.PHONY: stack-down
stack-down: $(STACK) ## Stop the background local stack and every process it started.
	$(STACK) down --dir $(CURDIR)/.stack

##@ Development

.PHONY: build
build: ## Build the manager, the kubectl plugin (bin/kubectl-forkline) and the stack command into ./bin.
	go build -o $(BIN)/manager ./cmd/manager
	go build -ldflags "-X github.com/forkline/forkline/internal/cli.Version=$(VERSION)" -o $(BIN)/kubectl-forkline ./cmd/kubectl-forkline
	go build -o $(STACK) ./cmd/stack

.PHONY: images
images: ## Build the manager's and the functions' OCI images into bin/images (no Docker daemon, no network); prints each digest.
	go run ./cmd/images -version $(VERSION) -out $(BIN)/images

.PHONY: release
release: ## Build the images, render dist/install.yaml (config/default via kustomize, images pinned by digest), and the kubectl plugin's archives and krew manifest (dist/kubectl-forkline.yaml).
	go run ./cmd/release -version $(VERSION) -out dist/install.yaml

.PHONY: functions
functions: ## Build forkline's KRM functions into ./bin/functions (the stack serves them as ghcr.io/forkline/<name>:v0.1.0).
	for f in bump-version align-images lock-references; do go build -o $(BIN)/functions/$$f ./functions/$$f; done

.PHONY: run
run: ## Run the manager against the cluster of the current KUBECONFIG (e.g. .stack/kubeconfig).
	go run ./cmd/manager --leader-elect=false

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Regenerate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Regenerate CRDs and RBAC under config/.
	$(CONTROLLER_GEN) crd rbac:roleName=forkline-manager paths=./api/... paths=./internal/... paths=./controllers/... \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint (.golangci.yml), kube-api-linter on api/ among its linters.
	$(GOLANGCI_LINT) run ./...

.PHONY: verify
verify: generate manifests lint ## Fail if generated files are stale, code is unformatted, or vet or a linter complains.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	@git diff --exit-code -- api config || { echo "generated files are stale: run 'make generate manifests' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- api config)" || { git status --porcelain -- api config; echo "untracked generated files"; exit 1; }

.PHONY: bench
bench: ## Print the merge engine's time and allocations beside kyaml merge3's, and its audit's share of merge time, measured in one run.
	go run ./bench/merge

.PHONY: bench-bigpkg
bench-bigpkg: stack-bins ## Measure 1, 5 and 20 MB packages: Porch's clone into 3 branches, forkline's first sync and its upgrade of a release changing 10%, with write bytes and the manager's peak RSS, on the local stack.
	go run ./bench/bigpkg

.PHONY: bench-fanout
bench-fanout: stack-bins ## Measure a release fanning out to N repositories (N=10,100,300; N=1000 for scale) against a floor client, on the local stack.
	go run ./bench/fanout

.PHONY: fuzz
fuzz: ## Fuzz the merge engine, its audit the oracle: arbitrary files, then random edits on both sides, FUZZTIME each (default 5m; not part of `make test`).
	go test -run '^$$' -fuzz '^FuzzMerge$$' -fuzztime $(or $(FUZZTIME),5m) ./internal/merge/
	go test -run '^$$' -fuzz '^FuzzAuditedEdits$$' -fuzztime $(or $(FUZZTIME),5m) ./internal/merge/

.PHONY: clean
clean: ## Remove built binaries (the stack rebuilds them on demand).
	rm -rf $(BIN)

$(STACK): $(shell find cmd/stack internal/devstack -name '*.go' 2>/dev/null) go.mod go.sum
	go build -o $@ ./cmd/stack

$(GOLANGCI_LINT): tools/lint/go.mod
	cd tools/lint && go build -o $@ sigs.k8s.io/kube-api-linter/cmd/golangci-lint-kube-api-linter

$(GOTESTSUM): tools/test/go.mod
	cd tools/test && go build -o $@ gotest.tools/gotestsum

$(CONTROLLER_GEN): tools/codegen/go.mod
	cd tools/codegen && go build -o $@ sigs.k8s.io/controller-tools/cmd/controller-gen

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-12s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

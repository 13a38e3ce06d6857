# concertd: `make help` lists the targets.
GO ?= go
PKGS := ./...

.PHONY: help run build test fuzz bench lint docs soak test-web

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

run: ## embedded mode: no services, a demo concert; prints the URL and admin key
	CONCERTD_EMBEDDED=1 $(GO) run ./cmd/concertd

build: ## build the server binary ./concertd
	$(GO) build -o concertd ./cmd/concertd

test: ## vet, then every test under the race detector against real Redis and PostgreSQL, then each benchmark once
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	@# Benchmarks check what they measure; one short pass keeps them from rotting
	@# unseen (-short skips the 1M-waiter ones, which take ~20 s each to fill).
	$(GO) test -short -count=1 -run '^$$' -bench . -benchtime 1x $(PKGS)

fuzz: ## run each request decoder's fuzzer, the token, user key and identity-token checks and the free-text rule for FUZZTIME (default 20s)
	@for f in $$($(GO) test -list 'Fuzz.*' ./api/ | grep ^Fuzz); do \
		$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-20s} ./api/ || exit 1; done
	$(GO) test -run '^$$' -fuzz FuzzVerifyToken -fuzztime $${FUZZTIME:-20s} ./engine/
	$(GO) test -run '^$$' -fuzz FuzzCheckUserKey -fuzztime $${FUZZTIME:-20s} ./engine/
	$(GO) test -run '^$$' -fuzz FuzzFreeTextReachesTheLedger -fuzztime $${FUZZTIME:-20s} ./engine/
	$(GO) test -run '^$$' -fuzz FuzzVerifyIdentityToken -fuzztime $${FUZZTIME:-20s} ./engine/identity/
	$(GO) test -run '^$$' -fuzz FuzzKeySet -fuzztime $${FUZZTIME:-20s} ./engine/identity/

bench: ## micro benchmarks, then the HTTP load runs of bench/ (see bench/RESULTS.md)
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
	bash bench/run.sh

GOLANGCI_LINT := github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0

lint: ## golangci-lint v2 (pinned; compiled once into the module cache) with .golangci.yml: gofmt, vet, errcheck, staticcheck, ...
	$(GO) run $(GOLANGCI_LINT) run $(PKGS)

docs: ## write docs/API.md from the OpenAPI table in api/openapi.go (a test fails while it is stale)
	$(GO) run ./cmd/apidoc -o docs/API.md

soak: ## long fault tests: real processes, SIGKILL mid-rush, database cut (SOAK_USERS, default 2000)
	$(GO) test -tags soak -race -count=1 -timeout 20m -v ./test/soak/
	SENTINEL_RUSH_USERS=$${SOAK_USERS:-2000} $(GO) test -race -count=1 -timeout 20m -v -run TestRushThroughSentinelFailover ./cmd/concertd/

test-web: build ## the buyer page and operator view in headless Chromium (apt-get install chromium); screenshots in web/e2e/artifacts/
	cd web/e2e && npm install --no-audit --no-fund --silent && CONCERTD_BIN=$(CURDIR)/concertd npm test

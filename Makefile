# The two commands of the README:
#   make dev    run the three functions (cargo lambda watch), the local Rollee sandbox and
#               a local DynamoDB (moto) holding the ownership table
#   make test   run every check and test (what CI runs)
# and, not part of the tests:
#   cargo run --release -p bench   the benchmark (BENCHMARKS.md)

SANDBOX_PORT ?= 9100
WATCH_PORT ?= 9000
MOTO_PORT ?= 9200
TABLE ?= rollee-connect-local
# The JWT the local sandbox accepts and the functions send: a local stand-in, not a Rollee JWT.
DEV_TOKEN ?= local-sandbox-jwt
DEV_CALLER_SUB ?= dev-user

CARGO_LAMBDA_VERSION := 1.9.2
MOTO_VERSION := 5.2.5
SAM_CLI_VERSION := 1.170.0
CFN_LINT_VERSION := 1.58.0

# No telemetry from SAM CLI, and a region for its offline validation (no credentials are used).
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= eu-west-1

.PHONY: dev test tools deploy-checks

# Installs the tools the project runs with, from PyPI, when they are missing.
tools:
	@cargo lambda --version 2>/dev/null | grep -q 'cargo-lambda $(CARGO_LAMBDA_VERSION)' \
	  && command -v moto_server >/dev/null \
	  && sam --version 2>/dev/null | grep -q '$(SAM_CLI_VERSION)' \
	  && cfn-lint --version 2>/dev/null | grep -q '$(CFN_LINT_VERSION)' \
	  || { python3 -m pip install --quiet --disable-pip-version-check \
	         'cargo-lambda==$(CARGO_LAMBDA_VERSION)' 'moto[server]==$(MOTO_VERSION)' \
	         'aws-sam-cli==$(SAM_CLI_VERSION)' 'cfn-lint==$(CFN_LINT_VERSION)' \
	       && { ! command -v pyenv >/dev/null || pyenv rehash; }; }

# The ownership table locally: moto's DynamoDB on 127.0.0.1 (in memory, like the sandbox).
LOCAL_AWS := AWS_ENDPOINT_URL=http://127.0.0.1:$(MOTO_PORT) AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=eu-west-1

dev: tools
	cargo build --quiet -p rollee-sandbox --bin rollee-sandbox -p rollee-harness --bin create-table
	@SANDBOX_ADDR=127.0.0.1:$(SANDBOX_PORT) SANDBOX_TOKEN=$(DEV_TOKEN) target/debug/rollee-sandbox & sandbox=$$!; \
	moto_server -H 127.0.0.1 -p $(MOTO_PORT) >/dev/null 2>&1 & moto=$$!; \
	trap 'kill $$sandbox $$moto 2>/dev/null' EXIT INT TERM; \
	for i in $$(seq 100); do curl -s -o /dev/null http://127.0.0.1:$(MOTO_PORT)/ && break; sleep 0.2; done; \
	$(LOCAL_AWS) target/debug/create-table $(TABLE) || exit 1; \
	cargo lambda watch --invoke-address 127.0.0.1 --invoke-port $(WATCH_PORT) \
	  --env-var ROLLEE_API_URL=http://127.0.0.1:$(SANDBOX_PORT)/api/v0.5 \
	  --env-var ROLLEE_TOKEN=$(DEV_TOKEN) \
	  --env-var DEV_CALLER_SUB=$(DEV_CALLER_SUB) \
	  --env-var OWNERSHIP_TABLE=$(TABLE) \
	  --env-var AWS_ENDPOINT_URL=http://127.0.0.1:$(MOTO_PORT) \
	  --env-var AWS_ACCESS_KEY_ID=local --env-var AWS_SECRET_ACCESS_KEY=local --env-var AWS_REGION=eu-west-1

test: tools
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo test --workspace
	$(MAKE) --no-print-directory deploy-checks
	cargo run --release -p bench -- --smoke
	tests/dev-smoke.sh

# The SAM template, offline: lint, build the artifacts (x86_64: this machine
# has no aarch64 standard library; arm64 is built on the deployer's machine),
# then run them as Lambda would against the sandbox and moto.
deploy-checks: tools
	sam validate --lint
	sam validate
	cfn-lint template.yaml
	sam build --parameter-overrides Architecture=x86_64
	cargo test -p rollee-harness --test e2e -- --ignored artifact::

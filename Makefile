# The two commands of the README:
#   make dev    run the three functions (cargo lambda watch) and the local Rollee sandbox
#   make test   run every check and test (what CI runs)
# and, not part of the tests:
#   cargo run --release -p bench   the benchmark (BENCHMARKS.md)

SANDBOX_PORT ?= 9100
WATCH_PORT ?= 9000
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

dev: tools
	cargo build --quiet -p rollee-sandbox --bin rollee-sandbox
	@SANDBOX_ADDR=127.0.0.1:$(SANDBOX_PORT) SANDBOX_TOKEN=$(DEV_TOKEN) target/debug/rollee-sandbox & sandbox=$$!; \
	trap 'kill $$sandbox 2>/dev/null' EXIT INT TERM; \
	cargo lambda watch --invoke-address 127.0.0.1 --invoke-port $(WATCH_PORT) \
	  --env-var ROLLEE_API_URL=http://127.0.0.1:$(SANDBOX_PORT)/api/v0.5 \
	  --env-var ROLLEE_TOKEN=$(DEV_TOKEN) \
	  --env-var DEV_CALLER_SUB=$(DEV_CALLER_SUB)

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

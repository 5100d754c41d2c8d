# The two commands of the README:
#   make dev    run the three functions (cargo lambda watch) and the local Rollee sandbox
#   make test   run every check and test (what CI runs)

SANDBOX_PORT ?= 9100
WATCH_PORT ?= 9000
# The JWT the local sandbox accepts and the functions send: a local stand-in, not a Rollee JWT.
DEV_TOKEN ?= local-sandbox-jwt
DEV_CALLER_SUB ?= dev-user

CARGO_LAMBDA_VERSION := 1.9.2
MOTO_VERSION := 5.2.5

.PHONY: dev test tools

# Installs the tools the project runs with, from PyPI, when they are missing.
tools:
	@cargo lambda --version 2>/dev/null | grep -q 'cargo-lambda $(CARGO_LAMBDA_VERSION)' \
	  && command -v moto_server >/dev/null \
	  || { python3 -m pip install --quiet --disable-pip-version-check \
	         'cargo-lambda==$(CARGO_LAMBDA_VERSION)' 'moto[server]==$(MOTO_VERSION)' \
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
	tests/dev-smoke.sh

#!/usr/bin/env bash
# `make register-webhooks STACK=<stack>`: tells Rollee where the deployed
# stack receives webhooks (PUT /webhooks/users and /webhooks/accounts), with
# the header (and HMAC key) derived from the stack's generated webhook secret.
# Reads the stack's outputs with `sam list stack-outputs`, then runs
# register-webhooks (functions/webhook/src/bin/register-webhooks.rs) with your
# AWS credentials: they must allow secretsmanager:GetSecretValue on the
# Rollee JWT secret and on the webhook secret. Safe to run again (Rollee
# replaces each configuration with what is sent); run it again after
# rotating the webhook secret. Bash 3.2 (macOS) compatible.
set -euo pipefail
cd "$(dirname "$0")/.."

stack=${STACK:-}
[ -n "$stack" ] || { echo "usage: make register-webhooks STACK=<stack name>" >&2; exit 1; }

. scripts/stack-outputs.sh
stack_outputs "$stack"

# One assignment each, so that a missing output stops here (set -e).
url=$(output WebhookUrl)
ROLLEE_API_URL=$(output RolleeApiUrl)
ROLLEE_SECRET_ID=$(output RolleeSecretArn)
WEBHOOK_SECRET_ID=$(output WebhookSecretArn)
WEBHOOK_HEADER=$(output WebhookHeader)
WEBHOOK_SIGNATURE=$(output WebhookSignature)
export ROLLEE_API_URL ROLLEE_SECRET_ID WEBHOOK_SECRET_ID WEBHOOK_HEADER WEBHOOK_SIGNATURE
cargo run --quiet -p webhook --bin register-webhooks -- "$url"

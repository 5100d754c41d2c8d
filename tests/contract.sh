#!/usr/bin/env bash
# The contract, against the running local stack: starts `make dev` on spare
# ports, then
#   1. schemathesis: requests generated from docs/openapi.yaml (its examples,
#      every schema boundary, random and schema-violating data, and the links
#      POST /users → new session → refresh, POST /users → its accounts →
#      reconnect → refresh, POST /users → erase) sent through make dev's front door
#      (WEB_PORT, which forwards to the functions as API Gateway does), each
#      answer checked against the document; no 5xx allowed; at least
#      CONTRACT_MIN_REQUESTS requests per route;
#   2. the example web app in headless Chromium through the whole flow
#      (tests/web/test_example.py), with a screenshot in target/web-example.png;
# then stops make dev with SIGTERM and checks that it stopped everything.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

export WATCH_PORT=${CONTRACT_WATCH_PORT:-9700}
export SANDBOX_PORT=${CONTRACT_SANDBOX_PORT:-9710}
export MOTO_PORT=${CONTRACT_MOTO_PORT:-9720}
export WEB_PORT=${CONTRACT_WEB_PORT:-9740}
export DEV_TOKEN=contract-test-jwt-4b1d
# One caller sends thousands of requests here: not what the quota is about.
export SESSIONS_PER_CALLER_PER_MINUTE=10000
max_examples=${CONTRACT_MAX_EXAMPLES:-200}
min_requests=${CONTRACT_MIN_REQUESTS:-200}
web="http://127.0.0.1:$WEB_PORT"
venv=$root/.venv/test/bin

log=$(mktemp)
work=$(mktemp -d)
setsid make --no-print-directory dev >"$log" 2>&1 &
make_pid=$!
cleanup() {
  kill -TERM "$make_pid" 2>/dev/null || true
  wait "$make_pid" 2>/dev/null || true
  kill -- "-$make_pid" 2>/dev/null || true
  rm -rf "$log" "$work"
}
trap cleanup EXIT
fail() {
  echo "contract: FAILED: $*" >&2
  echo "--- make dev output (last 60 lines) ---" >&2
  tail -n 60 "$log" >&2
  exit 1
}

started=$SECONDS
for _ in $(seq 1 300); do
  curl -s -o /dev/null "$web/" && break
  kill -0 "$make_pid" 2>/dev/null || fail "make dev stopped"
  sleep 1
done
# Each function is built and started on its first call: not inside the run's timeouts.
# (Until cargo lambda watch listens, the front door answers 502.)
nobody=00000000-0000-4000-8000-000000000000
for route in "POST /users" "POST /users/$nobody/sessions" "POST /sessions/refresh" \
  "GET /users/$nobody/accounts" "POST /accounts/$nobody/reconnect" "DELETE /users/$nobody"; do
  method=${route%% *} path=${route#* }
  for _ in $(seq 1 300); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 600 -X "$method" "$web$path" -H 'Authorization: Bearer contract' || true)
    case "$code" in 2?? | 4??) continue 2 ;; esac
    kill -0 "$make_pid" 2>/dev/null || fail "make dev stopped"
    sleep 1
  done
  fail "$route never answered (last status $code)"
done
# The caller's user with one connected account (the sandbox's Connect page's
# button): the links POST /users → GET accounts → reconnect reach a real
# account while no erasure has happened yet (the erasure link then makes
# new users without accounts: most reconnects are 404s; its 201 is checked
# by tests/harness/tests/e2e/openapi.rs, make client and the browser test).
connect_url=$(curl -s -X POST "$web/users" -H 'Authorization: Bearer contract' \
  | "$venv/python" -c 'import json, sys; print(json.load(sys.stdin)["connect_url"])') \
  || fail "POST /users for the seeded account"
curl -s -f -o /dev/null -X POST "$connect_url/connect" || fail "the sandbox's Connect page did not connect an account"
echo "contract: make dev ready in $((SECONDS - started)) s"

started=$SECONDS
set +e
(cd "$work" && "$venv/schemathesis" --config-file "$root/tests/contract/schemathesis.toml" \
  run "$root/docs/openapi.yaml" --url "$web" \
  --header 'Authorization: Bearer contract-test' \
  --checks all \
  --exclude-checks ignored_auth,unsupported_method \
  --max-examples "$max_examples" --seed 20261128 --generation-database none \
  --request-timeout 30 --no-color \
  --report ndjson --report-ndjson-path "$work/report.ndjson")
status=$?
set -e
# Not checked, on purpose, with the reason:
# - ignored_auth: locally there is no identity provider, so no token can be told
#   invalid; in AWS, API Gateway's JWT authorizer answers 401 before any function.
# - unsupported_method: API Gateway answers 404 {"message": "Not Found"} (documented)
#   for a method that has no route, not 405.
[ "$status" = 0 ] || fail "schemathesis found failures (above)"
"$venv/python" tests/contract/requests.py "$work/report.ndjson" --min "$min_requests" \
  || fail "too few requests per route, or a 5xx"
echo "contract: schemathesis passed in $((SECONDS - started)) s"

started=$SECONDS
chromium=$(tests/web/chromium.sh)
"$venv/python" tests/web/test_example.py --web "$web" --sandbox "http://127.0.0.1:$SANDBOX_PORT" \
  --chromium "$chromium" --screenshot "${CARGO_TARGET_DIR:-$root/target}/web-example.png" \
  || fail "the web example's browser test"
echo "contract: browser test passed in $((SECONDS - started)) s"

# SIGTERM to make stops everything make dev started.
kill -TERM "$make_pid"
wait "$make_pid" 2>/dev/null || true
for port in "$WATCH_PORT" "$SANDBOX_PORT" "$MOTO_PORT" "$WEB_PORT"; do
  for _ in $(seq 1 20); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$port" 2>/dev/null || continue 2
    sleep 0.5
  done
  fail "port $port still answers after SIGTERM to make"
done
echo "contract: make dev stopped everything on SIGTERM"

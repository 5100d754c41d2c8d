#!/usr/bin/env bash
# The TypeScript client (clients/typescript/), what `make client` runs:
#   1. npm ci (the exact versions of package-lock.json);
#   2. its types regenerated from docs/openapi.yaml with openapi-typescript:
#      any difference from the committed src/schema.ts fails (the contract and
#      the client cannot drift);
#   3. tsc --noEmit under strict, then tsc: any difference from the committed
#      dist/ (the ESM the example web app imports without a build step) fails,
#      and so does one between the web app's copy of openapi-fetch and the
#      locked one;
#   4. `make dev` on spare ports, and the client's tests (node --test) against
#      it: every route (the lifecycle ones with an account connected on the
#      sandbox's Connect page), the problems make dev can be made to answer, API
#      Gateway's 401 and the retry with a new login token, Retry-After, a
#      session that expires and is refreshed; then SIGTERM stops make dev.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
client=$root/clients/typescript

export WATCH_PORT=${CLIENT_WATCH_PORT:-9800}
export SANDBOX_PORT=${CLIENT_SANDBOX_PORT:-9810}
export MOTO_PORT=${CLIENT_MOTO_PORT:-9820}
export WEB_PORT=${CLIENT_WEB_PORT:-9840}
export DEV_TOKEN=client-test-jwt-5e0a
# The tests mint many sessions as one caller within a minute.
export SESSIONS_PER_CALLER_PER_MINUTE=1000
web="http://127.0.0.1:$WEB_PORT"

log=$(mktemp)
generated=$(mktemp -d)
make_pid=
cleanup() {
  if [ -n "$make_pid" ]; then
    kill -TERM "$make_pid" 2>/dev/null || true
    wait "$make_pid" 2>/dev/null || true
    kill -- "-$make_pid" 2>/dev/null || true
  fi
  rm -rf "$log" "$generated"
}
trap cleanup EXIT
fail() {
  echo "client: FAILED: $*" >&2
  if [ -n "$make_pid" ]; then
    echo "--- make dev output (last 40 lines) ---" >&2
    tail -n 40 "$log" >&2
  fi
  exit 1
}

started=$SECONDS
(cd "$client" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci"
echo "client: npm ci in $((SECONDS - started)) s"

(cd "$client" && npx --no-install openapi-typescript "$root/docs/openapi.yaml" \
  --output "$generated/schema.ts" >/dev/null) || fail "openapi-typescript"
diff -u "$client/src/schema.ts" "$generated/schema.ts" \
  || fail "src/schema.ts is not what docs/openapi.yaml generates: run make client-generate and commit it"
echo "client: src/schema.ts is current"

(cd "$client" && npx --no-install tsc --noEmit) || fail "tsc --noEmit"
(cd "$client" && npx --no-install tsc --outDir "$generated/dist") || fail "tsc"
diff -ru "$client/dist" "$generated/dist" || fail "dist/ is not what src/ compiles to: run make client-generate and commit it"
cmp "$client/node_modules/openapi-fetch/dist/index.mjs" examples/web/vendor/openapi-fetch.js \
  || fail "examples/web/vendor/openapi-fetch.js is not the locked openapi-fetch: run make client-generate"
echo "client: tsc --noEmit (strict) passes; dist/ and the web app's openapi-fetch are current"

started=$SECONDS
setsid make --no-print-directory dev >"$log" 2>&1 &
make_pid=$!
for _ in $(seq 1 300); do
  curl -s -o /dev/null "$web/" && break
  kill -0 "$make_pid" 2>/dev/null || fail "make dev stopped"
  sleep 1
done
# Each function is built and started on its first call: not inside the tests' time.
# (A body each refuses: the caller's user is created by the tests themselves.)
# (Until cargo lambda watch listens, nothing answers.)
nobody=00000000-0000-4000-8000-000000000000
for route in "POST /users" "POST /users/$nobody/sessions" "POST /sessions/refresh" \
  "GET /users/$nobody/accounts" "POST /accounts/$nobody/reconnect" "DELETE /users/$nobody"; do
  method=${route%% *} path=${route#* }
  body=()
  if [ "$method" = POST ]; then body=(-d '[]'); fi
  for _ in $(seq 1 300); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 600 -X "$method" "http://127.0.0.1:$WATCH_PORT$path" ${body[@]+"${body[@]}"} || true)
    case "$code" in 2?? | 4??) continue 2 ;; esac
    kill -0 "$make_pid" 2>/dev/null || fail "make dev stopped"
    sleep 1
  done
  fail "$route never answered (last status $code)"
done
echo "client: make dev ready in $((SECONDS - started)) s"

started=$SECONDS
(cd "$client" && CONNECT_API=$web CONNECT_SANDBOX="http://127.0.0.1:$SANDBOX_PORT" node --test test/) \
  || fail "the client's tests (above)"
echo "client: node --test passed in $((SECONDS - started)) s"
if grep -q "$DEV_TOKEN" "$log"; then fail "the Rollee JWT appears in make dev's output"; fi

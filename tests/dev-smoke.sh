#!/usr/bin/env bash
# Proves the README's first command: starts `make dev` (the sandbox and
# `cargo lambda watch`) on spare ports, walks the README's curl flow against
# it, and stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."

export SANDBOX_PORT=${SMOKE_SANDBOX_PORT:-9310}
export WATCH_PORT=${SMOKE_WATCH_PORT:-9300}
export MOTO_PORT=${SMOKE_MOTO_PORT:-9320}
export DEV_TOKEN=smoke-test-jwt-7f3c
DEV_TOKEN_CHECK=$DEV_TOKEN
base="http://127.0.0.1:$WATCH_PORT"
log=$(mktemp)

setsid make --no-print-directory dev >"$log" 2>&1 &
group=$!
cleanup() {
  kill -- "-$group" 2>/dev/null || true
  wait "$group" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

fail() {
  echo "dev-smoke: FAILED: $*" >&2
  echo "--- make dev output ---" >&2
  cat "$log" >&2
  exit 1
}

# `cargo lambda watch` compiles a function on its first call: allow for it.
for _ in $(seq 1 300); do
  curl -s -o /dev/null "$base/" 2>/dev/null && break
  sleep 1
done

call() { # method path [body] -> prints "status body"
  local out
  out=$(curl -s -m 120 -X "$1" "$base$2" -H 'content-type: application/json' ${3:+-d "$3"} -w '\n%{http_code}') || fail "curl $1 $2"
  printf '%s %s\n' "$(tail -n1 <<<"$out")" "$(head -n -1 <<<"$out")"
}
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])['$1'])" "$2"; }
expect() { # status answer what
  [[ "${2%% *}" == "$1" ]] || fail "$3: expected $1, got: $2"
  echo "ok: $3 -> $1"
  passed=$((passed + 1))
}
passed=0

a=$(call POST /users '{"metadata": {"plan": "gold"}}'); expect 201 "$a" "POST /users"
user=$(field user_id "${a#* }")
a=$(call POST /users); expect 200 "$a" "POST /users again: found"
[[ "$(field user_id "${a#* }")" == "$user" ]] || fail "a second POST /users gave another user: $a"
a=$(call POST "/users/$user/sessions"); expect 201 "$a" "POST /users/{user_id}/sessions"
url=$(field connect_url "${a#* }")
page=$(curl -s "$url"); grep -q "Session valid until" <<<"$page" || fail "Connect page of a new session: $page"
echo "ok: Connect page opens"
passed=$((passed + 1))
a=$(call POST /sessions/refresh "{\"connect_url\": \"$url\"}"); expect 200 "$a" "POST /sessions/refresh"
a=$(call POST "/users/not-a-uuid/sessions"); expect 400 "$a" "bad UUID"
a=$(call POST /sessions/refresh '{"connect_url": 5}'); expect 400 "$a" "wrong body"
a=$(call POST "/users/$user/sessions"); expect 201 "$a" "a second session"
# Another caller holding the URL cannot refresh it (cargo lambda invoke carries claims).
other=$(mktemp)
python3 - "$(field connect_url "${a#* }")" >"$other" <<'PY'
import json, sys
e = json.load(open("events/refresh-url.json"))
e["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = "bob"
e["body"] = json.dumps({"connect_url": sys.argv[1]})
print(json.dumps(e))
PY
out=$(cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$WATCH_PORT" refresh-url \
  --data-file "$other") || fail "cargo lambda invoke"
rm -f "$other"
grep -q '"statusCode":404' <<<"$out" || fail "refresh by another caller: $out"
echo "ok: a refresh by another caller -> 404"
passed=$((passed + 1))
out=$(cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$WATCH_PORT" new-session \
  --data-file events/new-session-other-caller.json) || fail "cargo lambda invoke"
grep -q '"statusCode":404' <<<"$out" || fail "cargo lambda invoke with another caller's event: $out"
echo "ok: cargo lambda invoke --data-file events/new-session-other-caller.json -> 404"
passed=$((passed + 1))
if grep -q "$(field session_id "${a#* }")" "$log"; then fail "a session token appears in the logs"; fi
if grep -q "$DEV_TOKEN_CHECK" "$log"; then fail "the JWT appears in the logs"; fi
echo "ok: no session token and no JWT in the logs"
passed=$((passed + 1))
echo "dev-smoke: $passed passed, 0 failed"

#!/usr/bin/env bash
# `make dev`: the functions (cargo lambda watch), the local Rollee
# sandbox, the ownership table in moto's DynamoDB, and the example web app,
# until Ctrl-C or SIGTERM; then it stops everything it started.
#
# Settings (environment; the Makefile passes its variables):
#   WATCH_PORT 9000, SANDBOX_PORT 9100, MOTO_PORT 9200, WEB_PORT 9400
#   BIND_ADDRESS 127.0.0.1   where the functions, the sandbox and the web app listen
#                            (0.0.0.0: reachable from a phone on your network)
#   PUBLIC_HOST              the host name devices use to reach this machine, put in
#                            Connect links (default: BIND_ADDRESS, or 127.0.0.1)
#   DEV_CALLER_SUB dev-user  the caller every request without claims acts as (there is no
#                            authorizer locally); empty: such requests get 401
#   DEV_TOKEN                the JWT the local sandbox accepts and the functions send
#   SESSIONS_PER_CALLER_PER_MINUTE 10
#   ROLLEE_TOKEN, ROLLEE_API_URL   a real Rollee JWT (and API base; default Rollee's
#                            sandbox): no local sandbox, the functions call Rollee
#   TABLE                    the ownership table's name
#   BUS                      the EventBridge bus (in moto) webhooks are published to
#   DEV_WEBHOOK_SECRET       the webhook secret (the template generates one when deployed)
# Bash 3.2 (macOS) compatible.
set -euo pipefail
cd "$(dirname "$0")/.."

WATCH_PORT=${WATCH_PORT:-9000}
SANDBOX_PORT=${SANDBOX_PORT:-9100}
MOTO_PORT=${MOTO_PORT:-9200}
WEB_PORT=${WEB_PORT:-9400}
BIND_ADDRESS=${BIND_ADDRESS:-127.0.0.1}
DEV_CALLER_SUB=${DEV_CALLER_SUB-dev-user}
DEV_TOKEN=${DEV_TOKEN:-local-sandbox-jwt}
SESSIONS_PER_CALLER_PER_MINUTE=${SESSIONS_PER_CALLER_PER_MINUTE:-10}
TABLE=${TABLE:-rollee-connect-local}
BUS=${BUS:-rollee-connect-local}
DEV_WEBHOOK_SECRET=${DEV_WEBHOOK_SECRET:-local-webhook-secret-for-development-only}
ROLLEE_TOKEN=${ROLLEE_TOKEN:-}
ROLLEE_API_URL=${ROLLEE_API_URL:-}

say() { printf 'make dev: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

case "$BIND_ADDRESS" in
  0.0.0.0 | ::) PUBLIC_HOST=${PUBLIC_HOST:-127.0.0.1} ;;
  *) PUBLIC_HOST=${PUBLIC_HOST:-$BIND_ADDRESS} ;;
esac
url_host=$PUBLIC_HOST
case "$url_host" in *:*) url_host="[$url_host]" ;; esac

# Which Rollee: the local sandbox, or the real one with a real JWT.
if [ -n "$ROLLEE_API_URL" ] && [ -z "$ROLLEE_TOKEN" ]; then
  die "ROLLEE_API_URL is set without ROLLEE_TOKEN: a real Rollee needs its JWT (read -rs ROLLEE_TOKEN; export ROLLEE_TOKEN)"
fi
if [ -n "$ROLLEE_TOKEN" ]; then
  sandbox=no
  api_url=${ROLLEE_API_URL:-https://api.sand.getrollee.com/api/v0.5}
  token=$ROLLEE_TOKEN
else
  sandbox=yes
  api_url="http://127.0.0.1:$SANDBOX_PORT/api/v0.5"
  token=$DEV_TOKEN
fi

# Every port must be free before anything starts: a busy one is named, and
# nothing is sent to whatever holds it.
ports="WATCH_PORT:$WATCH_PORT:$BIND_ADDRESS MOTO_PORT:$MOTO_PORT:127.0.0.1 WEB_PORT:$WEB_PORT:$BIND_ADDRESS"
if [ "$sandbox" = yes ]; then ports="$ports SANDBOX_PORT:$SANDBOX_PORT:$BIND_ADDRESS"; fi
seen=" "
for entry in $ports; do
  name=${entry%%:*}; rest=${entry#*:}; port=${rest%%:*}; addr=${rest#*:}
  case "$seen" in *" $port "*) die "$name=$port is also another port's number: give each its own" ;; esac
  seen="$seen$port "
  if ! python3 - "$addr" "$port" <<'PY'
import socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
try:
    s.bind((addr, port))
except OSError:
    sys.exit(1)
PY
  then
    die "port $port ($name) is already in use on $addr: stop what holds it, or choose another, e.g. make dev $name=$((port + 1))"
  fi
done

command -v moto_server >/dev/null || die "moto_server not found: run it through make dev, which installs it in .venv/dev"
cargo lambda --version >/dev/null 2>&1 || die "cargo-lambda not found: run it through make dev, which installs it in .venv/dev"

cargo build --quiet -p rollee-sandbox --bin rollee-sandbox -p rollee-harness --bin create-table --bin dev-web --bin dev-bus \
  -p webhook --bin register-webhooks --bin webhook
target=${CARGO_TARGET_DIR:-target}

# Each service runs in a process group of its own (job control), so that
# stopping one stops all it started (cargo lambda watch starts the functions).
set -m
pids=""
names=""
secrets=$(mktemp -d)
chmod 700 "$secrets"

stopping=no
cleanup() {
  [ "$stopping" = yes ] && return
  stopping=yes
  trap - INT TERM HUP EXIT
  set +m  # no job-status lines for what is stopped on purpose
  for pid in $pids; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    alive=no
    for pid in $pids; do kill -0 -- "-$pid" 2>/dev/null && alive=yes; done
    [ "$alive" = no ] && break
    sleep 0.5
  done
  for pid in $pids; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  rm -rf "$secrets"
}
on_signal() { say "stopping"; cleanup; exit 0; }
trap on_signal INT TERM HUP
trap cleanup EXIT

start() { # name command...
  local name=$1; shift
  "$@" </dev/null &
  pids="$pids $!"
  names="$names $name:$!"
}

start moto moto_server -H 127.0.0.1 -p "$MOTO_PORT" >/dev/null 2>&1
if [ "$sandbox" = yes ]; then
  SANDBOX_ADDR="$BIND_ADDRESS:$SANDBOX_PORT" SANDBOX_TOKEN=$DEV_TOKEN \
    SANDBOX_PUBLIC_ORIGIN="http://$url_host:$SANDBOX_PORT" \
    start sandbox "$target/debug/rollee-sandbox"
fi
case "$BIND_ADDRESS" in *:*) web_addr="[$BIND_ADDRESS]:$WEB_PORT" ;; *) web_addr="$BIND_ADDRESS:$WEB_PORT" ;; esac
WEB_ADDR=$web_addr WEB_ROOT=examples/web WEB_API="http://127.0.0.1:$WATCH_PORT" WEB_CALLER=$DEV_CALLER_SUB \
  start web "$target/debug/dev-web"

for _ in $(seq 100); do
  python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$MOTO_PORT" 2>/dev/null && break
  sleep 0.2
done
export_moto() { AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT" AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=eu-west-1 "$@"; }
export_moto "$target/debug/create-table" "$TABLE" || die "could not create the ownership table in moto"
export_moto "$target/debug/dev-bus" create "$BUS" || die "could not create the event bus in moto"

# The functions' settings in a file only this user can read: the JWT never
# appears on a command line (ps) or in the shell history.
env_file="$secrets/functions.env"
(
  umask 077
  {
    printf 'ROLLEE_API_URL=%s\n' "$api_url"
    printf 'ROLLEE_TOKEN=%s\n' "$token"
    # Empty: no assumed caller; only events with claims (cargo lambda invoke) get through.
    if [ -n "$DEV_CALLER_SUB" ]; then printf 'DEV_CALLER_SUB=%s\n' "$DEV_CALLER_SUB"; fi
    printf 'OWNERSHIP_TABLE=%s\n' "$TABLE"
    printf 'SESSIONS_PER_CALLER_PER_MINUTE=%s\n' "$SESSIONS_PER_CALLER_PER_MINUTE"
    # The webhook function: signatures on, as the local sandbox signs (hex).
    printf 'WEBHOOK_SECRET=%s\nWEBHOOK_SIGNATURE=hex\nEVENT_BUS_NAME=%s\n' "$DEV_WEBHOOK_SECRET" "$BUS"
    printf 'AWS_ENDPOINT_URL=http://127.0.0.1:%s\n' "$MOTO_PORT"
    printf 'AWS_ACCESS_KEY_ID=local\nAWS_SECRET_ACCESS_KEY=local\nAWS_REGION=eu-west-1\n'
  } >"$env_file"
)
start functions cargo lambda watch --invoke-address "$BIND_ADDRESS" --invoke-port "$WATCH_PORT" --env-file "$env_file"

# The local sandbox delivers its webhooks to the webhook function: registered
# the way a deployment is (make register-webhooks), with the secret from the
# same file. A real Rollee cannot reach this machine: nothing is registered there.
if [ "$sandbox" = yes ]; then
  for _ in $(seq 100); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$SANDBOX_PORT" 2>/dev/null && break
    sleep 0.2
  done
  AWS_REGION=eu-west-1 ROLLEE_API_URL=$api_url ROLLEE_TOKEN=$token WEBHOOK_SECRET=$DEV_WEBHOOK_SECRET WEBHOOK_SIGNATURE=hex \
    "$target/debug/register-webhooks" "http://127.0.0.1:$WATCH_PORT/webhooks/rollee" >/dev/null \
    || die "could not register the webhook with the local sandbox"
fi

if [ "$sandbox" = yes ]; then rollee="the local sandbox, http://$url_host:$SANDBOX_PORT (its state is in memory)"; else rollee="$api_url (a real Rollee, with ROLLEE_TOKEN)"; fi
cat >&2 <<EOF
make dev: running; Ctrl-C stops it all.
  API (the six routes)    http://$url_host:$WATCH_PORT       requests without claims act as '${DEV_CALLER_SUB:-(none: 401)}'
  webhooks                POST http://127.0.0.1:$WATCH_PORT/webhooks/rollee, published to bus '$BUS' in moto (make dev-events)
  example web app         http://$url_host:$WEB_PORT/
  Rollee                  $rollee
  ownership table         '$TABLE' in moto, 127.0.0.1:$MOTO_PORT (in memory)
EOF

# Serve until a signal, or until one of the services stops on its own.
while :; do
  for entry in $names; do
    if ! kill -0 "${entry#*:}" 2>/dev/null; then
      say "${entry%%:*} stopped on its own; stopping the rest"
      exit 1
    fi
  done
  sleep 1 &
  wait $! 2>/dev/null || true
done

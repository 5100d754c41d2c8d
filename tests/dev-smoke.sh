#!/usr/bin/env bash
# Proves the documented commands by running them: `make dev` on spare ports,
# then every shell block marked `<!-- smoke: run -->` in README.md,
# BENCHMARKS.md, docs/*.md and docs/clients/*.md as written (only the default
# ports 9000/9100/9200/9400 replaced by the spare ones); every other shell
# block must say why it is not run (`<!-- smoke: skip: … -->`). And what
# the README promises about make dev itself: a busy port stops it before
# anything starts, naming the port; SIGTERM to make stops everything; a
# function that cannot start answers at once with the reason; ROLLEE_TOKEN
# and ROLLEE_API_URL point the functions at another Rollee without the token
# on any command line; no JWT and no session token in its logs.
set -euo pipefail
cd "$(dirname "$0")/.."

export SANDBOX_PORT=${SMOKE_SANDBOX_PORT:-9310}
export WATCH_PORT=${SMOKE_WATCH_PORT:-9300}
export MOTO_PORT=${SMOKE_MOTO_PORT:-9320}
export WEB_PORT=${SMOKE_WEB_PORT:-9340}
other_rollee_port=${SMOKE_OTHER_ROLLEE_PORT:-9350}
export DEV_TOKEN=smoke-test-jwt-7f3c
export DEV_WEBHOOK_SECRET=smoke-webhook-secret-2b9e0d41c7a6f35e8d10
# The README's walk and this test send more sessions a minute than the default quota allows.
export SESSIONS_PER_CALLER_PER_MINUTE=1000
target=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d)
log=$work/make-dev.log
make_pid=
helper_pid=

stop_make() {
  [ -n "$make_pid" ] || return 0
  kill -TERM "$make_pid" 2>/dev/null || true
  wait "$make_pid" 2>/dev/null || true
  kill -- "-$make_pid" 2>/dev/null || true
  make_pid=
}
cleanup() {
  stop_make
  [ -z "$helper_pid" ] || kill "$helper_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "dev-smoke: FAILED: $*" >&2
  if [ -f "$log" ]; then
    echo "--- make dev output (last 60 lines) ---" >&2
    tail -n 60 "$log" >&2
  fi
  exit 1
}
passed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
listening() { python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$1" 2>/dev/null; }

start_make() { # extra make arguments…
  setsid make --no-print-directory dev "$@" >"$log" 2>&1 &
  make_pid=$!
  for _ in $(seq 1 300); do
    listening "$WATCH_PORT" && return 0
    kill -0 "$make_pid" 2>/dev/null || fail "make dev stopped"
    sleep 1
  done
  fail "make dev never listened on $WATCH_PORT"
}

# --------------------------------------------------------------- make help
listed=$(make --no-print-directory help | awk '{print $2}' | sort)
phony=$(sed -n 's/^\.PHONY: *//p' Makefile | tr ' ' '\n' | grep -v '^$' | sort)
[ "$listed" = "$phony" ] || fail "make help does not list every target, one line each: $(diff <(echo "$phony") <(echo "$listed") | tr '\n' ' ')"
ok "make help lists each of the $(wc -l <<<"$phony" | tr -d ' ') targets"

# --------------------------------------------------------------- a busy port
python3 -c "
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); time.sleep(600)" "$SANDBOX_PORT" &
helper_pid=$!
sleep 0.5
set +e
out=$(timeout 120 make --no-print-directory dev 2>&1)
rc=$?
set -e
kill "$helper_pid" 2>/dev/null || true
wait "$helper_pid" 2>/dev/null || true
helper_pid=
[ "$rc" != 0 ] || fail "make dev with SANDBOX_PORT busy exited 0: $out"
grep -q "port $SANDBOX_PORT (SANDBOX_PORT) is already in use" <<<"$out" || fail "make dev did not name the busy port: $out"
if listening "$WATCH_PORT" || listening "$MOTO_PORT"; then fail "make dev started something although a port was busy"; fi
ok "a busy SANDBOX_PORT: make dev exits $rc at once, naming it, and starts nothing"

# --------------------------------------------------------------- the README, as written
start_make
# Each function compiles on its first call: not inside the README's commands.
nobody=00000000-0000-4000-8000-000000000000
for route in "POST /users" "POST /users/$nobody/sessions" "POST /sessions/refresh" \
  "GET /users/$nobody/accounts" "POST /accounts/$nobody/reconnect" "DELETE /users/$nobody"; do
  curl -s -o /dev/null -m 600 -X "${route%% *}" "http://127.0.0.1:$WATCH_PORT${route#* }" || fail "warming $route"
done

python3 - "$work" <<'PY' || fail "the documents' shell blocks"
import glob, re, sys, os
work = sys.argv[1]
ports = {"9000": os.environ["WATCH_PORT"], "9100": os.environ["SANDBOX_PORT"],
         "9200": os.environ["MOTO_PORT"], "9400": os.environ["WEB_PORT"]}
# The README first (its walk starts from nothing), then every other document.
documents = ["README.md", "BENCHMARKS.md"] + sorted(glob.glob("docs/*.md") + glob.glob("docs/clients/*.md"))
run = 0
for document in documents:
    text = open(document).read()
    # Any shell block, whatever its fence says (sh, bash, shell, console).
    blocks = re.findall(r"(<!-- smoke: ([^>]*?) -->\n)?```(?:sh|bash|shell|console|zsh)\n(.*?)```", text, re.S)
    for tagged, tag, code in blocks:
        if not tagged:
            sys.exit(f"{document}: a shell block has no <!-- smoke: run|skip: why --> tag:\n{code[:200]}")
        if tag == "run":
            for old, new in ports.items():
                code = re.sub(rf"(127\.0\.0\.1|localhost):{old}\b", rf"\g<1>:{new}", code)
                code = re.sub(rf"--invoke-port {old}\b", f"--invoke-port {new}", code)
            run += 1
            open(f"{work}/readme-{run}.sh", "w").write(f"# {document}\nset -euo pipefail\n" + code)
        elif not tag.startswith("skip: "):
            sys.exit(f"{document}: unknown smoke tag {tag!r}")
print(f"{run} blocks to run in {len(documents)} documents")
PY
blocks=$(ls "$work"/readme-*.sh | wc -l | tr -d " ")
[ "$blocks" -ge 3 ] || fail "only $blocks README blocks to run"
for i in $(seq 1 "$blocks"); do
  bash "$work/readme-$i.sh" >"$work/readme-$i.out" 2>&1 || { cat "$work/readme-$i.out" >&2; fail "$(head -n1 "$work/readme-$i.sh" | cut -c3-) block $i (above)"; }
  ok "$(head -n1 "$work/readme-$i.sh" | cut -c3-) block $i: $(grep -v '^set ' "$work/readme-$i.sh" | grep -v '^#' | grep -v '^ *$' | head -n1 | cut -c1-60)…"
done
page=$(curl -s "http://127.0.0.1:$WEB_PORT/") && grep -q "Example app" <<<"$page" || fail "the web app at WEB_PORT"
ok "the example web app is served on WEB_PORT"

# --------------------------------------------------------------- make smoke (issue 22)
# Against make dev's web front, two callers by `dev-caller:<sub>` tokens:
# every step passes; then, the sandbox failing, it fails naming the step.
smoke_out=$(SMOKE_SANDBOX_CONNECT=1 SMOKE_TOKEN=dev-caller:smoke-a SMOKE_OTHER_TOKEN=dev-caller:smoke-b \
  make --no-print-directory smoke API_URL="http://127.0.0.1:$WEB_PORT" 2>&1) || fail "make smoke: $smoke_out"
for step in create-user new-session open-connect refresh-url list-accounts reconnect-account other-caller-user \
  other-caller-session other-caller-accounts other-caller-erase erase-user erased-user; do
  grep -qE "^$step +ok " <<<"$smoke_out" || fail "make smoke did not pass $step: $smoke_out"
done
curl -s -X POST "http://127.0.0.1:$SANDBOX_PORT/_sandbox/fault" -d '{"fault": "server_error"}' >/dev/null
set +e
smoke_out=$(SMOKE_TOKEN=dev-caller:smoke-c SMOKE_OTHER_TOKEN=dev-caller:smoke-b \
  make --no-print-directory smoke API_URL="http://127.0.0.1:$WEB_PORT" 2>&1)
rc=$?
set -e
curl -s -X DELETE "http://127.0.0.1:$SANDBOX_PORT/_sandbox/fault" >/dev/null
[ "$rc" != 0 ] || fail "make smoke passed although the sandbox failed every call: $smoke_out"
grep -q "FAILED at step create-user: HTTP 502" <<<"$smoke_out" || fail "make smoke did not name the failing step: $smoke_out"
if grep -qE "dev-caller:smoke-|/session/[0-9a-f-]{36}" <<<"$smoke_out"; then fail "make smoke printed a token or a Connect URL"; fi
ok "make smoke: every step against make dev with two callers; with the sandbox failing it exits $rc naming create-user"

# No JWT, no webhook secret (nor the header derived from it) and no session token in make dev's output.
if grep -q "$DEV_TOKEN" "$log"; then fail "the JWT appears in make dev's output"; fi
if grep -q "$DEV_WEBHOOK_SECRET" "$log"; then fail "the webhook secret appears in make dev's output"; fi
webhook_header=$(python3 -c 'import hashlib, hmac, sys
print(hmac.new(sys.argv[1].encode(), b"rollee-connect webhook header v1", hashlib.sha256).hexdigest())' "$DEV_WEBHOOK_SECRET")
if grep -q "$webhook_header" "$log"; then fail "the webhook header's value appears in make dev's output"; fi
sessions=$(cat "$work"/readme-*.out | grep -oE '/session/[0-9a-f-]{36}' | sort -u | cut -d/ -f3)
[ -n "$sessions" ] || fail "the README blocks printed no Connect URL"
for s in $sessions; do
  if grep -q "$s" "$log"; then fail "a session token appears in make dev's output"; fi
done
ok "no JWT, no webhook secret or header value, and none of $(wc -w <<<"$sessions") session tokens in make dev's output"

# --------------------------------------------------------------- SIGTERM
kill -TERM "$make_pid"
for _ in $(seq 1 30); do kill -0 "$make_pid" 2>/dev/null || break; sleep 0.5; done
kill -0 "$make_pid" 2>/dev/null && fail "make did not exit on SIGTERM"
wait "$make_pid" 2>/dev/null || true
make_pid=
for port in "$WATCH_PORT" "$SANDBOX_PORT" "$MOTO_PORT" "$WEB_PORT"; do
  for _ in $(seq 1 20); do listening "$port" || continue 2; sleep 0.5; done
  fail "port $port still answers after SIGTERM to make"
done
ok "SIGTERM to make stops everything make dev started"

# --------------------------------------------------------------- a function that cannot start
start_make SESSIONS_PER_CALLER_PER_MINUTE=0
started=$SECONDS
answer=$(curl -s -m 600 -w ' %{http_code}' -X POST "http://127.0.0.1:$WATCH_PORT/users")
[[ "$answer" == *" 500" ]] || fail "a function that cannot start: $answer"
grep -q 'could not start: SESSIONS_PER_CALLER_PER_MINUTE must be' <<<"$answer" || fail "no reason given: $answer"
again=$SECONDS
curl -s -m 10 -X POST "http://127.0.0.1:$WATCH_PORT/users" | grep -q 'could not start' || fail "a second call"
ok "a function that cannot start answers 500 naming the cause ($((again - started)) s with its build, $((SECONDS - again)) s after)"
stop_make

# --------------------------------------------------------------- another Rollee, with ROLLEE_TOKEN
other_jwt=smoke-other-rollee-jwt-91e2
SANDBOX_ADDR=127.0.0.1:$other_rollee_port SANDBOX_TOKEN=$other_jwt "$target/debug/rollee-sandbox" >/dev/null &
helper_pid=$!
ROLLEE_TOKEN=$other_jwt ROLLEE_API_URL=http://127.0.0.1:$other_rollee_port/api/v0.5 start_make
answer=$(curl -s -m 600 -X POST "http://127.0.0.1:$WATCH_PORT/users")
grep -q "\"connect_url\":\"http://127.0.0.1:$other_rollee_port/v0.4/session/" <<<"$answer" || fail "ROLLEE_API_URL not used: $answer"
if listening "$SANDBOX_PORT"; then fail "a local sandbox was started although ROLLEE_TOKEN was set"; fi
# (A bracket expression, so that this grep's own command line does not match.)
if ps -eo args | grep -q "[${other_jwt:0:1}]${other_jwt:1}"; then fail "ROLLEE_TOKEN appears on a command line"; fi
if grep -q "$other_jwt" "$log"; then fail "ROLLEE_TOKEN appears in make dev's output"; fi
ok "ROLLEE_TOKEN and ROLLEE_API_URL: the functions call that Rollee with that JWT; no local sandbox; the JWT on no command line"
stop_make

echo "dev-smoke: $passed passed, 0 failed"

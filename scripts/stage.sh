#!/usr/bin/env bash
# One stage of `make test`: runs the command, then prints how long it took,
# so that a CI log says where its minutes went.
#   scripts/stage.sh NAME COMMAND [ARG...]
set -uo pipefail
name=$1
shift
start=$(date +%s)
echo "=== stage $name: $*"
"$@"
rc=$?
echo "=== stage $name: $(($(date +%s) - start)) s$([ "$rc" -eq 0 ] || echo ", FAILED (exit $rc)")"
exit "$rc"

#!/usr/bin/env bash
# Offline security scans:
#   checkov     template.yaml against AWS's best-practice checks (.checkov.yaml
#               lists the skipped checks, each with its reason)
#   cargo-deny  the crate graph: licenses, sources, bans (deny.toml); the
#               advisories check needs the network: cargo deny --locked check advisories
# Needs `checkov` and `cargo-deny` on PATH. Prints a short result per scanner
# and exits non-zero if either finds a problem (or cannot run).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in checkov cargo-deny; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "scan: $tool is not on PATH" >&2
        exit 2
    fi
done

failed=0

# ---- checkov. BC_SKIP_MAPPING=TRUE and skip-download (in the config) keep it
# offline: no download of Prisma Cloud's guidelines or check metadata.
start=$SECONDS
rc=0
out=$(BC_SKIP_MAPPING=TRUE checkov --config-file .checkov.yaml 2>&1) || rc=$?
summary=$(grep -E '^Passed checks:' <<<"$out" || true)
if [[ $rc -ne 0 ]]; then
    verdict="FAILED"
elif grep -q 'Parsing errors' <<<"$out"; then
    # checkov exits 0 on a template it cannot parse.
    verdict="FAILED (template.yaml not parsed)"; rc=1
elif ! grep -Eq '^Passed checks: [1-9]' <<<"$out"; then
    verdict="FAILED (no check ran)"; rc=1
else
    verdict="ok"
fi
if [[ $rc -ne 0 ]]; then
    failed=1
    grep -v '^[[:space:]]*$' <<<"$out" || true
fi
echo "checkov: $verdict: ${summary:-no summary} ($((SECONDS - start)) s)"

# ---- cargo-deny: licenses, sources, bans only (no advisory database).
start=$SECONDS
rc=0
out=$(cargo-deny --locked --color never check --hide-inclusion-graph licenses sources bans 2>&1) || rc=$?
if [[ $rc -ne 0 ]]; then
    failed=1
    printf '%s\n' "$out"
    echo "cargo-deny: FAILED ($((SECONDS - start)) s)"
else
    # Warnings (duplicate versions) as one line each, then cargo-deny's summary.
    grep -E '^(warning|error)\[' <<<"$out" || true
    echo "cargo-deny: ok: $(tail -n 1 <<<"$out") ($((SECONDS - start)) s)"
fi

exit "$failed"

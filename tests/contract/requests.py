"""Reads schemathesis's NDJSON report: how many requests each route got and
which statuses came back. Fails when a route got fewer than --min requests, or
any answer was a 5xx (no fault is injected during the run). The webhook route
is fuzzed too: make dev's receiver requires X-Signature, which no generated
request can have, so every answer there must be 401 (nothing gets past its
authentication), from at least half --min requests.

    python tests/contract/requests.py report.ndjson --min 200
"""

import argparse
import collections
import json
import re
import sys
from urllib.parse import urlsplit

ROUTES = [
    ("POST /users", re.compile(r"^/users$")),
    ("POST /users/{user_id}/sessions", re.compile(r"^/users/[^/]+/sessions$")),
    ("POST /sessions/refresh", re.compile(r"^/sessions/refresh$")),
    ("GET /users/{user_id}/accounts", re.compile(r"^/users/[^/]+/accounts$")),
    ("POST /accounts/{account_id}/reconnect", re.compile(r"^/accounts/[^/]+/reconnect$")),
    ("DELETE /users/{user_id}", re.compile(r"^/users/[^/]+$")),
    ("POST /webhooks/rollee", re.compile(r"^/webhooks/rollee$")),
]
WEBHOOK = "POST /webhooks/rollee"


def route_of(method, path):
    for name, pattern in ROUTES:
        if name.startswith(method + " ") and pattern.match(path):
            return name
    return f"{method} (not a route)"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("report")
    parser.add_argument("--min", type=int, default=200)
    args = parser.parse_args()
    counts = collections.Counter()
    statuses = collections.defaultdict(collections.Counter)
    for line in open(args.report):
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        for interaction in (finished["recorder"].get("interactions") or {}).values():
            request, response = interaction["request"], interaction.get("response")
            route = route_of(request["method"], urlsplit(request["uri"]).path)
            counts[route] += 1
            statuses[route][response["status_code"] if response else "no answer"] += 1
    ok = True
    for name, _ in ROUTES:
        seen = dict(sorted(statuses[name].items(), key=lambda kv: str(kv[0])))
        print(f"contract: {name}: {counts[name]} requests, statuses {seen}")
        least = args.min // 2 if name == WEBHOOK else args.min
        if counts[name] < least:
            print(f"contract: {name}: fewer than {least} requests")
            ok = False
        if name == WEBHOOK and set(seen) != {401}:
            print(f"contract: {name}: a generated request got another answer than 401: {seen}")
            ok = False
    for route, by_status in statuses.items():
        bad = {s: n for s, n in by_status.items() if s == "no answer" or (isinstance(s, int) and s >= 500)}
        if bad:
            print(f"contract: {route}: answers without a response or 5xx: {bad}")
            ok = False
    print(f"contract: {sum(counts.values())} requests in all")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

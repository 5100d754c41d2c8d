#!/usr/bin/env python3
"""Prints one of events/ (API Gateway HTTP API events, as `cargo lambda invoke
--data-file` takes them) with its caller, user id or body changed:

    scripts/event.py new-session --sub bob --user "$user" > /tmp/event.json
    cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port 9000 new-session --data-file /tmp/event.json

--sub: the caller (the JWT's `sub` claim, as API Gateway's authorizer passes it);
--no-claims: no authorizer claims at all; --user: the path's user id;
--body: the request body (a JSON text).
"""

import argparse
import json
import sys
from pathlib import Path

EVENTS = Path(__file__).resolve().parent.parent / "events"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="an event of events/, without .json")
    parser.add_argument("--sub")
    parser.add_argument("--no-claims", action="store_true")
    parser.add_argument("--user")
    parser.add_argument("--body")
    args = parser.parse_args()
    event = json.loads((EVENTS / f"{args.name}.json").read_text())
    context = event["requestContext"]
    if args.no_claims:
        context.pop("authorizer", None)
    if args.sub is not None:
        claims = context.setdefault("authorizer", {"jwt": {"claims": {}, "scopes": None}})["jwt"]["claims"]
        claims["sub"] = args.sub
    if args.user is not None:
        path = f"/users/{args.user}/sessions"
        event["rawPath"] = path
        context["http"]["path"] = path
        event["pathParameters"] = {"user_id": args.user}
    if args.body is not None:
        event["body"] = args.body
    json.dump(event, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()

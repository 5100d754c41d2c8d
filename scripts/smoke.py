#!/usr/bin/env python3
"""make smoke: the whole flow against a running API, step by step, as a table.

Steps: find-or-create the caller's user, a new session, open the Connect URL,
refresh it; then, as a second caller, the first caller's user and session must
answer 404 (ownership). Listing accounts is a lifecycle route this API does not
have yet: that step says so and is skipped.

Inputs (environment):
  API_URL            the API's base URL; or
  STACK              a deployed stack's name: its ApiUrl output is read with
                     `aws cloudformation describe-stacks` (your AWS credentials)
  SMOKE_TOKEN        the first caller's login token (the app's JWT; against
                     make dev: any token, or `dev-caller:<sub>`)
  SMOKE_OTHER_TOKEN  a second caller's login token (another user)
  SMOKE_TOKENS_FILE  instead of the two: a file with the two tokens, one a line
Tokens are never printed, nor Connect URLs or session ids (bearer credentials).
Exit 0 when every step passed; otherwise 1, naming the first failing step.
"""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

TIMEOUT = 30


class StepFailed(Exception):
    pass


def die(message):
    print(f"smoke: {message}", file=sys.stderr)
    sys.exit(2)


def api_url():
    url = os.environ.get("API_URL", "").strip()
    stack = os.environ.get("STACK", "").strip()
    if url:
        return url.rstrip("/")
    if not stack:
        die("give API_URL=<the API's base URL> or STACK=<a deployed stack's name>")
    try:
        out = subprocess.run(
            ["aws", "cloudformation", "describe-stacks", "--stack-name", stack,
             "--query", "Stacks[0].Outputs[?OutputKey=='ApiUrl'].OutputValue", "--output", "text"],
            check=True, capture_output=True, text=True, timeout=60,
        ).stdout.strip()
    except FileNotFoundError:
        die("the AWS CLI (aws) is needed to read the stack's ApiUrl; or give API_URL")
    except subprocess.CalledProcessError as e:
        die(f"could not read stack {stack}'s outputs: {e.stderr.strip()}")
    if not out or out == "None":
        die(f"stack {stack} has no ApiUrl output")
    return out.rstrip("/")


def tokens():
    path = os.environ.get("SMOKE_TOKENS_FILE", "").strip()
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                lines = [l.strip() for l in f if l.strip()]
        except OSError as e:
            die(f"SMOKE_TOKENS_FILE: {e.strerror}")
        if len(lines) < 2:
            die("SMOKE_TOKENS_FILE needs two tokens, one a line (two different callers)")
        return lines[0], lines[1]
    first = os.environ.get("SMOKE_TOKEN", "").strip()
    second = os.environ.get("SMOKE_OTHER_TOKEN", "").strip()
    if not first or not second:
        die("give SMOKE_TOKEN and SMOKE_OTHER_TOKEN (two different callers), or SMOKE_TOKENS_FILE")
    if first == second:
        die("SMOKE_TOKEN and SMOKE_OTHER_TOKEN are the same: ownership needs two callers")
    return first, second


def call(method, url, token=None, body=None):
    """(status, parsed JSON or None). Never raises for an HTTP status."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        raise StepFailed(f"no answer: {getattr(e, 'reason', e)}")
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def problem(status, body):
    """What an error answer says, without echoing anything that could be a credential."""
    if isinstance(body, dict):
        what = body.get("type") or body.get("message") or ""
        return f"HTTP {status} {what}".strip()
    return f"HTTP {status}"


def expect(status, body, wanted):
    if status not in wanted:
        raise StepFailed(problem(status, body))


def main():
    base = api_url()
    first, second = tokens()
    state = {}

    def create_user():
        status, body = call("POST", f"{base}/users", first, {})
        expect(status, body, (200, 201))
        state["user"] = body["user_id"]
        state["url"] = body["connect_url"]
        return "created" if status == 201 else "found (already existed)"

    def new_session():
        status, body = call("POST", f"{base}/users/{state['user']}/sessions", first, {})
        expect(status, body, (200, 201))
        state["url"] = body["connect_url"]
        return f"expires {body.get('expires_at') or 'unknown'}"

    def open_connect():
        try:
            with urllib.request.urlopen(state["url"], timeout=TIMEOUT) as page:
                status = page.status
        except urllib.error.HTTPError as e:
            status = e.code
        except (urllib.error.URLError, OSError) as e:
            raise StepFailed(f"the Connect URL did not answer: {getattr(e, 'reason', e)}")
        if status != 200:
            raise StepFailed(f"the Connect URL answered HTTP {status}")
        return "the Connect page answered 200"

    def refresh():
        status, body = call("POST", f"{base}/sessions/refresh", first, {"connect_url": state["url"]})
        expect(status, body, (200,))
        state["refreshed"] = body["connect_url"]
        return "a fresh Connect URL"

    def other_user():
        status, body = call("POST", f"{base}/users/{state['user']}/sessions", second, {})
        expect(status, body, (404,))
        return "the second caller gets 404 for the first caller's user"

    def other_session():
        status, body = call("POST", f"{base}/sessions/refresh", second, {"connect_url": state["url"]})
        expect(status, body, (404,))
        return "the second caller gets 404 for the first caller's session"

    steps = [
        ("create-user", create_user),
        ("new-session", new_session),
        ("open-connect", open_connect),
        ("refresh-url", refresh),
        ("list-accounts", None),
        ("other-caller-user", other_user),
        ("other-caller-session", other_session),
    ]
    print(f"smoke: {base}")
    print(f"{'step':<22} {'result':<6} {'ms':>6}  note")
    failed = None
    for name, run in steps:
        if run is None:
            print(f"{name:<22} {'skip':<6} {'':>6}  no accounts route in this API yet (lifecycle routes)")
            continue
        started = time.monotonic()
        try:
            note, result = run(), "ok"
        except StepFailed as e:
            note, result = str(e), "FAIL"
        except (KeyError, TypeError) as e:
            note, result = f"the answer lacks {e}", "FAIL"
        ms = int((time.monotonic() - started) * 1000)
        print(f"{name:<22} {result:<6} {ms:>6}  {note}", flush=True)
        if result == "FAIL":
            failed = (name, note)
            break
    if failed:
        print(f"smoke: FAILED at step {failed[0]}: {failed[1]}", file=sys.stderr)
        return 1
    print("smoke: every step passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

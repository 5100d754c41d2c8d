#!/usr/bin/env python3
"""make smoke: the whole flow against a running API, step by step, as a table.

Steps: find-or-create the caller's user, a new session, open the Connect URL,
refresh it; list the user's accounts, and reconnect the first one when there
is one (a new smoke user has none until someone connects an account in its
Connect page: then the step says so and is skipped); as a second caller, the
first caller's user, session and accounts must answer 404 (ownership); last,
erase the first caller's user (204), after which its accounts and a second
erasure answer 404. The next run's POST /users creates a new user.

Inputs (environment):
  API_URL            the API's base URL; or
  STACK              a deployed stack's name: its ApiUrl output is read with
                     `aws cloudformation describe-stacks` (your AWS credentials)
  SMOKE_TOKEN        the first caller's login token (the app's JWT; against
                     make dev: any token, or `dev-caller:<sub>`)
  SMOKE_OTHER_TOKEN  a second caller's login token (another user)
  SMOKE_TOKENS_FILE  instead of the two: a file with the two tokens, one a line
  SMOKE_SANDBOX_CONNECT=1  against make dev only: press the local sandbox's
                     Connect page button after opening it, so that the user
                     has an account and reconnect-account runs
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


class Skipped(Exception):
    """A step that cannot run against this stack's data (said why)."""


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


def open_url(url, method="GET"):
    """The HTTP status of a Connect URL (never printed: a bearer credential)."""
    data = b"" if method == "POST" else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method), timeout=TIMEOUT) as page:
            return page.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError) as e:
        raise StepFailed(f"the Connect URL did not answer: {getattr(e, 'reason', e)}")


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
        status = open_url(state["url"])
        if status != 200:
            raise StepFailed(f"the Connect URL answered HTTP {status}")
        if os.environ.get("SMOKE_SANDBOX_CONNECT", "").strip() == "1":
            # The local sandbox's page has a button (a form POST) that connects an account.
            status = open_url(state["url"] + "/connect", method="POST")
            if status != 200:
                raise StepFailed(f"the sandbox's Connect button answered HTTP {status}")
            return "the Connect page answered 200; its sandbox button connected an account"
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

    def list_accounts():
        status, body = call("GET", f"{base}/users/{state['user']}/accounts", first)
        expect(status, body, (200,))
        if body["user_id"] != state["user"]:
            raise StepFailed("the answer names another user")
        accounts = body["accounts"]
        state["accounts"] = [a["account_id"] for a in accounts]
        if not accounts:
            return "no account connected yet"
        counts = {}
        for a in accounts:
            counts[a["status"]] = counts.get(a["status"], 0) + 1
        return f"{len(accounts)} account(s): " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))

    def reconnect():
        if not state.get("accounts"):
            raise Skipped("no account to reconnect (connect one in the user's Connect page, then run again)")
        account = state["accounts"][0]
        status, body = call("POST", f"{base}/accounts/{account}/reconnect", first, {})
        expect(status, body, (201,))
        if body["account_id"] != account or body["user_id"] != state["user"]:
            raise StepFailed("the answer names another account or user")
        status = open_url(body["connect_url"])
        if status != 200:
            raise StepFailed(f"the reconnect session's Connect URL answered HTTP {status}")
        return "a reconnect session whose Connect page answered 200"

    def other_accounts():
        status, body = call("GET", f"{base}/users/{state['user']}/accounts", second)
        expect(status, body, (404,))
        return "the second caller gets 404 for the first caller's accounts"

    def other_erase():
        status, body = call("DELETE", f"{base}/users/{state['user']}", second)
        expect(status, body, (404,))
        return "the second caller cannot erase the first caller's user (404)"

    def erase():
        status, body = call("DELETE", f"{base}/users/{state['user']}", first)
        expect(status, body, (204,))
        return "the first caller's user erased (204)"

    def erased():
        status, body = call("GET", f"{base}/users/{state['user']}/accounts", first)
        expect(status, body, (404,))
        status, body = call("DELETE", f"{base}/users/{state['user']}", first)
        expect(status, body, (404,))
        return "its accounts and a second erasure answer 404"

    steps = [
        ("create-user", create_user),
        ("new-session", new_session),
        ("open-connect", open_connect),
        ("refresh-url", refresh),
        ("list-accounts", list_accounts),
        ("reconnect-account", reconnect),
        ("other-caller-user", other_user),
        ("other-caller-session", other_session),
        ("other-caller-accounts", other_accounts),
        ("other-caller-erase", other_erase),
        ("erase-user", erase),
        ("erased-user", erased),
    ]
    print(f"smoke: {base}")
    print(f"{'step':<22} {'result':<6} {'ms':>6}  note")
    failed = None
    for name, run in steps:
        started = time.monotonic()
        try:
            note, result = run(), "ok"
        except Skipped as e:
            note, result = str(e), "skip"
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

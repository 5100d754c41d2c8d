"""The example web app (examples/web/) in headless Chromium, against a running
`make dev`: sign in as the local dev user, POST /users, open Rollee Connect
(the sandbox's page) in the app, time left, a problem turned into a human
message, expiry and the automatic refresh; then the user's accounts: one
connected on the Connect page shows as connected, flipped to disconnected with
the sandbox's control it shows a "Reconnect", reconnected through the
sandbox's page it shows connected again; then "Erase my data" with its
confirmation, and the user is gone (the list answers 404, shown as such);
the same flow with the page's clock an hour fast and an hour slow (the
countdown still right, one refresh near the end and no storm); a screenshot.

    python tests/web/test_example.py --web http://127.0.0.1:9400 \
        --sandbox http://127.0.0.1:9100 --chromium /usr/bin/chromium --screenshot target/web-example.png

Playwright drives the system's Chromium (never `playwright install`).
"""

import argparse
import datetime
import json
import re
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

passed = 0
failed = 0


def check(what, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok: {what}")
    else:
        failed += 1
        print(f"FAILED: {what} {detail}")


def sandbox(base, path, body=None, method="POST"):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read() or b"{}")


SESSION_ROUTES = re.compile(r"/(users|users/[^/]+/sessions|sessions/refresh|accounts/[^/]+/reconnect)$")
LIFECYCLE_ROUTES = re.compile(r"/(users/[^/]+/accounts|accounts/[^/]+/reconnect|users/[^/]+)$")


class Network:
    """The page's calls to the API, as the browser sent them, and the session answers."""

    def __init__(self, page):
        self.requests = []
        self.responses = []
        self.lifecycle = []  # (method, path with ids as {id}, status) of the lifecycle routes' answers
        page.on("response", lambda r: self.lifecycle.append(
            (r.request.method, re.sub(r"[0-9a-f-]{36}", "{id}", urllib.parse.urlparse(r.url).path), r.status))
                if LIFECYCLE_ROUTES.search(urllib.parse.urlparse(r.url).path) and r.request.method != "OPTIONS" else None)
        page.on("request", lambda r: self.requests.append(urllib.parse.urlparse(r.url).path)
                if r.method == "POST" and SESSION_ROUTES.search(urllib.parse.urlparse(r.url).path) else None)
        page.on("response", lambda r: self.responses.append((time.monotonic(), r))
                if r.request.method == "POST" and r.status < 300 and SESSION_ROUTES.search(urllib.parse.urlparse(r.url).path) else None)

    def count(self, route):
        return sum(1 for p in self.requests if p.endswith(route))

    def last_session(self):
        """The last session answer, and when it arrived (time.monotonic())."""
        received, response = self.responses[-1]
        return response.json(), received


def seconds_shown(page):
    text = page.get_by_test_id("time-left").inner_text()
    m = re.search(r"Time left: (\d+):(\d\d)", text)
    return int(m.group(1)) * 60 + int(m.group(2)) if m else None


def countdown_is(page, answer, what, page_seconds=0):
    """The countdown shows the answer's expires_in less the time since it
    arrived (real seconds, and `page_seconds` the test moved the page's clock
    on), give or take 2: the page ticks each second."""
    session, received = answer
    shown = expected = None
    for _ in range(20):
        expected = session["expires_in"] - page_seconds - (time.monotonic() - received)
        shown = seconds_shown(page)
        if shown is not None and abs(shown - expected) <= 2:
            break
        time.sleep(0.25)
    check(what, shown is not None and abs(shown - expected) <= 2, f"shown {shown}, expected {expected:.1f}")


def serve_file(route):
    """A static host of the repository's files, inside the browser."""
    path = (ROOT / urllib.parse.urlparse(route.request.url).path.lstrip("/")).resolve()
    if ROOT not in path.parents or not path.is_file():
        route.fulfill(status=404, body="not found")
        return
    types = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
    route.fulfill(status=200, body=path.read_bytes(), content_type=types.get(path.suffix, "application/octet-stream"))


def skewed_clock(browser, web, offset_seconds):
    """The page's clock `offset_seconds` off: the countdown is still the server's
    expires_in, nothing is refreshed while time is left, one refresh near the end."""
    name = f"the page's clock {abs(offset_seconds) // 60} minutes {'fast' if offset_seconds > 0 else 'slow'}"
    page = browser.new_page()
    page.set_default_timeout(60_000)
    net = Network(page)
    page.clock.install(time=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_seconds))
    page.goto(web + "/")
    page.get_by_test_id("signin-local").click()
    page.get_by_test_id("connect").click()
    expect(page.get_by_test_id("message")).to_contain_text("Rollee Connect is open below")
    answer = net.last_session()
    left = answer[0]["expires_in"]
    check(f"{name}: the server says 30 minutes", 1795 <= left <= 1800, left)
    countdown_is(page, answer, f"{name}: the countdown is the server's expires_in")
    time.sleep(3)  # real seconds: a page that refreshes on every tick would have done so by now
    page.clock.run_for("05:00")
    countdown_is(page, answer, f"{name}: 5 minutes later, 5 minutes less", page_seconds=300)
    check(f"{name}: no refresh while time is left", net.count("/sessions/refresh") == 0, net.requests)

    # About 30 s before its end, within the app's margin: one refresh, then a whole new session.
    page.clock.run_for(f"{(left - 300 - 30) // 60:02d}:{(left - 300 - 30) % 60:02d}")
    expect(page.get_by_test_id("message")).to_contain_text("about to expire, so the app refreshed it")
    countdown_is(page, net.last_session(), f"{name}: the refreshed session counts down from its own expires_in")
    time.sleep(3)
    page.clock.run_for("10:00")
    refreshes = net.count("/sessions/refresh")
    check(f"{name}: exactly one refresh over 40 minutes of page time", refreshes == 1, net.requests)
    check(f"{name}: the page's count agrees", page.evaluate("window.rolleeExample.refreshCalls()") == refreshes)
    page.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--web", required=True)
    parser.add_argument("--sandbox", required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--screenshot", default=str(ROOT / "target/web-example.png"))
    args = parser.parse_args()
    started = time.monotonic()

    spec = yaml.safe_load((ROOT / "docs/openapi.yaml").read_text())
    # Every problem type reaches the app (event-bus-unavailable through
    # DELETE /users/{user_id}), each with its human message.
    problem_types = spec["components"]["schemas"]["Problem"]["properties"]["type"]["enum"]
    statuses = spec["components"]["schemas"]["Account"]["properties"]["status"]["enum"]

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 1100})
        page.set_default_timeout(60_000)  # the first call may wait for cargo lambda watch
        # The page's clock is Playwright's, so that the test can let 31 minutes pass.
        page.clock.install()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        net = Network(page)
        page.goto(args.web + "/")

        # 1. Sign in: locally, the dev identity.
        page.get_by_test_id("signin-local").click()
        expect(page.get_by_test_id("signed-in")).to_contain_text("Signed in as dev-user")
        check("signed in as the local dev user", True)

        # 2. POST /users, and Rollee Connect (the sandbox's page) opens in the app.
        page.get_by_test_id("connect").click()
        expect(page.get_by_test_id("session")).to_be_visible()
        first = page.get_by_test_id("session-id").inner_text()
        check("POST /users gave a session", re.fullmatch(r"[0-9a-f-]{36}", first) is not None, first)
        frame = page.frame_locator("[data-testid=connect-frame]")
        expect(frame.locator("#status")).to_contain_text("Session valid until")
        check("the Connect page opened in the app says the session is valid", True)
        link = page.get_by_test_id("open-link").get_attribute("href")
        check("the Connect URL ends with the session id", link.endswith("/session/" + first), link)
        expect(page.get_by_test_id("time-left")).to_contain_text(re.compile(r"Time left: (29|30):\d\d"))
        countdown_is(page, net.last_session(), "time left is counted from expires_in")

        # 3. Every problem type has its own human message; gateway answers too.
        messages = page.evaluate(
            """(types) => types.map((t) => [t, window.rolleeExample.humanMessage(
                 new window.rolleeExample.ConnectError({kind: "problem", status: 400, type: t, detail: ""}))])""",
            problem_types,
        )
        fallback = page.evaluate("window.rolleeExample.humanMessage(new Error('?'))")
        missing = [t for t, m in messages if not m or m == fallback]
        check(f"each of the {len(problem_types)} problem types has a human message", not missing, missing)
        gateway = page.evaluate(
            "window.rolleeExample.humanMessage(new window.rolleeExample.ConnectError({kind: 'gateway', status: 401, detail: 'Unauthorized'}))")
        check("API Gateway's 401 asks to sign in again", "sign in again" in gateway, gateway)

        # 4. Real problems from the server, shown as human messages.
        sandbox(args.sandbox, "/_sandbox/fault", {"fault": "rate_limited", "retry_after": 30, "times": 1})
        page.get_by_test_id("new-session").click()
        expect(page.get_by_test_id("message")).to_contain_text("Too many attempts")
        expect(page.get_by_test_id("message")).to_contain_text("in 30 s")
        check("Rollee's 429 is shown as 'Too many attempts … (in 30 s)'", True)
        sandbox(args.sandbox, "/_sandbox/fault", {"fault": "server_error", "times": 2})
        page.get_by_test_id("new-session").click()
        expect(page.get_by_test_id("message")).to_contain_text("Our connection partner is having trouble")
        check("Rollee's 5xx is shown as a human message", True)
        sandbox(args.sandbox, "/_sandbox/fault", method="DELETE")
        page.get_by_test_id("new-session").click()
        expect(page.get_by_test_id("message")).to_contain_text("Another session")
        second = page.get_by_test_id("session-id").inner_text()
        check("POST /users/{user_id}/sessions gave another session", second not in ("", first), second)

        # 5. 31 minutes later (the sandbox's clock and the page's): expired,
        #    and the app refreshes the session by itself, once.
        before = net.count("/sessions/refresh")
        sandbox(args.sandbox, "/_sandbox/clock", {"advance_seconds": 31 * 60})
        page.clock.fast_forward("31:00")
        expect(page.get_by_test_id("message")).to_contain_text("about to expire, so the app refreshed it")
        refreshed = page.get_by_test_id("session-id").inner_text()
        check("the expired session was refreshed", refreshed not in ("", first, second), refreshed)
        expect(frame.locator("#status")).to_contain_text("Session valid until")
        check("the refreshed session's Connect page is valid", True)
        countdown_is(page, net.last_session(), "the refreshed session counts down from its expires_in")
        time.sleep(3)
        check("one automatic refresh", net.count("/sessions/refresh") == before + 1, net.requests)

        # 6. The user's accounts: connect one on the Connect page (the
        #    sandbox's button): the list reloads by itself and shows it connected.
        labels = page.evaluate("window.rolleeExample.STATUS_LABELS")
        check(f"each of the {len(statuses)} account statuses has a label", all(labels.get(s) for s in statuses), labels)
        expect(page.get_by_test_id("accounts-section")).to_be_visible()
        frame.locator("#connect-account").click()
        expect(frame.locator("#status")).to_contain_text("Account connected")
        account = page.get_by_test_id("account")
        expect(account).to_have_count(1)
        expect(account).to_have_attribute("data-status", "connected")
        expect(account.get_by_test_id("account-status")).to_have_text(labels["connected"])
        check("after connecting, the list shows the account connected", True)
        check("a connected account has no Reconnect", account.get_by_test_id("reconnect").count() == 0)
        account_id = account.get_attribute("data-account-id")
        check("the list names the account the Connect page connected",
              account_id == frame.locator("#account-id").inner_text(), account_id)

        # Rollee disconnects it (the sandbox's control); the reloaded list says so, with a Reconnect.
        sandbox(args.sandbox, f"/_sandbox/accounts/{account_id}", {"connected": False})
        page.get_by_test_id("list-accounts").click()
        expect(account).to_have_attribute("data-status", "disconnected")
        expect(account.get_by_test_id("account-status")).to_have_text(labels["disconnected"])
        expect(account.get_by_test_id("reconnect")).to_be_visible()
        check("disconnected at Rollee, the reloaded list shows it disconnected with a Reconnect", True)

        # Reconnect: its Connect page opens in the app like any session's; its button reconnects.
        account.get_by_test_id("reconnect").click()
        expect(page.get_by_test_id("message")).to_contain_text("reconnect your account")
        expect(frame.locator("#status")).to_contain_text(f"Reconnect account {account_id}")
        check("the reconnect session's Connect page opened in the app", True)
        reconnect_answer = net.last_session()
        check("the reconnect session is the account's", reconnect_answer[0].get("account_id") == account_id, reconnect_answer[0].keys())
        countdown_is(page, reconnect_answer, "the reconnect session counts down from its expires_in")
        frame.locator("#connect-account").click()
        expect(frame.locator("#status")).to_contain_text("Account reconnected")
        expect(account).to_have_attribute("data-status", "connected")
        expect(account.get_by_test_id("account-status")).to_have_text(labels["connected"])
        check("reconnected through the sandbox's page, the list shows it connected again", True)
        Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=args.screenshot, full_page=True)

        # "Erase my data": nothing without the confirmation; with it, 204 and the user is gone.
        erased_user = page.locator("#user-id").text_content()
        page.get_by_test_id("erase").click()
        expect(page.get_by_test_id("erase-confirm")).to_be_visible()
        page.get_by_test_id("erase-cancel").click()
        expect(page.get_by_test_id("erase-confirm")).to_be_hidden()
        check("Cancel sends nothing", not any(m == "DELETE" for m, _, _ in net.lifecycle), net.lifecycle)
        page.get_by_test_id("erase").click()
        page.get_by_test_id("erase-yes").click()
        expect(page.get_by_test_id("message")).to_contain_text("Your data was erased")
        expect(page.get_by_test_id("session")).to_be_hidden()
        expect(page.get_by_test_id("account")).to_have_count(0)
        check("confirmed, DELETE /users/{user_id} answered 204",
              ("DELETE", "/users/{id}", 204) in net.lifecycle, net.lifecycle)
        page.get_by_test_id("list-accounts").click()
        expect(page.get_by_test_id("accounts-note")).to_have_attribute("data-gone", "true")
        expect(page.get_by_test_id("accounts-note")).to_contain_text("no longer exists")
        check("after the erasure the list answers 404, shown as a user that is gone",
              net.lifecycle[-1] == ("GET", "/users/{id}/accounts", 404), net.lifecycle)
        page.get_by_test_id("connect").click()
        expect(page.get_by_test_id("message")).to_contain_text("Rollee Connect is open below")
        check("POST /users afterwards makes a new user",
              page.locator("#user-id").text_content() not in ("", erased_user), erased_user)
        expect(page.get_by_test_id("accounts-note")).not_to_have_attribute("data-gone", "true")
        check("lifecycle calls, in order", [(m, p) for m, p, _ in net.lifecycle] == [
            ("GET", "/users/{id}/accounts"), ("GET", "/users/{id}/accounts"), ("POST", "/accounts/{id}/reconnect"),
            ("GET", "/users/{id}/accounts"), ("DELETE", "/users/{id}"), ("GET", "/users/{id}/accounts"),
        ], net.lifecycle)

        # 7, 8. The page's clock an hour fast, then an hour slow.
        skewed_clock(browser, args.web, 3600)
        skewed_clock(browser, args.web, -3600)

        # 9. From a static host serving the repository (the page at
        #    /examples/web/, the client at /clients/typescript/dist/), the page
        #    asks for a deployed stack's ApiUrl and a login token to paste.
        deployed = browser.new_page()
        deployed.route("http://static.test/**", lambda route: serve_file(route))
        deployed.goto("http://static.test/examples/web/index.html")
        expect(deployed.locator("#signin-deployed")).to_be_visible()
        check("served elsewhere, the page asks for ApiUrl and a login token", deployed.locator("#signin-local").is_hidden())
        deployed.close()

        check("no script error on the page", not errors, errors)
        browser.close()

    print(f"web example: screenshot {args.screenshot} ({time.monotonic() - started:.1f} s)")
    print(f"web-example: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

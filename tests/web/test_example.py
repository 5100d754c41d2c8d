"""The example web app (examples/web/) in headless Chromium, against a running
`make dev`: sign in as the local dev user, POST /users, open Rollee Connect
(the sandbox's page) in the app, time left, a problem turned into a human
message, expiry and the automatic refresh; then a screenshot.

    python tests/web/test_example.py --web http://127.0.0.1:9400 \
        --sandbox http://127.0.0.1:9100 --chromium /usr/bin/chromium --screenshot target/web-example.png

Playwright drives the system's Chromium (never `playwright install`).
"""

import argparse
import json
import re
import sys
import time
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--web", required=True)
    parser.add_argument("--sandbox", required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--screenshot", default=str(ROOT / "target/web-example.png"))
    args = parser.parse_args()
    started = time.monotonic()

    spec = yaml.safe_load((ROOT / "docs/openapi.yaml").read_text())
    # The app's problem types: all of them but those only Rollee's webhook
    # deliveries get (docs/api.md says which).
    webhook_only = {"urn:rollee-connect:problem:event-bus-unavailable"}
    problem_types = [
        t for t in spec["components"]["schemas"]["Problem"]["properties"]["type"]["enum"] if t not in webhook_only
    ]

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 1100})
        page.set_default_timeout(60_000)  # the first call may wait for cargo lambda watch
        # The page's clock is Playwright's, so that the test can let 31 minutes pass.
        page.clock.install()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
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
        check("time left is counted from expires_at", True)

        # 3. Every problem type has its own human message; gateway answers too.
        messages = page.evaluate(
            """(types) => types.map((t) => [t, window.rolleeExample.humanMessage(
                 400, {type: t, title: "", status: 400, detail: "", request_id: ""})])""",
            problem_types,
        )
        fallback = page.evaluate("window.rolleeExample.humanMessage(500, null)")
        missing = [t for t, m in messages if not m or m == fallback]
        check(f"each of the {len(problem_types)} problem types has a human message", not missing, missing)
        gateway = page.evaluate("window.rolleeExample.humanMessage(401, {message: 'Unauthorized'})")
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
        #    and the app refreshes the session by itself.
        sandbox(args.sandbox, "/_sandbox/clock", {"advance_seconds": 31 * 60})
        page.clock.fast_forward("31:00")
        expect(page.get_by_test_id("message")).to_contain_text("The session expired, so the app refreshed it")
        refreshed = page.get_by_test_id("session-id").inner_text()
        check("the expired session was refreshed", refreshed not in ("", first, second), refreshed)
        expect(frame.locator("#status")).to_contain_text("Session valid until")
        check("the refreshed session's Connect page is valid", True)
        expect(page.get_by_test_id("time-left")).to_contain_text(re.compile(r"Time left: (29|30):\d\d"))

        # 6. Opened as a plain file (any static host), the page asks for a
        #    deployed stack's ApiUrl and a login token to paste.
        deployed = browser.new_page()
        deployed.goto((ROOT / "examples/web/index.html").as_uri())
        expect(deployed.locator("#signin-deployed")).to_be_visible()
        check("served elsewhere, the page asks for ApiUrl and a login token", deployed.locator("#signin-local").is_hidden())
        deployed.close()

        Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=args.screenshot, full_page=True)
        check("no script error on the page", not errors, errors)
        browser.close()

    print(f"web example: screenshot {args.screenshot} ({time.monotonic() - started:.1f} s)")
    print(f"web-example: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

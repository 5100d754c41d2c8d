// The client against a running `make dev` (the functions, the local Rollee
// sandbox, moto), through its web front, which answers as API Gateway does
// (its 401 for a missing or expired login token, its {"message"} 404):
//
//   CONNECT_API=http://127.0.0.1:9400 CONNECT_SANDBOX=http://127.0.0.1:9100 node --test test/
//
// The tests run in order, as one caller, against a make dev of their own
// (`make client` starts one). Every route of docs/openapi.yaml is called:
// the three session routes, then the lifecycle ones (accounts, reconnect,
// erasure), with an account connected on the sandbox's Connect page. Of the problem types, those make dev can be
// made to answer are here; `in-progress` needs a first POST /users still
// creating the user 8 s later (the e2e ownership tests have it),
// `unauthenticated` a token without a usable sub (make dev has no identity
// provider), `store-unavailable` the table down, `internal` a bug: the
// client reads them as it reads every problem.
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { ConnectClient, ConnectError, ConnectSession, RECONNECTABLE } from "../dist/index.js";

const api = process.env.CONNECT_API;
const sandbox = process.env.CONNECT_SANDBOX;
if (!api || !sandbox) throw new Error("set CONNECT_API (make dev's web front) and CONNECT_SANDBOX (its sandbox)");

/** An unsigned JWT whose `exp` is `secondsFromNow` away (make dev checks `exp`, not signatures). */
function loginToken(secondsFromNow) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const exp = Math.floor(Date.now() / 1000) + secondsFromNow;
  return `${part({ alg: "none", typ: "JWT" })}.${part({ sub: "dev-user", exp })}.signature`;
}

/** A client over a fake monotonic clock (`clock.t`, ms) that records the requests it sends. */
function client(options = {}) {
  const clock = { t: 1_000_000 };
  const sent = [];
  const tokens = [];
  const c = new ConnectClient({
    baseUrl: api,
    getLoginToken: async ({ forceRefresh }) => {
      tokens.push(forceRefresh);
      return options.getLoginToken ? options.getLoginToken({ forceRefresh }) : loginToken(3600);
    },
    fetch: (request) => {
      sent.push(`${request.method} ${new URL(request.url).pathname}`);
      return fetch(request);
    },
    now: () => clock.t,
    ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
  });
  return { c, clock, sent, tokens };
}

async function control(path, body, method = "POST") {
  const res = await fetch(sandbox + path, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(res.ok, `sandbox ${path}: ${res.status}`);
}

async function failure(promise) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof ConnectError, `not a ConnectError: ${e}`);
    return e;
  }
  assert.fail("the call succeeded");
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

afterEach(() => control("/_sandbox/fault", undefined, "DELETE"));

test("createUser: a session with its id, URL, expiry and a countdown from expires_in", async () => {
  const { c, clock } = client();
  const s = await c.createUser();
  assert.match(s.sessionId, UUID);
  assert.ok(s.connectUrl.endsWith(`/session/${s.sessionId}`));
  assert.ok(s.expiresIn !== null && s.expiresIn >= 1795 && s.expiresIn <= 1800, String(s.expiresIn));
  const byWallClock = (Date.parse(s.expiresAt) - Date.now()) / 1000;
  assert.ok(Math.abs(byWallClock - s.expiresIn) <= 2, `${byWallClock} vs ${s.expiresIn}`);
  assert.equal(s.timeLeft(), s.expiresIn);
  clock.t += 600_000;
  assert.equal(s.timeLeft(), s.expiresIn - 600);
  assert.equal(s.isExpiring(), false);
  clock.t += (s.expiresIn - 600 - 60) * 1000;
  assert.equal(s.isExpiring(60), true);
  clock.t += 3_600_000;
  assert.equal(s.timeLeft(), 0);
});

test("the countdown ignores the wall clock: Date an hour fast changes nothing", async () => {
  const realNow = Date.now;
  const { c } = client();
  const s = await c.createUser();
  try {
    Date.now = () => realNow() + 3_600_000;
    assert.equal(s.timeLeft(), s.expiresIn);
    assert.equal(s.isExpiring(), false);
  } finally {
    Date.now = realNow;
  }
});

test("newSession and refresh: every session route, typed", async () => {
  const { c } = client();
  const s = await c.createUser();
  const other = await c.newSession(s.userId);
  assert.equal(other.userId, s.userId);
  assert.notEqual(other.sessionId, s.sessionId);
  const refreshed = await c.refresh(other);
  assert.equal(refreshed.userId, s.userId);
  assert.notEqual(refreshed.connectUrl, other.connectUrl);
  // The refreshed session is replaced: its URL is now unknown (404 not-found).
  const gone = await failure(c.refresh(other.connectUrl));
  assert.equal(gone.status, 404);
  assert.ok(gone.is("not-found"));
  assert.match(gone.requestId ?? "", /\S/);
  assert.match(gone.detail, /\S/);
});

test("problems: invalid-request, not-found, payload-too-large", async () => {
  const { c } = client();
  const bad = await failure(c.newSession("not-a-uuid"));
  assert.deepEqual([bad.kind, bad.status, bad.type], ["problem", 400, "urn:rollee-connect:problem:invalid-request"]);
  const unknown = await failure(c.newSession("00000000-0000-4000-8000-000000000000"));
  assert.deepEqual([unknown.status, unknown.type], [404, "urn:rollee-connect:problem:not-found"]);
  const big = await failure(c.createUser({ note: "x".repeat(70_000) }));
  assert.deepEqual([big.status, big.type], [413, "urn:rollee-connect:problem:payload-too-large"]);
});

test("problems from Rollee's failures: rate-limited with retryAfter, upstream-error, upstream-credentials, upstream-timeout", async () => {
  const { c } = client();
  await control("/_sandbox/fault", { fault: "rate_limited", retry_after: 17, times: 1 });
  const limited = await failure(c.createUser());
  assert.deepEqual([limited.status, limited.type, limited.retryAfter], [429, "urn:rollee-connect:problem:rate-limited", 17]);

  await control("/_sandbox/fault", undefined, "DELETE");
  await control("/_sandbox/fault", { fault: "server_error", times: 2 });
  const upstream = await failure(c.createUser());
  assert.deepEqual([upstream.status, upstream.type], [502, "urn:rollee-connect:problem:upstream-error"]);

  await control("/_sandbox/fault", undefined, "DELETE");
  await control("/_sandbox/fault", { fault: "unauthorized", times: 1 });
  const credentials = await failure(c.createUser());
  assert.deepEqual([credentials.status, credentials.type], [503, "urn:rollee-connect:problem:upstream-credentials"]);

  await control("/_sandbox/fault", undefined, "DELETE");
  await control("/_sandbox/fault", { fault: "delay", ms: 12_000, times: 1 });
  const timeout = await failure(c.createUser());
  assert.deepEqual([timeout.status, timeout.type], [504, "urn:rollee-connect:problem:upstream-timeout"]);
});

test("API Gateway's answers are told apart from problems: its 404 {message}", async () => {
  const { c } = client({ baseUrl: `${api}/no-such-stage` });
  const e = await failure(c.createUser());
  assert.deepEqual([e.kind, e.status, e.type, e.detail, e.requestId], ["gateway", 404, null, "Not Found", null]);
});

test("an expired login token: API Gateway's 401, a forced new token, one retry", async () => {
  const { c, tokens } = client({
    getLoginToken: ({ forceRefresh }) => loginToken(forceRefresh ? 3600 : -60),
  });
  const s = await c.createUser();
  assert.match(s.sessionId, UUID);
  assert.deepEqual(tokens, [false, true]);
});

test("a login token that stays refused: one retry only, then the gateway's 401", async () => {
  const { c, tokens, sent } = client({ getLoginToken: () => loginToken(-60) });
  const e = await failure(c.createUser());
  assert.deepEqual([e.kind, e.status, e.detail], ["gateway", 401, "Unauthorized"]);
  assert.deepEqual(tokens, [false, true]);
  assert.equal(sent.length, 2);
});

test("fresh(): nothing while time is left; after the session expired, one refresh, never two", async () => {
  const { c, clock, sent } = client();
  const s = await c.createUser();
  assert.equal(await s.fresh(), s);
  assert.deepEqual(sent, ["POST /users"]);

  // 31 minutes pass, at Rollee (the sandbox's clock) and on the device.
  await control("/_sandbox/clock", { advance_seconds: 31 * 60 });
  clock.t += 31 * 60 * 1000;
  assert.equal(s.timeLeft(), 0);
  const [a, b] = await Promise.all([s.fresh(), s.fresh()]);
  assert.equal(a, b);
  assert.notEqual(a.sessionId, s.sessionId);
  assert.equal(a.userId, s.userId);
  assert.equal(a.isExpiring(), false);
  assert.equal(await s.fresh(), a, "asked again, the same answer without a request");
  assert.deepEqual(sent, ["POST /users", "POST /sessions/refresh"]);
  const page = await fetch(a.connectUrl);
  assert.equal(page.status, 200, "the refreshed session's Connect page opens");
});

test("fresh(): a session that can no longer be refreshed (404) is replaced by POST /users", async () => {
  const { c, clock, sent } = client();
  const s = await c.createUser();
  await c.refresh(s); // replaces s: its URL is now unknown
  clock.t += 29.5 * 60 * 1000;
  const next = await s.fresh();
  assert.notEqual(next.sessionId, s.sessionId);
  assert.deepEqual(sent, ["POST /users", "POST /sessions/refresh", "POST /sessions/refresh", "POST /users"]);
});

test("fresh(): a failed refresh is not repeated by the timer; at most one automatic refresh per 30 s", async () => {
  const { c, clock, sent } = client();
  const one = await c.createUser();
  const two = await c.newSession(one.userId);
  const three = await c.newSession(one.userId);
  clock.t += 29.5 * 60 * 1000;

  await control("/_sandbox/fault", { fault: "rate_limited", retry_after: 5, times: 1 });
  const e = await failure(one.fresh());
  assert.equal(e.status, 429);
  assert.equal(await failure(one.fresh()), e, "the same error, no second request");

  clock.t += 31_000;
  const twoNext = await two.fresh();
  assert.notEqual(twoNext, two);
  assert.equal(await three.fresh(), three, "within 30 s of the last automatic refresh: not now");
  clock.t += 30_000;
  assert.notEqual(await three.fresh(), three);
  assert.deepEqual(sent.filter((r) => r === "POST /sessions/refresh").length, 3);
  // The user acting is never held back.
  assert.notEqual((await c.refresh(one)).sessionId, one.sessionId);
});

/** Presses the button of the sandbox's Connect page of `session` (connects an account, or reconnects its account). */
async function pressConnect(session) {
  const res = await fetch(`${session.connectUrl}/connect`, { method: "POST" });
  assert.equal(res.status, 200, "the sandbox's Connect page took the button");
  return res.text();
}

test("listAccounts, reconnect, eraseUser: an account connected, disconnected, reconnected; the user erased", async () => {
  const { c, sent } = client();
  const s = await c.createUser();
  const before = await c.listAccounts(s.userId);
  assert.ok(Array.isArray(before));

  assert.match(await pressConnect(s), /Account connected/);
  const after = await c.listAccounts(s.userId);
  assert.equal(after.length, before.length + 1);
  const account = after.find((a) => !before.some((b) => b.account_id === a.account_id));
  assert.match(account.account_id, UUID);
  assert.deepEqual([account.status, account.connected], ["connected", true]);
  assert.ok(typeof account.datasource_id === "string" && account.datasource_id.length > 0);
  for (const at of [account.created_at, account.updated_at]) assert.ok(at !== null && !Number.isNaN(Date.parse(at)), String(at));
  assert.equal(RECONNECTABLE.includes(account.status), false);

  // Disconnected at Rollee (the sandbox's control): the list says so.
  await control(`/_sandbox/accounts/${account.account_id}`, { connected: false });
  const disconnected = (await c.listAccounts(s.userId)).find((a) => a.account_id === account.account_id);
  assert.deepEqual([disconnected.status, disconnected.connected], ["disconnected", false]);
  assert.ok(RECONNECTABLE.includes(disconnected.status));

  // A reconnect session: a ConnectSession like any other, that knows its account.
  const r = await c.reconnect(account.account_id);
  assert.ok(r instanceof ConnectSession);
  assert.deepEqual([r.userId, r.accountId], [s.userId, account.account_id]);
  assert.ok(r.connectUrl.endsWith(`/session/${r.sessionId}`));
  assert.ok(r.expiresIn !== null && r.expiresIn >= 1795 && r.expiresIn <= 1800, String(r.expiresIn));
  assert.equal(r.timeLeft(), r.expiresIn);
  // Refreshed like any session; the refresh still reconnects the account.
  const rr = await c.refresh(r);
  assert.deepEqual([rr.userId, rr.accountId], [s.userId, account.account_id]);
  assert.notEqual(rr.sessionId, r.sessionId);
  assert.match(await pressConnect(rr), /Account reconnected/);
  const reconnected = (await c.listAccounts(s.userId)).find((a) => a.account_id === account.account_id);
  assert.deepEqual([reconnected.status, reconnected.connected], ["connected", true]);

  // Erased: 204, then every route with the user or its account is a 404, and POST /users makes a new user.
  assert.equal(await c.eraseUser(s.userId), undefined);
  for (const call of [() => c.listAccounts(s.userId), () => c.eraseUser(s.userId), () => c.reconnect(account.account_id), () => c.newSession(s.userId)]) {
    const e = await failure(call());
    assert.deepEqual([e.kind, e.status, e.type], ["problem", 404, "urn:rollee-connect:problem:not-found"]);
  }
  const next = await c.createUser();
  assert.notEqual(next.userId, s.userId);
  assert.deepEqual(await c.listAccounts(next.userId), []);
  assert.deepEqual(
    sent.filter((r) => !r.startsWith("POST /users")).map((r) => r.replace(/[0-9a-f-]{36}/g, "{id}")),
    [
      "GET /users/{id}/accounts", "GET /users/{id}/accounts", "GET /users/{id}/accounts",
      "POST /accounts/{id}/reconnect", "POST /sessions/refresh", "GET /users/{id}/accounts",
      "DELETE /users/{id}", "GET /users/{id}/accounts", "DELETE /users/{id}", "POST /accounts/{id}/reconnect",
      "GET /users/{id}/accounts",
    ],
  );
});

test("fresh(): a reconnect session that can no longer be refreshed gets a new reconnect session of its account", async () => {
  const { c, clock, sent } = client();
  const s = await c.createUser();
  await pressConnect(s);
  const [account] = await c.listAccounts(s.userId);
  const r = await c.reconnect(account.account_id);
  await c.refresh(r); // replaces r: its URL is now unknown
  clock.t += 29.5 * 60 * 1000;
  const next = await r.fresh();
  assert.notEqual(next.sessionId, r.sessionId);
  assert.equal(next.accountId, account.account_id);
  assert.deepEqual(sent.slice(-3).map((x) => x.replace(/[0-9a-f-]{36}/g, "{id}")), [
    "POST /sessions/refresh", "POST /sessions/refresh", "POST /accounts/{id}/reconnect",
  ]);
});

test("lifecycle problems: invalid-request, not-found, rate-limited, upstream-error, and a retried erasure finishes", async () => {
  const { c } = client();
  const s = await c.createUser();
  for (const call of [() => c.listAccounts("nope"), () => c.reconnect("nope"), () => c.eraseUser("nope")]) {
    const e = await failure(call());
    assert.deepEqual([e.status, e.type], [400, "urn:rollee-connect:problem:invalid-request"]);
  }
  const nobody = "00000000-0000-4000-8000-000000000000";
  for (const call of [() => c.listAccounts(nobody), () => c.reconnect(nobody), () => c.eraseUser(nobody)]) {
    const e = await failure(call());
    assert.deepEqual([e.status, e.type], [404, "urn:rollee-connect:problem:not-found"]);
  }

  await control("/_sandbox/fault", { fault: "rate_limited", retry_after: 11, times: 1 });
  const limited = await failure(c.listAccounts(s.userId));
  assert.deepEqual([limited.status, limited.type, limited.retryAfter], [429, "urn:rollee-connect:problem:rate-limited", 11]);
  await control("/_sandbox/fault", undefined, "DELETE");

  await control("/_sandbox/fault", { fault: "server_error", times: 2 });
  const upstream = await failure(c.eraseUser(s.userId));
  assert.deepEqual([upstream.status, upstream.type], [502, "urn:rollee-connect:problem:upstream-error"]);
  await control("/_sandbox/fault", undefined, "DELETE");
  await c.eraseUser(s.userId); // the retry finishes the erasure
  const gone = await failure(c.listAccounts(s.userId));
  assert.equal(gone.status, 404);
});

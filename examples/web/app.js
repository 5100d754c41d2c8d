// The example app: what a company's web app does with this server.
// No build step, no dependency: open it through `make dev` (http://127.0.0.1:9400/),
// or serve this folder from any static host and point it at a deployed stack.
// docs/api.md is the contract it follows.
"use strict";

// A session without `expires_at` (Rollee gave none) is treated as valid this
// long from when it was received: Rollee's documented default lifetime.
const DEFAULT_LIFETIME_MS = 30 * 60 * 1000;
const PROBLEM = "urn:rollee-connect:problem:";

// What the end user reads for each problem type (docs/api.md, "Every status").
const MESSAGES = {
  "invalid-request": "Something in this app is out of date. Please update it, or contact support.",
  "unauthenticated": "Your sign-in could not be used. Please sign in again.",
  "not-found": "That connection link is no longer valid. Getting a fresh one…",
  "in-progress": "We are still setting up your account. Trying again in a moment…",
  "payload-too-large": "Something in this app is out of date. Please update it, or contact support.",
  "rate-limited": "Too many attempts in a short time. Please wait a moment and try again.",
  "upstream-error": "Our connection partner is having trouble. Please try again in a few seconds.",
  "upstream-credentials": "Connecting accounts is unavailable right now. We are on it; please try again later.",
  "store-unavailable": "The service is busy right now. Please try again in a few seconds.",
  "upstream-timeout": "Our connection partner is slow to answer. Please try again in a few seconds.",
  "internal": "Something went wrong on our side. Please try again later.",
};
// API Gateway's own answers ({"message": …}), by status.
const GATEWAY_MESSAGES = {
  401: "Your session has ended. Please sign in again.",
  404: "This app is pointed at the wrong server address.",
  429: "The service is busy. Please try again in a few seconds.",
  500: "The service is unavailable right now. Please try again shortly.",
  503: "The service is unavailable right now. Please try again shortly.",
};
const FALLBACK = "Something went wrong. Please try again.";

/** The end user's message for an error answer: `body` is the parsed JSON, or null. */
function humanMessage(status, body, retryAfter) {
  let text = FALLBACK;
  if (body && typeof body.type === "string" && body.type.startsWith(PROBLEM)) {
    text = MESSAGES[body.type.slice(PROBLEM.length)] || FALLBACK;
  } else if (body && typeof body.message === "string") {
    text = GATEWAY_MESSAGES[status] || FALLBACK;
  }
  if (status === 429 && retryAfter) text += ` (in ${retryAfter} s)`;
  return text;
}

class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(humanMessage(status, body, retryAfter));
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
    this.problem = body && typeof body.type === "string" ? body.type.slice(PROBLEM.length) : null;
  }
}

const state = {
  apiUrl: "",          // "" locally: the same origin as this page
  token: "",           // the login token, sent as Authorization: Bearer
  session: null,       // {user_id, session_id, connect_url, expires_at}
  receivedAt: 0,
  refreshing: false,
  autoRefreshFailed: null, // the session an automatic refresh failed for: not retried every second
};

const $ = (id) => document.getElementById(id);

function show(text, isError) {
  const el = $("message");
  el.textContent = text;
  el.className = isError ? "error" : "";
  el.hidden = false;
}

/** POST to the API as the signed-in user; the answer's JSON, or an ApiError. */
async function call(path, body) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(state.apiUrl + path, {
    method: "POST",
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let json = null;
  try { json = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) throw new ApiError(res.status, json, res.headers.get("retry-after"));
  return json;
}

/** Calls `fn`; on 409 or 429 with Retry-After (up to 10 s) waits and tries once more. */
async function withRetry(fn) {
  try {
    return await fn();
  } catch (e) {
    const wait = Number(e.retryAfter);
    if (e instanceof ApiError && (e.status === 409 || e.status === 429) && wait > 0 && wait <= 10) {
      show(e.message, true);
      await new Promise((r) => setTimeout(r, wait * 1000));
      return await fn();
    }
    throw e;
  }
}

function expiresAtMs(session) {
  if (session.expires_at) return Date.parse(session.expires_at);
  return state.receivedAt + DEFAULT_LIFETIME_MS; // `null`: Rollee gave no expiry
}

function useSession(session, note) {
  state.session = session;
  state.receivedAt = Date.now();
  $("session").hidden = false;
  $("session-id").textContent = session.session_id;
  $("user-id").textContent = session.user_id;
  $("open-link").href = session.connect_url;
  $("connect-frame").src = session.connect_url; // Rollee Connect (locally: the sandbox's page)
  tick();
  show(note, false);
}

function tick() {
  if (!state.session) return;
  const left = expiresAtMs(state.session) - Date.now();
  if (left > 0) {
    const s = Math.floor(left / 1000);
    const label = state.session.expires_at ? "" : " (no expiry given: counting 30 minutes)";
    $("time-left").textContent =
      `Time left: ${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}${label}`;
  } else {
    $("time-left").textContent = "Expired";
    if (!state.refreshing && state.autoRefreshFailed !== state.session.session_id) {
      refresh("The session expired, so the app refreshed it.", true);
    }
  }
}

async function connect() {
  busy(true);
  try {
    const s = await withRetry(() => call("/users", { metadata: { source: "web-example" } }));
    useSession(s, "Rollee Connect is open below.");
  } catch (e) {
    show(e.message, true);
    if (e.status === 401) signOut();
  } finally {
    busy(false);
  }
}

/** A fresh URL for the session shown; a new session when it cannot be refreshed. */
async function refresh(note, automatic) {
  if (!state.session) return;
  const before = state.session.session_id;
  state.refreshing = true;
  busy(true);
  try {
    const s = await withRetry(() => call("/sessions/refresh", { connect_url: state.session.connect_url }));
    useSession(s, note || "Refreshed: a new Connect URL for the same user.");
  } catch (e) {
    if (e.status === 404 && e.problem === "not-found") {
      // Unknown, replaced, or not this user's: start again with POST /users.
      try {
        useSession(await withRetry(() => call("/users")), "The old link was no longer valid; here is a new session.");
      } catch (e2) {
        show(e2.message, true);
        if (automatic) state.autoRefreshFailed = before;
      }
    } else {
      show(e.message, true);
      if (automatic) state.autoRefreshFailed = before;
      if (e.status === 401) signOut();
    }
  } finally {
    state.refreshing = false;
    busy(false);
  }
}

async function anotherSession() {
  busy(true);
  try {
    const s = await withRetry(() => call(`/users/${encodeURIComponent(state.session.user_id)}/sessions`));
    useSession(s, "Another session for the same user; the previous one still works until it expires.");
  } catch (e) {
    show(e.message, true);
  } finally {
    busy(false);
  }
}

function busy(on) {
  for (const id of ["connect-button", "refresh-button", "new-session-button"]) $(id).disabled = on;
}

function signedIn(who) {
  $("signin-local").hidden = true;
  $("signin-deployed").hidden = true;
  $("signed-in").hidden = false;
  $("signed-in").textContent = `Signed in as ${who}.`;
  $("connect").hidden = false;
}

function signOut() {
  state.session = null;
  $("connect").hidden = true;
  $("signed-in").hidden = true;
  start();
}

async function start() {
  let local = null;
  try {
    const res = await fetch("_dev/config.json", { cache: "no-store" });
    if (res.ok) local = await res.json();
  } catch (_) { /* not served by make dev */ }
  if (local && local.mode === "local") {
    $("local-caller").textContent = local.caller;
    $("signin-local").hidden = false;
    $("signin-local-button").onclick = () => {
      state.apiUrl = ""; // same origin: make dev forwards the API's routes
      state.token = "local-dev"; // not checked locally; sent all the same, as in production
      signedIn(`${local.caller} (local development)`);
    };
  } else {
    $("signin-deployed").hidden = false;
    $("signin-deployed").onsubmit = (ev) => {
      ev.preventDefault();
      state.apiUrl = $("api-url").value.trim().replace(/\/+$/, "");
      state.token = $("login-token").value.trim();
      signedIn("the user of the pasted token");
    };
  }
}

$("connect-button").onclick = connect;
$("refresh-button").onclick = () => refresh();
$("new-session-button").onclick = anotherSession;
setInterval(tick, 1000);
start();

// For the browser test: the messages, as the page shows them.
window.rolleeExample = { humanMessage, MESSAGES };

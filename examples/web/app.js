// The example app: what a company's web app does with this server.
// No build step: the TypeScript client (clients/typescript/) is imported as
// the ESM it is compiled to, and openapi-fetch through index.html's import
// map. Open it through `make dev` (http://127.0.0.1:9400/), or serve the
// repository from any static host (this page at /examples/web/, the client
// at /clients/typescript/dist/) and point it at a deployed stack.
// docs/api.md is the contract it follows.
import { ConnectClient, ConnectError, RECONNECTABLE } from "../../clients/typescript/dist/index.js";

// A session counts as expiring this long before its end, and is then
// refreshed by itself (ConnectSession.fresh: at most once, and the client
// makes at most one such refresh per 30 s, whatever the clocks say).
const MARGIN_SECONDS = 60;
const PROBLEM = "urn:rollee-connect:problem:";

// What the end user reads for each problem type (docs/api.md, "Every status").
const MESSAGES = {
  "invalid-request": "Something in this app is out of date. Please update it, or contact support.",
  "unauthenticated": "Your sign-in could not be used. Please sign in again.",
  "not-found": "That connection link is no longer valid. Getting a fresh one…",
  "in-progress": "Your account is busy (being set up or erased). Trying again in a moment…",
  "payload-too-large": "Something in this app is out of date. Please update it, or contact support.",
  "rate-limited": "Too many attempts in a short time. Please wait a moment and try again.",
  "upstream-error": "Our connection partner is having trouble. Please try again in a few seconds.",
  "upstream-credentials": "Connecting accounts is unavailable right now. We are on it; please try again later.",
  "store-unavailable": "The service is busy right now. Please try again in a few seconds.",
  "event-bus-unavailable": "Your data was erased, but the confirmation did not go through. Please try again to finish.",
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
// What the end user reads for each account status (GET /users/{user_id}/accounts).
const STATUS_LABELS = {
  connected: "Connected",
  disconnected: "Disconnected: reconnect it to keep your data flowing",
  error: "Connection error: reconnecting may fix it",
  pending: "Connecting…",
  unknown: "Status unknown",
};
// A 404 on the user's own routes: the user was erased (or is not this caller's).
const USER_GONE = "This user no longer exists: its data was erased (the server answered 404).";

/** The end user's message for a failed call (a ConnectError). */
function humanMessage(error) {
  let text = FALLBACK;
  if (error instanceof ConnectError && error.kind === "problem" && error.type) {
    text = MESSAGES[error.type.slice(PROBLEM.length)] || FALLBACK;
  } else if (error instanceof ConnectError && error.kind === "gateway") {
    text = GATEWAY_MESSAGES[error.status] || FALLBACK;
  } else if (error instanceof ConnectError && error.kind === "network") {
    text = "The service cannot be reached. Check your connection and try again.";
  }
  if (error instanceof ConnectError && error.status === 429 && error.retryAfter) text += ` (in ${error.retryAfter} s)`;
  return text;
}

const state = {
  client: null,        // a ConnectClient once signed in
  token: "",           // the login token, sent as Authorization: Bearer
  session: null,       // the ConnectSession shown
  refreshing: false,
  refreshCalls: 0,     // POST /sessions/refresh sent, for the browser test
  userId: null,        // the Rollee user of the last session (for its accounts and its erasure)
  frameLoads: 0,       // loads of the Connect frame since its session was set
};

const $ = (id) => document.getElementById(id);

function show(text, isError) {
  const el = $("message");
  el.textContent = text;
  el.className = isError ? "error" : "";
  el.hidden = false;
}

/** Calls `fn`; on 409 or 429 with Retry-After (up to 10 s) waits and tries once more. */
async function withRetry(fn) {
  try {
    return await fn();
  } catch (e) {
    const wait = e instanceof ConnectError ? e.retryAfter : null;
    if ((e.status === 409 || e.status === 429) && wait && wait <= 10) {
      show(humanMessage(e), true);
      await new Promise((r) => setTimeout(r, wait * 1000));
      return await fn();
    }
    throw e;
  }
}

function useSession(session, note) {
  state.session = session;
  if (state.userId !== session.userId) {
    // Another user (the first, or a new one after an erasure): its list is not known yet.
    renderAccounts([]);
    $("accounts-note").textContent = "Connect an account on the Connect page above; the list shows it then.";
  }
  state.userId = session.userId;
  state.frameLoads = 0;
  $("accounts-section").hidden = false;
  $("erase-section").hidden = false;
  $("session").hidden = false;
  $("session-id").textContent = session.sessionId;
  $("user-id").textContent = session.userId;
  $("open-link").href = session.connectUrl;
  $("connect-frame").src = session.connectUrl; // Rollee Connect (locally: the sandbox's page)
  tick();
  show(note, false);
}

/** Every second: the countdown, from the session's monotonic deadline, and its refresh when it nears its end. */
function tick() {
  const session = state.session;
  if (!session) return;
  const s = session.timeLeft();
  const label = session.expiresIn === null ? " (no expiry given: counting 30 minutes)" : "";
  $("time-left").textContent =
    s > 0 ? `Time left: ${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}${label}` : "Expired";
  if (session.isExpiring(MARGIN_SECONDS) && !state.refreshing) autoRefresh(session);
}

/** The timer's refresh: ConnectSession.fresh refreshes a session once at most, and answers again without a request. */
async function autoRefresh(session) {
  state.refreshing = true;
  try {
    const next = await session.fresh(MARGIN_SECONDS);
    if (next !== session && state.session === session) useSession(next, "The session was about to expire, so the app refreshed it.");
  } catch (e) {
    if (state.session === session) show(humanMessage(e), true);
    if (e.status === 401) signOut();
  } finally {
    state.refreshing = false;
  }
}

async function connect() {
  busy(true);
  try {
    const s = await withRetry(() => state.client.createUser({ source: "web-example" }));
    useSession(s, "Rollee Connect is open below.");
  } catch (e) {
    show(humanMessage(e), true);
    if (e.status === 401) signOut();
  } finally {
    busy(false);
  }
}

/** "Refresh now": the user asked, so it is sent whatever the time left; a new session when it cannot be refreshed. */
async function refresh() {
  if (!state.session) return;
  busy(true);
  try {
    const s = await withRetry(() => state.client.refresh(state.session));
    useSession(s, "Refreshed: a new Connect URL for the same user.");
  } catch (e) {
    if (e instanceof ConnectError && e.is("not-found")) {
      // Unknown, replaced, or not this user's: start again with POST /users.
      try {
        useSession(await withRetry(() => state.client.createUser()), "The old link was no longer valid; here is a new session.");
      } catch (e2) {
        show(humanMessage(e2), true);
      }
    } else {
      show(humanMessage(e), true);
      if (e.status === 401) signOut();
    }
  } finally {
    busy(false);
  }
}

async function anotherSession() {
  busy(true);
  try {
    const s = await withRetry(() => state.client.newSession(state.session.userId));
    useSession(s, "Another session for the same user; the previous one still works until it expires.");
  } catch (e) {
    show(humanMessage(e), true);
  } finally {
    busy(false);
  }
}

function busy(on) {
  for (const id of ["connect-button", "refresh-button", "new-session-button", "list-accounts-button", "erase-button", "erase-yes"]) {
    $(id).disabled = on;
  }
  for (const b of document.querySelectorAll("[data-testid=reconnect]")) b.disabled = on;
}

/** GET /users/{user_id}/accounts: the list, each with its status, and "Reconnect" where it helps. */
async function loadAccounts() {
  if (!state.userId) return;
  const userId = state.userId;
  $("accounts-note").textContent = "Loading…";
  try {
    const accounts = await state.client.listAccounts(userId);
    if (state.userId !== userId) return;
    renderAccounts(accounts);
    $("accounts-note").textContent = accounts.length
      ? `${accounts.length} account${accounts.length > 1 ? "s" : ""} for Rollee user ${userId}.`
      : "No account yet: connect one on the Connect page above.";
  } catch (e) {
    renderAccounts([]);
    if (e instanceof ConnectError && e.is("not-found")) {
      $("accounts-note").textContent = USER_GONE;
      $("accounts-note").dataset.gone = "true";
    } else {
      $("accounts-note").textContent = humanMessage(e);
      if (e.status === 401) signOut();
    }
  }
}

function renderAccounts(accounts) {
  const list = $("accounts");
  list.replaceChildren();
  delete $("accounts-note").dataset.gone;
  for (const a of accounts) {
    const item = document.createElement("li");
    item.dataset.testid = "account";
    item.dataset.accountId = a.account_id;
    item.dataset.status = a.status;
    const name = document.createElement("code");
    name.textContent = a.datasource_id ?? a.account_id;
    name.title = `account ${a.account_id}`;
    const status = document.createElement("span");
    status.className = `status status-${a.status}`;
    status.dataset.testid = "account-status";
    status.textContent = STATUS_LABELS[a.status] || STATUS_LABELS.unknown;
    const since = document.createElement("span");
    since.className = "muted";
    // Shown as Rollee gave it; null is not invented.
    since.textContent = a.updated_at ? `since ${new Date(a.updated_at).toLocaleString()}` : "";
    item.append(name, status, since);
    if (RECONNECTABLE.includes(a.status)) {
      const button = document.createElement("button");
      button.dataset.testid = "reconnect";
      button.textContent = "Reconnect";
      button.onclick = () => reconnect(a.account_id);
      item.append(button);
    }
    list.append(item);
  }
}

/** POST /accounts/{account_id}/reconnect: its Connect page opens as any session's does. */
async function reconnect(accountId) {
  busy(true);
  try {
    const s = await withRetry(() => state.client.reconnect(accountId));
    useSession(s, "Rollee Connect is open below to reconnect your account.");
  } catch (e) {
    show(humanMessage(e), true);
    if (e instanceof ConnectError && e.is("not-found")) loadAccounts(); // gone meanwhile: show the list as it is
    if (e.status === 401) signOut();
  } finally {
    busy(false);
  }
}

/** "Erase my data": a confirmation in the page, then DELETE /users/{user_id}. */
function askErase() {
  $("erase-confirm").hidden = false;
  $("erase-yes").focus();
}

async function erase() {
  const userId = state.userId;
  if (!userId) return;
  busy(true);
  try {
    await state.client.eraseUser(userId);
    erased(userId, "Your data was erased, at Rollee and on our server.");
  } catch (e) {
    if (e instanceof ConnectError && e.is("not-found")) {
      erased(userId, USER_GONE);
    } else {
      // A 5xx: the same request again finishes the erasure.
      show(humanMessage(e), true);
      if (e.status === 401) signOut();
    }
  } finally {
    busy(false);
  }
}

/** The user is gone: no session to show; the list, reloaded, answers 404. */
function erased(userId, note) {
  $("erase-confirm").hidden = true;
  state.session = null;
  $("session").hidden = true;
  $("connect-frame").removeAttribute("src");
  state.frameLoads = 0;
  renderAccounts([]);
  $("accounts-note").textContent = `Rollee user ${userId} was erased. "Connect your account" starts again with a new user.`;
  show(note, false);
}

function signIn(apiUrl, token, who) {
  state.token = token;
  state.client = new ConnectClient({
    baseUrl: apiUrl, // "" locally: the same origin as this page
    // The app's identity provider would give a new token on forceRefresh;
    // this page has only the one it was given.
    getLoginToken: async () => state.token,
    fetch: (request) => {
      if (new URL(request.url).pathname.endsWith("/sessions/refresh")) state.refreshCalls += 1;
      return fetch(request);
    },
  });
  signedIn(who);
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
  state.userId = null;
  $("accounts-section").hidden = true;
  $("erase-section").hidden = true;
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
      // Same origin: make dev forwards the API's routes. The token is not
      // checked locally (only its presence, as API Gateway's authorizer
      // would); sent all the same, as in production.
      signIn("", "local-dev", `${local.caller} (local development)`);
    };
  } else {
    $("signin-deployed").hidden = false;
    $("signin-deployed").onsubmit = (ev) => {
      ev.preventDefault();
      signIn($("api-url").value.trim().replace(/\/+$/, ""), $("login-token").value.trim(), "the user of the pasted token");
    };
  }
}

$("connect-button").onclick = connect;
$("refresh-button").onclick = () => refresh();
$("new-session-button").onclick = anotherSession;
$("list-accounts-button").onclick = () => loadAccounts();
$("erase-button").onclick = askErase;
$("erase-cancel").onclick = () => { $("erase-confirm").hidden = true; };
$("erase-yes").onclick = erase;
// The Connect frame's first load is its session's page; a later one is the
// page after its button (an account connected or reconnected): the list changed.
$("connect-frame").onload = () => {
  state.frameLoads += 1;
  if (state.frameLoads > 1 && state.userId) loadAccounts();
};
setInterval(tick, 1000);
start();

// For the browser test: the messages, as the page shows them, and the refreshes sent.
window.rolleeExample = { humanMessage, MESSAGES, STATUS_LABELS, ConnectError, refreshCalls: () => state.refreshCalls };

// A client for the Rollee Connect server's API (the routes of its OpenAPI
// document, whose types are generated into ./schema.ts), with what every app
// otherwise writes by hand: the login token and its one retry after API
// Gateway's 401, problems as one typed error, and Connect sessions that count
// down on a monotonic clock and refresh themselves without ever storming.
import createClient from "openapi-fetch";
/** The statuses for which the app offers "Reconnect" (`ConnectClient.reconnect`). */
export const RECONNECTABLE = ["disconnected", "error"];
/** Rollee's default session lifetime: used when the server gives no expiry (`expires_in: null`). */
export const DEFAULT_LIFETIME_SECONDS = 30 * 60;
/** How early a session counts as expiring, by default. */
export const DEFAULT_MARGIN_SECONDS = 60;
/**
 * Any failed call: a problem from the server's functions (`kind: "problem"`,
 * `type` set), an answer of API Gateway itself (`kind: "gateway"`, its
 * `{"message"}` in `detail`, `type` null), or no answer at all
 * (`kind: "network"`, `status` 0).
 */
export class ConnectError extends Error {
    kind;
    status;
    type;
    title;
    detail;
    /** The id of the function's log lines, to report; null for gateway and network failures. */
    requestId;
    /** Seconds from the `Retry-After` header, when the answer had one. */
    retryAfter;
    constructor(fields) {
        super(`${fields.status || "no answer"} ${fields.type ?? fields.kind}: ${fields.detail}`);
        this.name = "ConnectError";
        this.kind = fields.kind;
        this.status = fields.status;
        this.type = fields.type ?? null;
        this.title = fields.title ?? null;
        this.detail = fields.detail;
        this.requestId = fields.requestId ?? null;
        this.retryAfter = fields.retryAfter ?? null;
    }
    /** Whether this is the problem `urn:rollee-connect:problem:<slug>`, e.g. `is("not-found")`. */
    is(slug) {
        return this.type === `urn:rollee-connect:problem:${slug}`;
    }
}
const PROBLEM_PREFIX = "urn:rollee-connect:problem:";
/** The error for a failed answer: `body` as openapi-fetch parsed it. */
function errorOf(response, body) {
    const header = response.headers.get("retry-after");
    const retryAfter = header !== null && /^[0-9]+$/.test(header.trim()) ? Number(header.trim()) : null;
    const status = response.status;
    if (isObject(body) && typeof body.type === "string" && body.type.startsWith(PROBLEM_PREFIX)) {
        return new ConnectError({
            kind: "problem",
            status,
            type: body.type,
            title: typeof body.title === "string" ? body.title : null,
            detail: typeof body.detail === "string" ? body.detail : "",
            requestId: typeof body.request_id === "string" ? body.request_id : null,
            retryAfter,
        });
    }
    const message = isObject(body) && typeof body.message === "string" ? body.message : response.statusText;
    return new ConnectError({ kind: "gateway", status, detail: message, retryAfter });
}
function isObject(value) {
    return typeof value === "object" && value !== null;
}
function isGateway401(response, body) {
    return response.status === 401 && !(isObject(body) && typeof body.type === "string");
}
export class ConnectClient {
    /**
     * The generated client (openapi-fetch) over every route of the document,
     * for routes this layer does not wrap; it sends no login token by itself.
     */
    api;
    getLoginToken;
    now;
    minAutomaticGapMs;
    lastAutomaticRefresh = null;
    constructor(options) {
        this.getLoginToken = options.getLoginToken;
        this.now = options.now ?? (() => performance.now());
        this.minAutomaticGapMs = (options.minSecondsBetweenAutomaticRefreshes ?? 30) * 1000;
        const custom = options.fetch;
        this.api = createClient({
            baseUrl: options.baseUrl.replace(/\/+$/, ""),
            // Bound late, so that a test's or a polyfill's fetch is the one used.
            fetch: custom ?? ((request) => globalThis.fetch(request)),
        });
    }
    /** `POST /users`: the signed-in user's Rollee user (created on its first call) with a fresh session. */
    async createUser(metadata) {
        const body = metadata === undefined ? {} : { metadata };
        return this.session(await this.authorized((headers) => this.api.POST("/users", { body, headers })));
    }
    /** `POST /users/{user_id}/sessions`: another session for one of the caller's users. */
    async newSession(userId) {
        return this.session(await this.authorized((headers) => this.api.POST("/users/{user_id}/sessions", { params: { path: { user_id: userId } }, headers })));
    }
    /**
     * `POST /sessions/refresh`, now, whatever the session's time left: for
     * what the user asked for ("Refresh"). `ConnectSession.fresh()` is the one
     * to call from a timer. The refresh of a reconnect session keeps its
     * `accountId`.
     */
    async refresh(session) {
        const connectUrl = typeof session === "string" ? session : session.connectUrl;
        const accountId = typeof session === "string" ? null : session.accountId;
        return this.session(await this.authorized((headers) => this.api.POST("/sessions/refresh", { body: { connect_url: connectUrl }, headers })), accountId);
    }
    /**
     * `GET /users/{user_id}/accounts`: the user's accounts, each with the
     * `status` to show (`RECONNECTABLE` ones get a "Reconnect"). Fields Rollee
     * did not give are null. A 404 (`not-found`): the user is unknown, erased,
     * or not the caller's.
     */
    async listAccounts(userId) {
        const body = await this.authorized((headers) => this.api.GET("/users/{user_id}/accounts", { params: { path: { user_id: userId } }, headers }));
        return body.accounts;
    }
    /**
     * `POST /accounts/{account_id}/reconnect`: a Connect session that
     * reconnects that account (open its `connectUrl` as for any session; it
     * counts down and refreshes like any other). A 404: the account is
     * unknown or not of the caller's users.
     */
    async reconnect(accountId) {
        const body = await this.authorized((headers) => this.api.POST("/accounts/{account_id}/reconnect", { params: { path: { account_id: accountId } }, headers }));
        return this.session(body, body.account_id);
    }
    /**
     * `DELETE /users/{user_id}`: erases the user at Rollee and on the server
     * (204). After a 5xx, call it again: a retry finishes the erasure. A 404:
     * unknown, already erased, or not the caller's. `POST /users` afterwards
     * creates a new user.
     */
    async eraseUser(userId) {
        await this.authorized((headers) => this.api.DELETE("/users/{user_id}", { params: { path: { user_id: userId } }, headers }));
    }
    /**
     * `call` with the login token; after API Gateway's 401 (`{"message"}`, not
     * the function's `unauthenticated` problem, which a new token does not
     * fix) the token is asked for once more with `forceRefresh` and the call
     * made once more. Any other failure is a `ConnectError`.
     */
    async authorized(call) {
        let answer = await this.attempt(call, false);
        if (isGateway401(answer.response, answer.error))
            answer = await this.attempt(call, true);
        // (A 204 has no data: `T` is then the operation's `undefined`.)
        if (answer.response.ok)
            return answer.data;
        throw errorOf(answer.response, answer.error);
    }
    async attempt(call, forceRefresh) {
        const token = await this.getLoginToken({ forceRefresh });
        try {
            return await call({ Authorization: `Bearer ${token}` });
        }
        catch (e) {
            throw new ConnectError({ kind: "network", status: 0, detail: e instanceof Error ? e.message : String(e) });
        }
    }
    session(body, accountId = null) {
        return new ConnectSession(this, body, this.now(), accountId);
    }
    /** @internal Whether an automatic refresh may be made now (at most one per gap, whatever the server says). */
    takeAutomaticRefresh() {
        const now = this.now();
        if (this.lastAutomaticRefresh !== null && now - this.lastAutomaticRefresh < this.minAutomaticGapMs)
            return false;
        this.lastAutomaticRefresh = now;
        return true;
    }
}
/**
 * One Connect session. Its deadline is the moment its answer arrived plus
 * `expires_in`, on the client's monotonic clock: a device whose wall clock
 * is off still counts the right time.
 */
export class ConnectSession {
    userId;
    /** The account a reconnect session reconnects (`ConnectClient.reconnect`); null for the others. */
    accountId;
    sessionId;
    /** A credential for this session: do not log it. */
    connectUrl;
    expiresAt;
    expiresIn;
    /** The monotonic time (ms) its answer arrived. */
    receivedAt;
    client;
    replacement = null;
    constructor(client, body, receivedAt, accountId = null) {
        this.client = client;
        this.userId = body.user_id;
        this.accountId = accountId;
        this.sessionId = body.session_id;
        this.connectUrl = body.connect_url;
        this.expiresAt = body.expires_at;
        this.expiresIn = body.expires_in;
        this.receivedAt = receivedAt;
    }
    /** The lifetime counted: `expires_in`, or Rollee's default 30 minutes when the server gives none. */
    get lifetime() {
        return this.expiresIn ?? DEFAULT_LIFETIME_SECONDS;
    }
    /** Whole seconds left (never below 0). */
    timeLeft() {
        const elapsed = (this.client.now() - this.receivedAt) / 1000;
        return Math.max(0, Math.floor(this.lifetime - elapsed));
    }
    /**
     * Whether at most `marginSeconds` are left. The margin is capped at half
     * the session's lifetime, so that a short session is used before it is
     * refreshed.
     */
    isExpiring(marginSeconds = DEFAULT_MARGIN_SECONDS) {
        return this.timeLeft() <= Math.min(marginSeconds, this.lifetime / 2);
    }
    /**
     * A session to open now: this one while it is not expiring; otherwise its
     * refresh (`POST /sessions/refresh`), or, when that answers 404 (unknown,
     * replaced, not the caller's), a new one from `POST /users` (for a
     * reconnect session, a new reconnect session of its account). Safe to call
     * from a timer: a session is refreshed at most once (later calls get the
     * same answer, or the same error, without a request), and the client
     * makes at most one automatic refresh per `minSecondsBetweenAutomaticRefreshes`
     * (30 s), whatever the server answers; within it this session is returned.
     * For a refresh the user asked for, call `client.refresh(session)`.
     */
    fresh(marginSeconds = DEFAULT_MARGIN_SECONDS) {
        if (this.replacement)
            return this.replacement;
        if (!this.isExpiring(marginSeconds) || !this.client.takeAutomaticRefresh())
            return Promise.resolve(this);
        this.replacement = this.client.refresh(this).catch((e) => {
            if (e instanceof ConnectError && e.status === 404 && e.is("not-found")) {
                return this.accountId === null ? this.client.createUser() : this.client.reconnect(this.accountId);
            }
            throw e;
        });
        return this.replacement;
    }
}

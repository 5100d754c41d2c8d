import type { Client } from "openapi-fetch";
import type { components, paths } from "./schema.js";
/** A session answer, as the server sends it. */
export type SessionBody = components["schemas"]["Session"];
/** `POST /accounts/{account_id}/reconnect`'s answer: a session, and the account it reconnects. */
export type ReconnectSessionBody = components["schemas"]["ReconnectSession"];
/** One account of a user, as `GET /users/{user_id}/accounts` lists it. */
export type Account = components["schemas"]["Account"];
/** What the app shows of an account: `connected`, `disconnected`, `error`, `pending` or `unknown`. */
export type AccountStatus = Account["status"];
/** The statuses for which the app offers "Reconnect" (`ConnectClient.reconnect`). */
export declare const RECONNECTABLE: readonly AccountStatus[];
/** An RFC 9457 problem, as the server's functions send it. */
export type Problem = components["schemas"]["Problem"];
/** Every problem `type` the server answers (`urn:rollee-connect:problem:*`). */
export type ProblemType = Problem["type"];
export type { components, paths };
/**
 * The app's login token for this server (the identity provider's ID or
 * access token). Called before each request with `forceRefresh: false`;
 * after API Gateway's 401 once more with `forceRefresh: true`, when the app
 * should get a new one from its identity provider instead of its cache.
 */
export type GetLoginToken = (options: {
    forceRefresh: boolean;
}) => Promise<string>;
export interface ConnectClientOptions {
    /** The stack's `ApiUrl`, or "" for the page's own origin. */
    baseUrl: string;
    getLoginToken: GetLoginToken;
    /** Defaults to `globalThis.fetch`. */
    fetch?: (request: Request) => Promise<Response>;
    /** A monotonic clock in milliseconds; defaults to `performance.now()`. Tests pass their own. */
    now?: () => number;
    /** No automatic refresh (`ConnectSession.fresh`) within this many seconds of the last one; default 30. */
    minSecondsBetweenAutomaticRefreshes?: number;
}
/** Rollee's default session lifetime: used when the server gives no expiry (`expires_in: null`). */
export declare const DEFAULT_LIFETIME_SECONDS: number;
/** How early a session counts as expiring, by default. */
export declare const DEFAULT_MARGIN_SECONDS = 60;
/**
 * Any failed call: a problem from the server's functions (`kind: "problem"`,
 * `type` set), an answer of API Gateway itself (`kind: "gateway"`, its
 * `{"message"}` in `detail`, `type` null), or no answer at all
 * (`kind: "network"`, `status` 0).
 */
export declare class ConnectError extends Error {
    readonly kind: "problem" | "gateway" | "network";
    readonly status: number;
    readonly type: ProblemType | null;
    readonly title: string | null;
    readonly detail: string;
    /** The id of the function's log lines, to report; null for gateway and network failures. */
    readonly requestId: string | null;
    /** Seconds from the `Retry-After` header, when the answer had one. */
    readonly retryAfter: number | null;
    constructor(fields: {
        kind: ConnectError["kind"];
        status: number;
        type?: ProblemType | null;
        title?: string | null;
        detail: string;
        requestId?: string | null;
        retryAfter?: number | null;
    });
    /** Whether this is the problem `urn:rollee-connect:problem:<slug>`, e.g. `is("not-found")`. */
    is(slug: ProblemSlug): boolean;
}
/** The last part of a problem type: `not-found`, `rate-limited`… */
export type ProblemSlug = ProblemType extends `urn:rollee-connect:problem:${infer S}` ? S : never;
type Answer<T> = {
    data?: T;
    error?: unknown;
    response: Response;
};
export declare class ConnectClient {
    /**
     * The generated client (openapi-fetch) over every route of the document,
     * for routes this layer does not wrap; it sends no login token by itself.
     */
    readonly api: Client<paths>;
    private readonly getLoginToken;
    readonly now: () => number;
    private readonly minAutomaticGapMs;
    private lastAutomaticRefresh;
    constructor(options: ConnectClientOptions);
    /** `POST /users`: the signed-in user's Rollee user (created on its first call) with a fresh session. */
    createUser(metadata?: Record<string, string>): Promise<ConnectSession>;
    /** `POST /users/{user_id}/sessions`: another session for one of the caller's users. */
    newSession(userId: string): Promise<ConnectSession>;
    /**
     * `POST /sessions/refresh`, now, whatever the session's time left: for
     * what the user asked for ("Refresh"). `ConnectSession.fresh()` is the one
     * to call from a timer. The refresh of a reconnect session keeps its
     * `accountId`.
     */
    refresh(session: ConnectSession | string): Promise<ConnectSession>;
    /**
     * `GET /users/{user_id}/accounts`: the user's accounts, each with the
     * `status` to show (`RECONNECTABLE` ones get a "Reconnect"). Fields Rollee
     * did not give are null. A 404 (`not-found`): the user is unknown, erased,
     * or not the caller's.
     */
    listAccounts(userId: string): Promise<Account[]>;
    /**
     * `POST /accounts/{account_id}/reconnect`: a Connect session that
     * reconnects that account (open its `connectUrl` as for any session; it
     * counts down and refreshes like any other). A 404: the account is
     * unknown or not of the caller's users.
     */
    reconnect(accountId: string): Promise<ConnectSession>;
    /**
     * `DELETE /users/{user_id}`: erases the user at Rollee and on the server
     * (204). After a 5xx, call it again: a retry finishes the erasure. A 404:
     * unknown, already erased, or not the caller's. `POST /users` afterwards
     * creates a new user.
     */
    eraseUser(userId: string): Promise<void>;
    /**
     * `call` with the login token; after API Gateway's 401 (`{"message"}`, not
     * the function's `unauthenticated` problem, which a new token does not
     * fix) the token is asked for once more with `forceRefresh` and the call
     * made once more. Any other failure is a `ConnectError`.
     */
    authorized<T>(call: (headers: Record<string, string>) => Promise<Answer<T>>): Promise<T>;
    private attempt;
    private session;
}
/**
 * One Connect session. Its deadline is the moment its answer arrived plus
 * `expires_in`, on the client's monotonic clock: a device whose wall clock
 * is off still counts the right time.
 */
export declare class ConnectSession {
    readonly userId: string;
    /** The account a reconnect session reconnects (`ConnectClient.reconnect`); null for the others. */
    readonly accountId: string | null;
    readonly sessionId: string;
    /** A credential for this session: do not log it. */
    readonly connectUrl: string;
    readonly expiresAt: string | null;
    readonly expiresIn: number | null;
    /** The monotonic time (ms) its answer arrived. */
    readonly receivedAt: number;
    private readonly client;
    private replacement;
    constructor(client: ConnectClient, body: SessionBody, receivedAt: number, accountId?: string | null);
    /** The lifetime counted: `expires_in`, or Rollee's default 30 minutes when the server gives none. */
    get lifetime(): number;
    /** Whole seconds left (never below 0). */
    timeLeft(): number;
    /**
     * Whether at most `marginSeconds` are left. The margin is capped at half
     * the session's lifetime, so that a short session is used before it is
     * refreshed.
     */
    isExpiring(marginSeconds?: number): boolean;
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
    fresh(marginSeconds?: number): Promise<ConnectSession>;
}

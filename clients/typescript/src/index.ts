// A client for the Rollee Connect server's API (the routes of its OpenAPI
// document, whose types are generated into ./schema.ts), with what every app
// otherwise writes by hand: the login token and its one retry after API
// Gateway's 401, problems as one typed error, and Connect sessions that count
// down on a monotonic clock and refresh themselves without ever storming.
import createClient from "openapi-fetch";
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
export const RECONNECTABLE: readonly AccountStatus[] = ["disconnected", "error"];
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
export type GetLoginToken = (options: { forceRefresh: boolean }) => Promise<string>;

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
  }) {
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
  is(slug: ProblemSlug): boolean {
    return this.type === `urn:rollee-connect:problem:${slug}`;
  }
}

/** The last part of a problem type: `not-found`, `rate-limited`… */
export type ProblemSlug = ProblemType extends `urn:rollee-connect:problem:${infer S}` ? S : never;

const PROBLEM_PREFIX = "urn:rollee-connect:problem:";

/** The error for a failed answer: `body` as openapi-fetch parsed it. */
function errorOf(response: Response, body: unknown): ConnectError {
  const header = response.headers.get("retry-after");
  const retryAfter = header !== null && /^[0-9]+$/.test(header.trim()) ? Number(header.trim()) : null;
  const status = response.status;
  if (isObject(body) && typeof body.type === "string" && body.type.startsWith(PROBLEM_PREFIX)) {
    return new ConnectError({
      kind: "problem",
      status,
      type: body.type as ProblemType,
      title: typeof body.title === "string" ? body.title : null,
      detail: typeof body.detail === "string" ? body.detail : "",
      requestId: typeof body.request_id === "string" ? body.request_id : null,
      retryAfter,
    });
  }
  const message = isObject(body) && typeof body.message === "string" ? body.message : response.statusText;
  return new ConnectError({ kind: "gateway", status, detail: message, retryAfter });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function isGateway401(response: Response, body: unknown): boolean {
  return response.status === 401 && !(isObject(body) && typeof body.type === "string");
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

export class ConnectClient {
  /**
   * The generated client (openapi-fetch) over every route of the document,
   * for routes this layer does not wrap; it sends no login token by itself.
   */
  readonly api: Client<paths>;
  private readonly getLoginToken: GetLoginToken;
  readonly now: () => number;
  private readonly minAutomaticGapMs: number;
  private lastAutomaticRefresh: number | null = null;

  constructor(options: ConnectClientOptions) {
    this.getLoginToken = options.getLoginToken;
    this.now = options.now ?? (() => performance.now());
    this.minAutomaticGapMs = (options.minSecondsBetweenAutomaticRefreshes ?? 30) * 1000;
    const custom = options.fetch;
    this.api = createClient<paths>({
      baseUrl: options.baseUrl.replace(/\/+$/, ""),
      // Bound late, so that a test's or a polyfill's fetch is the one used.
      fetch: custom ?? ((request: Request) => globalThis.fetch(request)),
    });
  }

  /** `POST /users`: the signed-in user's Rollee user (created on its first call) with a fresh session. */
  async createUser(metadata?: Record<string, string>): Promise<ConnectSession> {
    const body = metadata === undefined ? {} : { metadata };
    return this.session(await this.authorized((headers) => this.api.POST("/users", { body, headers })));
  }

  /** `POST /users/{user_id}/sessions`: another session for one of the caller's users. */
  async newSession(userId: string): Promise<ConnectSession> {
    return this.session(
      await this.authorized((headers) =>
        this.api.POST("/users/{user_id}/sessions", { params: { path: { user_id: userId } }, headers }),
      ),
    );
  }

  /**
   * `POST /sessions/refresh`, now, whatever the session's time left: for
   * what the user asked for ("Refresh"). `ConnectSession.fresh()` is the one
   * to call from a timer. The refresh of a reconnect session keeps its
   * `accountId`.
   */
  async refresh(session: ConnectSession | string): Promise<ConnectSession> {
    const connectUrl = typeof session === "string" ? session : session.connectUrl;
    const accountId = typeof session === "string" ? null : session.accountId;
    return this.session(
      await this.authorized((headers) =>
        this.api.POST("/sessions/refresh", { body: { connect_url: connectUrl }, headers }),
      ),
      accountId,
    );
  }

  /**
   * `GET /users/{user_id}/accounts`: the user's accounts, each with the
   * `status` to show (`RECONNECTABLE` ones get a "Reconnect"). Fields Rollee
   * did not give are null. A 404 (`not-found`): the user is unknown, erased,
   * or not the caller's.
   */
  async listAccounts(userId: string): Promise<Account[]> {
    const body = await this.authorized((headers) =>
      this.api.GET("/users/{user_id}/accounts", { params: { path: { user_id: userId } }, headers }),
    );
    return body.accounts;
  }

  /**
   * `POST /accounts/{account_id}/reconnect`: a Connect session that
   * reconnects that account (open its `connectUrl` as for any session; it
   * counts down and refreshes like any other). A 404: the account is
   * unknown or not of the caller's users.
   */
  async reconnect(accountId: string): Promise<ConnectSession> {
    const body = await this.authorized((headers) =>
      this.api.POST("/accounts/{account_id}/reconnect", { params: { path: { account_id: accountId } }, headers }),
    );
    return this.session(body, body.account_id);
  }

  /**
   * `DELETE /users/{user_id}`: erases the user at Rollee and on the server
   * (204). After a 5xx, call it again: a retry finishes the erasure. A 404:
   * unknown, already erased, or not the caller's. `POST /users` afterwards
   * creates a new user.
   */
  async eraseUser(userId: string): Promise<void> {
    await this.authorized((headers) =>
      this.api.DELETE("/users/{user_id}", { params: { path: { user_id: userId } }, headers }),
    );
  }

  /**
   * `call` with the login token; after API Gateway's 401 (`{"message"}`, not
   * the function's `unauthenticated` problem, which a new token does not
   * fix) the token is asked for once more with `forceRefresh` and the call
   * made once more. Any other failure is a `ConnectError`.
   */
  async authorized<T>(call: (headers: Record<string, string>) => Promise<Answer<T>>): Promise<T> {
    let answer = await this.attempt(call, false);
    if (isGateway401(answer.response, answer.error)) answer = await this.attempt(call, true);
    // (A 204 has no data: `T` is then the operation's `undefined`.)
    if (answer.response.ok) return answer.data as T;
    throw errorOf(answer.response, answer.error);
  }

  private async attempt<T>(
    call: (headers: Record<string, string>) => Promise<Answer<T>>,
    forceRefresh: boolean,
  ): Promise<Answer<T>> {
    const token = await this.getLoginToken({ forceRefresh });
    try {
      return await call({ Authorization: `Bearer ${token}` });
    } catch (e) {
      throw new ConnectError({ kind: "network", status: 0, detail: e instanceof Error ? e.message : String(e) });
    }
  }

  private session(body: SessionBody, accountId: string | null = null): ConnectSession {
    return new ConnectSession(this, body, this.now(), accountId);
  }

  /** @internal Whether an automatic refresh may be made now (at most one per gap, whatever the server says). */
  takeAutomaticRefresh(): boolean {
    const now = this.now();
    if (this.lastAutomaticRefresh !== null && now - this.lastAutomaticRefresh < this.minAutomaticGapMs) return false;
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
  private readonly client: ConnectClient;
  private replacement: Promise<ConnectSession> | null = null;

  constructor(client: ConnectClient, body: SessionBody, receivedAt: number, accountId: string | null = null) {
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
  get lifetime(): number {
    return this.expiresIn ?? DEFAULT_LIFETIME_SECONDS;
  }

  /** Whole seconds left (never below 0). */
  timeLeft(): number {
    const elapsed = (this.client.now() - this.receivedAt) / 1000;
    return Math.max(0, Math.floor(this.lifetime - elapsed));
  }

  /**
   * Whether at most `marginSeconds` are left. The margin is capped at half
   * the session's lifetime, so that a short session is used before it is
   * refreshed.
   */
  isExpiring(marginSeconds: number = DEFAULT_MARGIN_SECONDS): boolean {
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
  fresh(marginSeconds: number = DEFAULT_MARGIN_SECONDS): Promise<ConnectSession> {
    if (this.replacement) return this.replacement;
    if (!this.isExpiring(marginSeconds) || !this.client.takeAutomaticRefresh()) return Promise.resolve(this);
    this.replacement = this.client.refresh(this).catch((e: unknown) => {
      if (e instanceof ConnectError && e.status === 404 && e.is("not-found")) {
        return this.accountId === null ? this.client.createUser() : this.client.reconnect(this.accountId);
      }
      throw e;
    });
    return this.replacement;
  }
}

//! The endpoints of Rollee's API that the client calls, each described once.

use reqwest::Method;

/// One endpoint of Rollee's API, described once.
pub(super) struct Endpoint {
    pub(super) method: Method,
    /// Relative to the API base; `{id}` stands for the one UUID in it. This
    /// template is the only form of the path that is logged: the real path of
    /// a refresh holds a session UUID.
    pub(super) path: &'static str,
    /// `METHOD path`: the endpoint in its metrics (`Endpoint`).
    pub(super) label: &'static str,
    /// Repeating it after a failure is harmless (see [`super::retry::decide`]).
    pub(super) idempotent: bool,
}

/// `POST /users` (published), optional body `{"metadata": {...}}`.
pub(super) const CREATE_USER: Endpoint = Endpoint {
    method: Method::POST,
    path: "/users",
    label: "POST /users",
    idempotent: false,
};
/// `GET /users/{id}` (published).
pub(super) const GET_USER: Endpoint = Endpoint {
    method: Method::GET,
    path: "/users/{id}",
    label: "GET /users/{id}",
    idempotent: true,
};
/// `POST /users/{id}/sessions/new`: the path is published; its request body
/// and answer are not (none is sent; see [`parse_session`]).
pub(super) const NEW_SESSION: Endpoint = Endpoint {
    method: Method::POST,
    path: "/users/{id}/sessions/new",
    label: "POST /users/{id}/sessions/new",
    idempotent: true,
};
/// `POST /sessions/{id}/refresh`: the path is published; body and answer are not.
pub(super) const REFRESH_SESSION: Endpoint = Endpoint {
    method: Method::POST,
    path: "/sessions/{id}/refresh",
    label: "POST /sessions/{id}/refresh",
    idempotent: true,
};

/// `GET /token/refresh` → `{"token": "NEW_JWT"}` (published). Its path is
/// configured (`ROLLEE_TOKEN_REFRESH_PATH`): this one names it in logs. Not
/// repeated once it may have reached Rollee: whether a refresh revokes the
/// JWT it was called with is not published, and if it does, a repeat would
/// be refused and the first answer, the only valid JWT, lost.
pub(super) const TOKEN_REFRESH: Endpoint = Endpoint {
    method: Method::GET,
    path: "/token/refresh",
    label: "GET /token/refresh",
    idempotent: false,
};

// `PUT /webhooks/{type}` [C] replaces the whole configuration of that type
// of webhooks [I], so a repeat is harmless; `DELETE /webhooks/{type}` [C]
// removes it (`make destroy`). One pair per type (Rollee's five [C]).
pub(super) const PUT_USER_WEBHOOKS: Endpoint = Endpoint {
    method: Method::PUT,
    path: "/webhooks/users",
    label: "PUT /webhooks/users",
    idempotent: true,
};
pub(super) const PUT_ACCOUNT_WEBHOOKS: Endpoint = Endpoint {
    method: Method::PUT,
    path: "/webhooks/accounts",
    label: "PUT /webhooks/accounts",
    idempotent: true,
};
pub(super) const PUT_ENDPOINT_WEBHOOKS: Endpoint = Endpoint {
    method: Method::PUT,
    path: "/webhooks/endpoints",
    label: "PUT /webhooks/endpoints",
    idempotent: true,
};
pub(super) const PUT_MULTI_ENDPOINT_WEBHOOKS: Endpoint = Endpoint {
    method: Method::PUT,
    path: "/webhooks/multi_endpoints",
    label: "PUT /webhooks/multi_endpoints",
    idempotent: true,
};
pub(super) const PUT_CONNECT_EVENT_WEBHOOKS: Endpoint = Endpoint {
    method: Method::PUT,
    path: "/webhooks/rollee_connect_events",
    label: "PUT /webhooks/rollee_connect_events",
    idempotent: true,
};
pub(super) const DELETE_USER_WEBHOOKS: Endpoint = Endpoint {
    method: Method::DELETE,
    path: "/webhooks/users",
    label: "DELETE /webhooks/users",
    idempotent: true,
};
pub(super) const DELETE_ACCOUNT_WEBHOOKS: Endpoint = Endpoint {
    method: Method::DELETE,
    path: "/webhooks/accounts",
    label: "DELETE /webhooks/accounts",
    idempotent: true,
};
pub(super) const DELETE_ENDPOINT_WEBHOOKS: Endpoint = Endpoint {
    method: Method::DELETE,
    path: "/webhooks/endpoints",
    label: "DELETE /webhooks/endpoints",
    idempotent: true,
};
pub(super) const DELETE_MULTI_ENDPOINT_WEBHOOKS: Endpoint = Endpoint {
    method: Method::DELETE,
    path: "/webhooks/multi_endpoints",
    label: "DELETE /webhooks/multi_endpoints",
    idempotent: true,
};
pub(super) const DELETE_CONNECT_EVENT_WEBHOOKS: Endpoint = Endpoint {
    method: Method::DELETE,
    path: "/webhooks/rollee_connect_events",
    label: "DELETE /webhooks/rollee_connect_events",
    idempotent: true,
};

/// `GET /users/{id}/accounts` [I]: the user's accounts (body unpublished).
pub(super) const LIST_ACCOUNTS: Endpoint = Endpoint {
    method: Method::GET,
    path: "/users/{id}/accounts",
    label: "GET /users/{id}/accounts",
    idempotent: true,
};
/// `GET /accounts/{id}` [I]: one account (body unpublished).
pub(super) const GET_ACCOUNT: Endpoint = Endpoint {
    method: Method::GET,
    path: "/accounts/{id}",
    label: "GET /accounts/{id}",
    idempotent: true,
};
/// `POST /accounts/{id}/reconnect` [I]: "create a reconnect session for an
/// account". A repeat makes one more session, as `sessions/new` would.
pub(super) const RECONNECT_ACCOUNT: Endpoint = Endpoint {
    method: Method::POST,
    path: "/accounts/{id}/reconnect",
    label: "POST /accounts/{id}/reconnect",
    idempotent: true,
};
/// `DELETE /users/{id}` [C]: deletes the user and its accounts. A repeat
/// after a lost answer gets 404, which the erasure takes as done.
pub(super) const DELETE_USER: Endpoint = Endpoint {
    method: Method::DELETE,
    path: "/users/{id}",
    label: "DELETE /users/{id}",
    idempotent: true,
};

/// Every endpoint's `Endpoint` in metrics.
pub const ENDPOINTS: [&str; 19] = [
    CREATE_USER.label,
    GET_USER.label,
    NEW_SESSION.label,
    REFRESH_SESSION.label,
    TOKEN_REFRESH.label,
    PUT_USER_WEBHOOKS.label,
    PUT_ACCOUNT_WEBHOOKS.label,
    DELETE_USER_WEBHOOKS.label,
    DELETE_ACCOUNT_WEBHOOKS.label,
    PUT_ENDPOINT_WEBHOOKS.label,
    PUT_MULTI_ENDPOINT_WEBHOOKS.label,
    PUT_CONNECT_EVENT_WEBHOOKS.label,
    DELETE_ENDPOINT_WEBHOOKS.label,
    DELETE_MULTI_ENDPOINT_WEBHOOKS.label,
    DELETE_CONNECT_EVENT_WEBHOOKS.label,
    LIST_ACCOUNTS.label,
    GET_ACCOUNT.label,
    RECONNECT_ACCOUNT.label,
    DELETE_USER.label,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_label_is_the_method_and_the_path_template() {
        let all = [
            &CREATE_USER,
            &GET_USER,
            &NEW_SESSION,
            &REFRESH_SESSION,
            &TOKEN_REFRESH,
            &PUT_USER_WEBHOOKS,
            &PUT_ACCOUNT_WEBHOOKS,
            &DELETE_USER_WEBHOOKS,
            &DELETE_ACCOUNT_WEBHOOKS,
            &PUT_ENDPOINT_WEBHOOKS,
            &PUT_MULTI_ENDPOINT_WEBHOOKS,
            &PUT_CONNECT_EVENT_WEBHOOKS,
            &DELETE_ENDPOINT_WEBHOOKS,
            &DELETE_MULTI_ENDPOINT_WEBHOOKS,
            &DELETE_CONNECT_EVENT_WEBHOOKS,
            &LIST_ACCOUNTS,
            &GET_ACCOUNT,
            &RECONNECT_ACCOUNT,
            &DELETE_USER,
        ];
        for (endpoint, label) in all.iter().zip(ENDPOINTS) {
            assert_eq!(format!("{} {}", endpoint.method, endpoint.path), label);
            assert_eq!(endpoint.label, label);
        }
    }
}

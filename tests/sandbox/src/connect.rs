//! The Connect page a link opens (not Rollee's API): the sandbox's stand-in
//! for Rollee Connect, and the account its button connects or reconnects.

use std::sync::Arc;

use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Method, StatusCode};
use uuid::Uuid;

use crate::events::{Screen, emit_account, emit_connect_page, emit_data_ready};
use crate::response::{HttpResponse, reply, rfc3339};
use crate::world::{AccountRecord, SessionState, Shared};
use crate::{CONNECT_PREFIX, SANDBOX_DATASOURCE_ID};

/// Under [`CONNECT_PREFIX`]: `<session>` is the page a Connect link opens,
/// saying whether the session would let the user in and, if so, offering a
/// button (a form POST, no script) to `<session>/connect`, which connects an
/// account for the session's user, or, for a reconnect session, reconnects
/// its account. Opening the page of a valid session emits the `home`
/// Connect-page event.
pub(crate) fn connect(shared: &Arc<Shared>, method: &Method, raw: &str) -> HttpResponse {
    let raw = raw.trim_end_matches('/');
    let (session, action) = raw.split_once('/').unwrap_or((raw, ""));
    let session = Uuid::try_parse(session).ok();
    match (action, session) {
        ("", Some(session)) => open(shared, session),
        ("connect", Some(session)) if method == Method::POST => {
            match connect_account(shared, session) {
                Ok((account, reconnected)) => page(
                    StatusCode::OK,
                    if reconnected {
                        "Account reconnected."
                    } else {
                        "Account connected."
                    },
                    &format!("<p>Account <code id=\"account-id\">{account}</code></p>"),
                ),
                Err(refused) => refusal(refused),
            }
        }
        ("connect", Some(_)) => {
            let mut answer = page(StatusCode::METHOD_NOT_ALLOWED, "Use the button.", "");
            answer
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            answer
        }
        _ => refusal(SessionState::Unknown),
    }
}

/// The page of `session`, opened.
fn open(shared: &Arc<Shared>, session: Uuid) -> HttpResponse {
    let mut world = shared.world();
    let state = world.session_state(session);
    let SessionState::Valid {
        expires_at,
        account,
        ..
    } = state
    else {
        return refusal(state);
    };
    let now = world.now();
    if let Some(record) = world.sessions.get_mut(&session) {
        record.opened_at.get_or_insert(now);
    }
    emit_connect_page(shared, &world, session, Screen::Home);
    let (what, button) = match account {
        Some(account) => (format!("Reconnect account {account}. "), "Reconnect"),
        None => (String::new(), "Connect an account"),
    };
    page(
        StatusCode::OK,
        &format!(
            "{what}Session valid until {}. Any credentials are accepted.",
            rfc3339(expires_at)
        ),
        &format!(
            "<form method=\"post\" action=\"{CONNECT_PREFIX}{session}/connect\">\
             <button id=\"connect-account\" type=\"submit\">{button}</button></form>"
        ),
    )
}

/// The page for a session that does not let its user in.
fn refusal(state: SessionState) -> HttpResponse {
    match state {
        SessionState::Replaced => page(
            StatusCode::GONE,
            "This session was replaced by a refresh.",
            "",
        ),
        SessionState::Expired => page(StatusCode::GONE, "This session has expired.", ""),
        SessionState::Valid { .. } | SessionState::Unknown => {
            page(StatusCode::NOT_FOUND, "Unknown session.", "")
        }
    }
}

/// `message` and `extra` are the sandbox's own text: nothing from a request.
fn page(status: StatusCode, message: &str, extra: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Rollee Connect (local sandbox)</title></head>\
         <body><h1>Rollee Connect — local sandbox</h1><p id=\"status\">{message}</p>{extra}</body></html>"
    );
    reply(status, "text/html; charset=utf-8", Bytes::from(html))
}

/// What the page's button does for a valid `session`: the account and
/// whether it was reconnected.
///
/// A session of `POST /accounts/{id}/reconnect` reconnects its account
/// (`connected` true, status `"connected"`, `updated_at` now) and emits
/// `connect_account`; any other session connects a new account and emits
/// `create_account` then `connect_account` [I]. Either way the data-ready
/// events of the account follow, and the `login`/`success` Connect-page
/// event (see [`crate::events`]).
pub(crate) fn connect_account(
    shared: &Arc<Shared>,
    session: Uuid,
) -> Result<(Uuid, bool), SessionState> {
    let mut world = shared.world();
    let (user, reconnect) = match world.session_state(session) {
        SessionState::Valid { user, account, .. } if world.users.contains_key(&user) => {
            (user, account)
        }
        SessionState::Valid { .. } => return Err(SessionState::Unknown),
        refused => return Err(refused),
    };
    let now = world.now();
    let account = match reconnect {
        Some(account) => {
            let Some(record) = world.accounts.get_mut(&account).filter(|a| a.user == user) else {
                return Err(SessionState::Unknown);
            };
            record.connected = true;
            record.status = Some("connected".to_owned());
            record.updated_at = now;
            emit_account(shared, &world, account, &["connect_account"]);
            account
        }
        None => {
            let account = Uuid::new_v4();
            let record = AccountRecord {
                user,
                datasource: SANDBOX_DATASOURCE_ID,
                connected: true,
                created_at: now,
                status: Some("connected".to_owned()),
                updated_at: now,
            };
            world.accounts.insert(account, record);
            emit_account(
                shared,
                &world,
                account,
                &["create_account", "connect_account"],
            );
            account
        }
    };
    emit_data_ready(shared, &world, account);
    let at = Screen::Connected {
        account,
        reconnected: reconnect.is_some(),
    };
    emit_connect_page(shared, &world, session, at);
    Ok((account, reconnect.is_some()))
}

//! Every sample event in `events/` (the files `cargo lambda invoke
//! --data-file` takes), run as is through its handler against a fresh sandbox.

use crate::support::*;

/// Event file → the status it must get, each against a fresh sandbox and
/// table: a caller's first `POST /users` creates its user (201), and the
/// fixed ids in the good events are unknown there (404).
const EXPECTED: &[(&str, u16)] = &[
    ("create-user", 201),
    ("create-user-no-body", 201),
    ("create-user-no-claims", 401),
    ("create-user-unknown-field", 400),
    ("create-user-reserved-key", 400),
    ("create-user-not-json", 400),
    ("new-session", 404),
    ("new-session-other-caller", 404),
    ("new-session-bad-uuid", 400),
    ("new-session-no-claims", 401),
    ("refresh-url", 404),
    ("refresh-url-not-connect-url", 400),
    ("refresh-url-wrong-body", 400),
    ("refresh-url-no-claims", 401),
    ("list-accounts", 404),
    ("list-accounts-bad-uuid", 400),
    ("reconnect-account", 404),
    ("reconnect-account-bad-uuid", 400),
    ("erase-user", 404),
    ("erase-user-no-claims", 401),
    // Against a receiver with make dev's webhook secret, a new table and bus.
    ("webhook", 200),
    ("webhook-no-header", 401),
];

#[tokio::test]
async fn every_event_file_gets_its_defined_answer() {
    let mut files: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|name| name.strip_suffix(".json").map(str::to_owned))
        .collect();
    files.sort();
    let mut listed: Vec<String> = EXPECTED
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "every event file has an expected status, and only those"
    );

    for (name, status) in EXPECTED {
        let sandbox = sandbox().await;
        let state = dev_state(&sandbox).await;
        let e = event(name);
        let answer = if name.starts_with("webhook") {
            let (setup, _) =
                crate::webhooks::setup(&[("WEBHOOK_SECRET", crate::webhooks::DEV_SECRET)], true)
                    .await;
            answer(
                rollee_shared::app::respond(
                    &setup.receiver,
                    &request(&e),
                    rollee_shared::webhook::handle,
                )
                .await,
            )
        } else if name.starts_with("create-user") {
            create_user(&state, &e).await
        } else if name.starts_with("new-session") {
            new_session(&state, &e).await
        } else if name.starts_with("list-accounts") {
            list_accounts(&state, &e).await
        } else if name.starts_with("reconnect-account") {
            reconnect_account(&state, &e).await
        } else if name.starts_with("erase-user") {
            erase_user(&bus_state(&sandbox).await, &e).await
        } else {
            refresh_url(&state, &e).await
        };
        if *status < 400 {
            assert_eq!(answer.status, *status, "{name}: {}", answer.body);
            if name.starts_with("create-user") || name.starts_with("new-session") {
                watch_session(&answer);
            }
        } else {
            answer.problem(*status);
        }
    }
    assert_no_leaks();
}

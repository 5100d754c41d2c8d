//! A function's self-test: a direct invoke with [`SELF_TEST_KEY`] as the
//! only field, `{"rollee_connect_self_test": true}`, makes a function check
//! what it depends on and answer a [`Report`] instead of handling an event.
//!
//! API Gateway can never send it: its events are objects with `version`,
//! `routeKey`, `requestContext`…, and [`Incoming`] takes an event for the
//! self-test only when that one key is its only field. Only a principal
//! allowed `lambda:InvokeFunction` can send it (the pre-traffic hook, an
//! operator with `aws lambda invoke`).
//!
//! The report names each check, says whether it passed, how long it took
//! and why it failed; it never carries a secret, a JWT or anything read
//! from one (days left are a number).

use std::future::Future;
use std::time::Instant;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::rollee::{RolleeClient, RolleeError};
use crate::store::Store;
use crate::token::{Jwt, TokenSource, days_left};

/// The one field of the self-test payload.
pub const SELF_TEST_KEY: &str = "rollee_connect_self_test";

/// What a function is invoked with: the self-test payload, or its own event.
#[derive(Debug)]
pub enum Incoming<T> {
    SelfTest,
    Event(T),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SelfTestPayload {
    rollee_connect_self_test: bool,
}

/// The event is read once as raw JSON; the self-test's shape is tried first
/// (an HTTP event fails it at its first field), then the function's own
/// type, whose error is the one reported, as before.
impl<'de, T: DeserializeOwned> Deserialize<'de> for Incoming<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <Box<RawValue>>::deserialize(deserializer)?;
        if let Ok(SelfTestPayload {
            rollee_connect_self_test: true,
        }) = serde_json::from_str(raw.get())
        {
            return Ok(Self::SelfTest);
        }
        serde_json::from_str(raw.get())
            .map(Self::Event)
            .map_err(D::Error::custom)
    }
}

/// What a function's state checks when invoked with the self-test payload.
pub trait SelfTest {
    fn self_test(&self) -> impl Future<Output = Report> + Send;
}

/// One dependency checked.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub ms: u64,
    /// What was found, or why the check failed; never a secret.
    pub detail: String,
}

/// A function's answer to the self-test.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The function's name (its binary's).
    pub self_test: &'static str,
    pub ok: bool,
    pub ms: u64,
    pub checks: Vec<Check>,
}

impl Report {
    /// The report of `checks` run since `started`, logged as one line naming the failed checks.
    pub fn new(function: &'static str, started: Instant, checks: Vec<Check>) -> Self {
        let ok = checks.iter().all(|c| c.ok);
        let failed: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
        let ms = millis(started);
        if ok {
            tracing::info!(function, ms, "self-test passed");
        } else {
            tracing::warn!(function, ms, failed = %failed.join(","), "self-test failed");
        }
        Self {
            self_test: function,
            ok,
            ms,
            checks,
        }
    }
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Runs one check and times it.
pub async fn check(name: &'static str, run: impl Future<Output = Result<String, String>>) -> Check {
    let started = Instant::now();
    let result = run.await;
    let ms = millis(started);
    match result {
        Ok(detail) => Check {
            name,
            ok: true,
            ms,
            detail,
        },
        Err(detail) => Check {
            name,
            ok: false,
            ms,
            detail,
        },
    }
}

/// `secret`: the Rollee JWT secret read now (not the copy held since
/// start) and parsed; then `jwt_days_left` from what was read.
pub async fn secret_and_days(tokens: &TokenSource) -> Vec<Check> {
    let mut jwt: Option<Jwt> = None;
    let secret = check("secret", async {
        let read = tokens.read_now().await.map_err(|e| e.to_string())?;
        let what = if tokens.rereads() {
            "read from Secrets Manager and parsed"
        } else {
            "a fixed JWT (ROLLEE_TOKEN, local development)"
        };
        jwt = Some(read);
        Ok(what.to_owned())
    })
    .await;
    let days = check("jwt_days_left", async {
        let jwt = jwt.ok_or("no JWT: the secret check failed")?;
        jwt_days(&jwt, OffsetDateTime::now_utc())
    })
    .await;
    vec![secret, days]
}

/// Days left before the JWT's `exp`; a JWT already expired fails.
pub fn jwt_days(jwt: &Jwt, now: OffsetDateTime) -> Result<String, String> {
    match jwt.expires_at() {
        Some(at) if at <= now => Err("the JWT has expired".to_owned()),
        Some(at) => Ok(format!("{} days left", days_left(at, now))),
        None => Ok("the JWT states no expiry (no readable exp claim)".to_owned()),
    }
}

/// `rollee`: Rollee accepts the JWT. A read of a user that does not exist
/// (a fresh random UUID): 404 means the JWT was accepted; it changes nothing
/// and counts as one request of Rollee's rate limit (Rollee publishes no
/// quota-free call).
pub async fn rollee(client: &RolleeClient) -> Check {
    check("rollee", async {
        match client.get_user(Uuid::new_v4(), client.deadline()).await {
            Err(RolleeError::NotFound) | Ok(_) => {
                Ok("the JWT is accepted (GET /users/<random id> answered 404)".to_owned())
            }
            Err(e) => Err(e.to_string()),
        }
    })
    .await
}

/// `table`: the ownership table answers a read of a key that cannot exist
/// (the owner of the nil UUID, which Rollee never issues), within the keys
/// each function's role may read.
pub async fn table(store: &Store) -> Check {
    check("table", async {
        store
            .owner_of_user(Uuid::nil())
            .await
            .map(|_| "answered a read".to_owned())
            .map_err(|e| e.to_string())
    })
    .await
}

/// The rotation function depends on the secret it rotates (named by
/// `ROLLEE_SECRET_ID` for the self-test; rotation events name their own) and
/// on Rollee accepting its JWT. It reads no table.
impl SelfTest for crate::rotation::Rotator {
    async fn self_test(&self) -> Report {
        let started = Instant::now();
        let mut jwt: Option<Jwt> = None;
        let secret = check("secret", async {
            let id = self.self_test_secret().ok_or(
                "ROLLEE_SECRET_ID is not set: the self-test does not know which secret to read",
            )?;
            jwt = Some(self.current_jwt(id).await.map_err(|e| e.to_string())?);
            Ok("read from Secrets Manager and parsed".to_owned())
        })
        .await;
        let days = check("jwt_days_left", async {
            let jwt = jwt.as_ref().ok_or("no JWT: the secret check failed")?;
            jwt_days(jwt, OffsetDateTime::now_utc())
        })
        .await;
        let rollee = match &jwt {
            Some(jwt) => rollee(&self.client_sending(jwt.clone())).await,
            None => {
                check("rollee", async {
                    Err("not tried: the secret check failed".to_owned())
                })
                .await
            }
        };
        Report::new("rotate-token", started, vec![secret, days, rollee])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn incoming(value: serde_json::Value) -> Result<Incoming<serde_json::Value>, String> {
        serde_json::from_str(&value.to_string()).map_err(|e| e.to_string())
    }

    #[test]
    fn only_the_one_key_set_to_true_is_the_self_test() {
        assert!(matches!(
            incoming(json!({ SELF_TEST_KEY: true })),
            Ok(Incoming::SelfTest)
        ));
        for other in [
            json!({ SELF_TEST_KEY: false }),
            json!({ SELF_TEST_KEY: true, "version": "2.0" }),
            json!({ "version": "2.0", "routeKey": "POST /users" }),
            json!([SELF_TEST_KEY]),
        ] {
            assert!(
                matches!(incoming(other.clone()), Ok(Incoming::Event(_))),
                "{other}"
            );
        }
    }

    #[test]
    fn an_event_of_neither_shape_fails_with_the_event_types_error() {
        #[derive(Debug, Deserialize)]
        #[expect(dead_code, reason = "only its shape matters")]
        struct Typed {
            n: u32,
        }
        let error = serde_json::from_str::<Incoming<Typed>>(r#"{"n": "x"}"#).unwrap_err();
        assert!(error.to_string().contains("invalid type"), "{error}");
    }

    #[test]
    fn days_left_fails_an_expired_jwt_and_reads_a_missing_exp_as_unknown() {
        let now = OffsetDateTime::now_utc();
        let jwt = |payload: &str| {
            let encoded = aws_smithy_types::base64::encode(payload)
                .trim_end_matches('=')
                .replace('+', "-")
                .replace('/', "_");
            Jwt::new(format!("eyJhbGciOiJIUzI1NiJ9.{encoded}.c2ln"))
        };
        let in_ten_days = now.unix_timestamp() + 10 * 86_400 + 60;
        assert_eq!(
            jwt_days(&jwt(&format!(r#"{{"exp":{in_ten_days}}}"#)), now),
            Ok("10 days left".to_owned())
        );
        let past = now.unix_timestamp() - 60;
        assert!(jwt_days(&jwt(&format!(r#"{{"exp":{past}}}"#)), now).is_err());
        assert!(jwt_days(&jwt("{}"), now).unwrap().contains("no expiry"));
    }
}

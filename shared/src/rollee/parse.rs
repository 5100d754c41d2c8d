//! Rollee's answers, read leniently where Rollee publishes nothing.

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};
use tokio::time::Instant;
use url::Url;
use uuid::Uuid;

use super::RolleeError;
use crate::link::session_of_link;

/// A Rollee user, as far as the flow needs it.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub metadata: Map<String, Value>,
    /// The user's current session, when the answer carries one (`POST /users` does).
    pub session: Option<Session>,
}

/// A Connect session: the link the app opens, and the UUID it carries.
#[derive(Clone)]
pub struct Session {
    /// The session UUID, read from the link (the returned link is the truth).
    pub id: Uuid,
    pub link: Url,
    /// In UTC; `None` when Rollee's answer has no usable expiry: never invented.
    pub expires_at: Option<OffsetDateTime>,
    /// Rollee's clock when it answered, when its answer said (`Date`).
    pub clock: Option<RolleeClock>,
}

/// What time it was at Rollee (its answer's `Date` header, to the second)
/// and when that answer arrived, on this process's monotonic clock.
#[derive(Debug, Clone, Copy)]
pub struct RolleeClock {
    pub date: OffsetDateTime,
    pub received: Instant,
}

impl Session {
    /// Whole seconds left until `expires_at` (0 once past), `None` without
    /// one. Counted on Rollee's clock, which states `expires_at`, when its
    /// answer said what time it was: its `Date` less a second (a `Date` is
    /// cut to the second, so never more than there is) less the time since
    /// the answer arrived; otherwise on this server's clock (`now`). A server
    /// and a Rollee whose clocks disagree still tell the app the lifetime
    /// Rollee gave.
    pub fn seconds_left(&self, now: OffsetDateTime) -> Option<i64> {
        let at = self.expires_at?;
        let left = match self.clock {
            Some(clock) => {
                let since = time::Duration::try_from(clock.received.elapsed())
                    .unwrap_or(time::Duration::MAX);
                (at - clock.date)
                    .saturating_sub(time::Duration::SECOND)
                    .saturating_sub(since)
            }
            None => at - now,
        };
        Some(left.whole_seconds().max(0))
    }
}

/// An HTTP `Date` (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`); the
/// obsolete forms are not read (then the server's own clock is used).
pub fn parse_http_date(raw: &str) -> Option<OffsetDateTime> {
    let format = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    PrimitiveDateTime::parse(raw.trim(), &format)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The session UUID is a bearer credential for Connect: keep it out of logs.
        f.debug_struct("Session")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The longest `Retry-After` passed on to the app, and the shortest: a
/// 0-second or a years-long wait are both nonsense to relay.
pub const RETRY_AFTER_RANGE: std::ops::RangeInclusive<u64> = 1..=3600;

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3), clamped
/// to [`RETRY_AFTER_RANGE`]. Rollee does not publish whether it sends one.
pub fn parse_retry_after(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    let seconds = match raw.parse::<u64>() {
        Ok(seconds) => seconds,
        Err(_) => {
            let at = httpdate::parse_http_date(raw).ok()?;
            at.duration_since(std::time::SystemTime::now())
                .map(|d| d.as_secs())
                .unwrap_or(0)
        }
    };
    Some(seconds.clamp(*RETRY_AFTER_RANGE.start(), *RETRY_AFTER_RANGE.end()))
}

/// A User: `id` is required; `metadata` may be absent; the session fields are
/// read when present.
pub fn parse_user(value: &Value) -> Result<User, RolleeError> {
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or(RolleeError::Malformed("the user has no id"))?;
    let metadata = match value.get("metadata") {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    let session = value
        .get("link")
        .is_some()
        .then(|| parse_session(value).ok())
        .flatten();
    Ok(User {
        id,
        metadata,
        session,
    })
}

/// The answer of `sessions/new` and `sessions/{session}/refresh` is not
/// published. Accepted: the four fields `{id, link, session,
/// session_expires_at}` of Rollee's reconnect session (inferred), or a whole
/// User. Only `link` is required: the session UUID is read from it, because
/// whether a refresh keeps the UUID is not published either.
pub fn parse_session(value: &Value) -> Result<Session, RolleeError> {
    let link = value
        .get("link")
        .and_then(Value::as_str)
        .ok_or(RolleeError::Malformed("the answer has no Connect link"))?;
    let link =
        Url::parse(link).map_err(|_| RolleeError::Malformed("the Connect link is not a URL"))?;
    let id = session_of_link(&link).ok_or(RolleeError::Malformed(
        "the Connect link does not end in a session UUID",
    ))?;
    let expires_at = value
        .get("session_expires_at")
        .and_then(Value::as_str)
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
        // A date whose UTC form is out of range (near year 9999 with a
        // negative offset) is no expiry we can state.
        .and_then(|at| at.checked_to_offset(UtcOffset::UTC));
    Ok(Session {
        id,
        link,
        expires_at,
        clock: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_published_user_example_parses() {
        let user = parse_user(&json!({
            "id": "d8ee0653-1293-47fe-990c-45971109de76",
            "created_at": "2024-04-25T19:32:49.765013012Z",
            "metadata": {"crm_id": "42"},
            "link": "https://connectv2.stage.getrollee.com/v0.4/session/11123432-45d1-4557-5ffe-432199401b23",
            "session": "11123432-45d1-4557-5ffe-432199401b23",
            "session_expires_at": "2024-04-26T19:32:49.790255Z",
            "session_expired": false,
            "accounts_number": 0,
            "connected_accounts_count": 0
        }))
        .unwrap();
        assert_eq!(user.id.to_string(), "d8ee0653-1293-47fe-990c-45971109de76");
        assert_eq!(user.metadata["crm_id"], "42");
        let session = user.session.unwrap();
        assert_eq!(
            session.id.to_string(),
            "11123432-45d1-4557-5ffe-432199401b23"
        );
        assert_eq!(
            session.expires_at.unwrap(),
            time::macros::datetime!(2024-04-26 19:32:49.790255 UTC)
        );
    }

    #[test]
    fn the_four_field_session_shape_parses() {
        let s = parse_session(&json!({
            "id": "d8ee0653-1293-47fe-990c-45971109de76",
            "link": "http://127.0.0.1:1/v0.4/session/5f0b1a2e-0c53-4d8e-9f7e-0f2a9a0f5b11/",
            "session": "00000000-0000-0000-0000-000000000000",
            "session_expires_at": "2024-04-25T19:32:49.765013012Z"
        }))
        .unwrap();
        // The link wins over the `session` field.
        assert_eq!(s.id.to_string(), "5f0b1a2e-0c53-4d8e-9f7e-0f2a9a0f5b11");
        assert!(s.expires_at.is_some());
    }

    #[test]
    fn a_missing_odd_or_out_of_range_expiry_is_none_not_invented() {
        let link = "https://c.example/v0.4/session/5f0b1a2e-0c53-4d8e-9f7e-0f2a9a0f5b11";
        for v in [
            json!({"link": link}),
            json!({"link": link, "session_expires_at": "tomorrow"}),
            json!({"link": link, "session_expires_at": 5}),
            // Year 10000 once in UTC: out of range, not a panic.
            json!({"link": link, "session_expires_at": "9999-12-31T23:30:00-01:00"}),
        ] {
            assert!(parse_session(&v).unwrap().expires_at.is_none(), "{v}");
        }
        let near_the_end = parse_session(
            &json!({"link": link, "session_expires_at": "9999-12-31T23:30:00+01:00"}),
        )
        .unwrap();
        assert_eq!(
            near_the_end.expires_at.unwrap(),
            time::macros::datetime!(9999-12-31 22:30 UTC)
        );
    }

    #[test]
    fn answers_without_a_usable_link_are_malformed() {
        for v in [
            json!({}),
            json!({"link": 5}),
            json!({"link": "not a url"}),
            json!({"link": "https://c.example/v0.4/session/not-a-uuid"}),
            json!({"link": "https://c.example/v0.4/other/5f0b1a2e-0c53-4d8e-9f7e-0f2a9a0f5b11"}),
        ] {
            assert!(
                matches!(parse_session(&v), Err(RolleeError::Malformed(_))),
                "{v}"
            );
        }
        assert!(matches!(
            parse_user(&json!({"id": "x"})),
            Err(RolleeError::Malformed(_))
        ));
    }

    #[test]
    fn retry_after_in_seconds_or_as_any_http_date_within_bounds() {
        assert_eq!(parse_retry_after("17"), Some(17));
        assert_eq!(parse_retry_after("0"), Some(1));
        assert_eq!(parse_retry_after("1000000000000"), Some(3600));
        // The three date forms of RFC 9110, all in the past: the shortest wait.
        for past in [
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Wednesday, 21-Oct-15 07:28:00 GMT",
            "Wed Oct 21 07:28:00 2015",
        ] {
            assert_eq!(parse_retry_after(past), Some(1), "{past}");
        }
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT"),
            Some(3600)
        );
        let soon = httpdate::fmt_http_date(
            std::time::SystemTime::now() + std::time::Duration::from_secs(120),
        );
        let seconds = parse_retry_after(&soon).unwrap();
        assert!((110..=120).contains(&seconds), "{seconds}");
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn session_debug_hides_the_link() {
        let s = parse_session(
            &json!({"link": "https://c.example/v0.4/session/5f0b1a2e-0c53-4d8e-9f7e-0f2a9a0f5b11"}),
        )
        .unwrap();
        assert!(!format!("{s:?}").contains("5f0b1a2e"));
    }
}

#[cfg(test)]
mod clock_tests {
    use super::*;
    use time::macros::datetime;

    fn session(expires_at: Option<OffsetDateTime>, clock: Option<RolleeClock>) -> Session {
        let link =
            Url::parse("https://c.example/v0.4/session/b5540c1e-93f2-4d6a-8e0b-7c2d1f3a9e61")
                .unwrap();
        Session {
            id: session_of_link(&link).unwrap(),
            link,
            expires_at,
            clock,
        }
    }

    #[test]
    fn http_dates_are_read_in_their_one_current_form() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(datetime!(1994-11-06 08:49:37 UTC))
        );
        for obsolete in [
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "",
            "now",
        ] {
            assert_eq!(parse_http_date(obsolete), None, "{obsolete}");
        }
    }

    #[test]
    fn time_left_is_counted_on_rollees_clock_when_it_says_and_never_overstated() {
        let now = datetime!(2026-11-28 10:00:00.9 UTC);
        let at = datetime!(2026-11-28 10:30:00.9 UTC);
        // Without Rollee's clock: this server's, rounded down, 0 once past.
        assert_eq!(session(Some(at), None).seconds_left(now), Some(1800));
        let late = datetime!(2026-11-28 10:30:00.1 UTC);
        assert_eq!(session(Some(late), None).seconds_left(now), Some(1799));
        let past = datetime!(2026-11-28 09:59:00 UTC);
        assert_eq!(session(Some(past), None).seconds_left(now), Some(0));
        assert_eq!(session(None, None).seconds_left(now), None);
        // Rollee's clock an hour ahead of this server's: still its 30 minutes,
        // less the second its Date may have been cut by and the moment since.
        let rollee = RolleeClock {
            date: datetime!(2026-11-28 11:00:00 UTC),
            received: Instant::now(),
        };
        let at = datetime!(2026-11-28 11:30:00 UTC);
        let left = session(Some(at), Some(rollee)).seconds_left(now);
        assert!(matches!(left, Some(1798 | 1799)), "{left:?}");
        // Ten seconds after the answer arrived, ten seconds less.
        let earlier = RolleeClock {
            received: Instant::now() - std::time::Duration::from_secs(10),
            ..rollee
        };
        let left = session(Some(at), Some(earlier)).seconds_left(now);
        assert!(matches!(left, Some(1788 | 1789)), "{left:?}");
        let gone = RolleeClock {
            date: datetime!(2026-11-28 12:00:00 UTC),
            received: Instant::now(),
        };
        assert_eq!(session(Some(at), Some(gone)).seconds_left(now), Some(0));
    }
}

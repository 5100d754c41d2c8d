//! The [`Jwt`] itself: a type that cannot leak it by accident, the `exp` read
//! from its payload and the days it has left, and the shape of the secret's
//! value that holds it.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The Rollee JWT. Debug and Display are redacted; the only way to the value is
/// [`Jwt::expose`], used where the `Authorization` header is built and where
/// the rotation function stores it.
#[derive(Clone, PartialEq, Eq)]
pub struct Jwt(Arc<str>);

impl Jwt {
    pub fn new(value: impl Into<String>) -> Self {
        Self(Arc::from(value.into()))
    }

    /// `raw` as a JWT, if it can be one: printable ASCII without spaces, not
    /// empty (anything else would also make an invalid `Authorization` header,
    /// found only at the first request). Surrounding whitespace is dropped.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        if raw.is_empty() || !raw.chars().all(|c| c.is_ascii_graphic()) {
            return None;
        }
        Some(Self::new(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The `exp` claim of the JWT's payload, when it has one.
    ///
    /// Read WITHOUT verifying the signature: Rollee publishes no key to verify
    /// it with, and nothing here trusts the value for access. It only decides
    /// what is logged (days left) and whether a refreshed JWT is newer than
    /// the one it replaces; Rollee alone decides whether a JWT is valid, and a
    /// JWT without a readable `exp` (or no JWT at all) is used all the same.
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        let mut parts = self.0.split('.');
        let (Some(_), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let claims: serde_json::Value = serde_json::from_slice(&base64url(payload)?).ok()?;
        let exp = claims.get("exp")?;
        // NumericDate: seconds since the epoch, possibly with a fraction (RFC 7519 §2).
        let seconds = exp
            .as_i64()
            .or_else(|| exp.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))?;
        OffsetDateTime::from_unix_timestamp(seconds).ok()
    }
}

/// Unpadded base64url (RFC 7515 §2), as JWT segments are written: `+`, `/`
/// and `=` are no part of it.
fn base64url(segment: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(segment).ok()
}

/// Whole days from `now` to `at` (negative once past), rounded down.
pub fn days_left(at: OffsetDateTime, now: OffsetDateTime) -> i64 {
    (at - now).whole_seconds().div_euclid(86_400)
}

/// One line saying how long `jwt` has left: WARN under `warn_days` (or
/// expired), INFO otherwise, INFO "unknown" without a readable `exp`. Never
/// any part of the JWT itself. For the `"current"` JWT (the one in use),
/// also the `JwtDaysLeft` metric, whose alarm has the same threshold.
pub fn log_expiry(jwt: &Jwt, warn_days: u32, what: &'static str) {
    let Some(exp) = jwt.expires_at() else {
        tracing::info!(
            jwt = what,
            "the Rollee JWT carries no readable expiry (exp): its days left are unknown"
        );
        return;
    };
    let days = days_left(exp, OffsetDateTime::now_utc());
    if what == "current" {
        crate::metrics::jwt_days_left(days);
    }
    let expires_at = exp.format(&Rfc3339).unwrap_or_default();
    if days < i64::from(warn_days) {
        tracing::warn!(
            jwt = what,
            days_left = days,
            %expires_at,
            warn_days,
            "the Rollee JWT expires in {days} days: rotate it (docs/deploy.md: rotation)"
        );
    } else {
        tracing::info!(jwt = what, days_left = days, %expires_at, "the Rollee JWT expires in {days} days");
    }
}

impl fmt::Debug for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Jwt(<redacted>)")
    }
}

impl fmt::Display for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The secret holds the bare JWT, or JSON `{"token": "..."}` (the shape of
/// Rollee's own `GET /token/refresh` answer, so a rotation can store it as is;
/// other fields are allowed and ignored).
pub fn parse_secret(raw: &str) -> Option<Jwt> {
    let raw = raw.trim();
    if raw.starts_with('{') {
        #[derive(serde::Deserialize)]
        struct Wrapped {
            token: String,
        }
        Jwt::parse(&serde_json::from_str::<Wrapped>(raw).ok()?.token)
    } else {
        Jwt::parse(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JWT with this payload (header and signature are not read).
    pub(crate) fn jwt_with_payload(payload: &str) -> Jwt {
        let encoded = aws_smithy_types::base64::encode(payload)
            .trim_end_matches('=')
            .replace('+', "-")
            .replace('/', "_");
        Jwt::new(format!("eyJhbGciOiJIUzI1NiJ9.{encoded}.c2ln"))
    }

    #[test]
    fn debug_and_display_are_redacted() {
        let jwt = Jwt::new("eyJhbGciOi.secret.sig");
        assert_eq!(format!("{jwt:?}"), "Jwt(<redacted>)");
        assert_eq!(format!("{jwt}"), "<redacted>");
        assert_eq!(jwt.expose(), "eyJhbGciOi.secret.sig");
    }

    #[test]
    fn secret_may_be_bare_or_wrapped() {
        assert_eq!(parse_secret("eyJa.b.c\n").unwrap().expose(), "eyJa.b.c");
        assert_eq!(
            parse_secret(r#" {"token": "eyJa.b.c"} "#).unwrap().expose(),
            "eyJa.b.c"
        );
        assert_eq!(
            parse_secret(r#"{"token": "eyJa.b.c", "note": "rotated"}"#)
                .unwrap()
                .expose(),
            "eyJa.b.c"
        );
    }

    #[test]
    fn unusable_secrets_are_refused() {
        for raw in [
            "",
            "  ",
            r#"{"jwt": "x"}"#,
            r#"{"token": ""}"#,
            r#"{"token": 5}"#,
            "a b",
            "{not json",
        ] {
            assert!(parse_secret(raw).is_none(), "{raw:?}");
        }
    }

    #[test]
    fn exp_is_read_from_the_payload_and_anything_else_has_none() {
        let exp = jwt_with_payload(r#"{"sub":"acme","exp":1900000000}"#).expires_at();
        assert_eq!(exp.unwrap().unix_timestamp(), 1_900_000_000);
        // A fraction is allowed (NumericDate); `-` and `_` are base64url's.
        let exp = jwt_with_payload(r#"{"exp":1900000000.5,"n":"??>>"}"#).expires_at();
        assert_eq!(exp.unwrap().unix_timestamp(), 1_900_000_000);
        for no_exp in [
            Jwt::new("local-sandbox-jwt"),
            Jwt::new("a.b"),
            Jwt::new("a.b.c.d"),
            Jwt::new("eyJ.%%%.c"),
            jwt_with_payload(r#"{"sub":"acme"}"#),
            jwt_with_payload(r#"{"exp":"tomorrow"}"#),
            jwt_with_payload("not json"),
            jwt_with_payload(r#"{"exp":1e300}"#),
        ] {
            assert!(no_exp.expires_at().is_none());
        }
    }

    #[test]
    fn days_left_round_down_and_go_negative() {
        let now = OffsetDateTime::from_unix_timestamp(1_000_000_000).unwrap();
        let at = |s: i64| OffsetDateTime::from_unix_timestamp(1_000_000_000 + s).unwrap();
        assert_eq!(days_left(at(86_400 * 3 - 1), now), 2);
        assert_eq!(days_left(at(86_400 * 3), now), 3);
        assert_eq!(days_left(at(-1), now), -1);
    }
}

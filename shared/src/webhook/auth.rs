//! Who may deliver webhooks: the sender must present the configured header
//! with its secret value and, when signatures are on, an `X-Signature` that
//! is the HMAC-SHA512 of the body.
//!
//! Both values Rollee is given come from one generated secret (the template
//! makes it; nobody types it): the header's value and the signing key are
//! each an HMAC-SHA256 of a fixed label under that secret, so that knowing
//! one tells nothing of the other, and the secret itself never leaves AWS
//! except to the registration step. Comparisons are constant-time: the
//! header's value with `aws_lc_rs::constant_time::verify_slices_are_equal`,
//! the signature with `aws_lc_rs::hmac::verify`.

use std::fmt;
use std::time::{Duration, Instant};

use aws_lc_rs::{constant_time, digest, hmac};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use lambda_http::http::HeaderMap;
use lambda_http::http::header::HeaderName;

/// The header Rollee's secondary sources name for the HMAC [I].
pub const SIGNATURE_HEADER: &str = "x-signature";
/// The header that carries the shared secret, unless configured otherwise.
pub const DEFAULT_HEADER: &str = "x-rollee-webhook-token";
/// A generated secret shorter than this is refused at start.
pub const MIN_SECRET_LEN: usize = 32;

/// How long the previous value of the secret is still accepted after the
/// current one was stored: time to run `make register-webhooks`, and for
/// Rollee's deliveries already under way. A leaked value stops working at
/// most this long after the secret is replaced.
pub const PREVIOUS_SECRET_GRACE: Duration = Duration::from_secs(15 * 60);

const HEADER_LABEL: &[u8] = b"rollee-connect webhook header v1";
const SIGNING_LABEL: &[u8] = b"rollee-connect webhook signature v1";

/// How Rollee writes `X-Signature`: not published [?], so configurable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureEncoding {
    /// Lowercase or uppercase hexadecimal.
    Hex,
    /// Standard base64, padded or not.
    Base64,
}

impl SignatureEncoding {
    /// `off` is `Some(None)`; anything but `off`, `hex` or `base64` is `None`.
    pub fn parse(raw: &str) -> Option<Option<Self>> {
        match raw.to_ascii_lowercase().as_str() {
            "off" | "none" => Some(None),
            "hex" => Some(Some(Self::Hex)),
            "base64" => Some(Some(Self::Base64)),
            _ => None,
        }
    }

    fn decode(self, raw: &str) -> Option<Vec<u8>> {
        let raw = raw.trim();
        // Some senders prefix the algorithm, as GitHub does ("sha512=…").
        let raw = raw.strip_prefix("sha512=").unwrap_or(raw);
        match self {
            Self::Hex => hex_decode(raw),
            Self::Base64 => base64_decode(raw),
        }
    }
}

/// The two values Rollee is given, derived from the generated secret.
/// Debug shows neither.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    header_value: String,
    signing_key: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials { .. }")
    }
}

impl Credentials {
    /// `None` when the secret is shorter than [`MIN_SECRET_LEN`] (surrounding
    /// whitespace is not part of it).
    pub fn derive(secret: &str) -> Option<Self> {
        let secret = secret.trim();
        if secret.len() < MIN_SECRET_LEN {
            return None;
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        Some(Self {
            header_value: hex(hmac::sign(&key, HEADER_LABEL).as_ref()),
            signing_key: hex(hmac::sign(&key, SIGNING_LABEL).as_ref()),
        })
    }

    /// What the webhook header must carry.
    pub fn header_value(&self) -> &str {
        &self.header_value
    }

    /// Rollee's `secret` for the HMAC.
    pub fn signing_key(&self) -> &str {
        &self.signing_key
    }
}

/// What a delivery may be signed with: the secret's current value and, for
/// a while after it changed, its previous one (deliveries Rollee sent, or
/// retries, before it was given the new values).
#[derive(Debug, Clone)]
pub struct Keys {
    pub current: Credentials,
    /// The previous value, and until when it is still accepted.
    pub previous: Option<(Credentials, Instant)>,
}

/// Why a delivery was refused. Its Display is what is logged: it names the
/// check, never a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the webhook header is missing")]
    MissingHeader,
    #[error("the webhook header's value is wrong")]
    WrongHeader,
    #[error("X-Signature is missing")]
    MissingSignature,
    #[error("X-Signature is not the body's HMAC")]
    BadSignature,
}

impl Rejection {
    /// Whether a changed secret could explain it (a value that does not
    /// match), as opposed to a request that carries none.
    pub fn may_be_rotation(self) -> bool {
        matches!(self, Self::WrongHeader | Self::BadSignature)
    }
}

/// Checks deliveries against [`Keys`].
pub struct Verifier {
    header: HeaderName,
    signature: Option<SignatureEncoding>,
    accepted: Vec<Accepted>,
}

/// The header is compared in constant time with the expected value itself
/// (aws-lc's `CRYPTO_memcmp`: its time depends on the length alone, and every
/// expected value is 64 hex digits, as anyone may know). Nothing is derived
/// or drawn at random for it: seeding aws-lc's generator would cost ~50 ms of
/// CPU at cold start (measured).
struct Accepted {
    header_value: Box<[u8]>,
    signing: hmac::Key,
    /// `None`: the current value; else the end of the previous one's grace.
    until: Option<Instant>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("header", &self.header)
            .field("signature", &self.signature)
            .field("accepted", &self.accepted.len())
            .finish()
    }
}

impl Verifier {
    pub fn new(
        header: HeaderName,
        signature: Option<SignatureEncoding>,
        keys: &Keys,
    ) -> Result<Self, String> {
        let accept = |credentials: &Credentials, until: Option<Instant>| Accepted {
            header_value: credentials.header_value.as_bytes().into(),
            signing: hmac::Key::new(hmac::HMAC_SHA512, credentials.signing_key.as_bytes()),
            until,
        };
        let mut accepted = vec![accept(&keys.current, None)];
        if let Some((previous, until)) = &keys.previous
            && previous != &keys.current
        {
            accepted.push(accept(previous, Some(*until)));
        }
        Ok(Self {
            header,
            signature,
            accepted,
        })
    }

    /// The header's name, as configured.
    pub fn header_name(&self) -> &HeaderName {
        &self.header
    }

    /// Whether the delivery carries a right header and, when signatures are
    /// on, a right signature of `body`; both from the same credentials.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Rejection> {
        let provided = headers.get(&self.header).ok_or(Rejection::MissingHeader)?;
        let now = Instant::now();
        let accepted = self
            .accepted
            .iter()
            .filter(|a| a.until.is_none_or(|until| now < until))
            .find(|a| {
                constant_time::verify_slices_are_equal(provided.as_bytes(), &a.header_value).is_ok()
            })
            .ok_or(Rejection::WrongHeader)?;
        let Some(encoding) = self.signature else {
            return Ok(());
        };
        let signature = headers
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or(Rejection::MissingSignature)?;
        let tag = encoding.decode(signature).ok_or(Rejection::BadSignature)?;
        hmac::verify(&accepted.signing, body, &tag).map_err(|_| Rejection::BadSignature)
    }
}

/// The HMAC-SHA512 of `body` under `signing_key`, as Rollee is assumed to
/// send it (for the local sandbox and the tests).
pub fn sign(signing_key: &str, body: &[u8], encoding: SignatureEncoding) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA512, signing_key.as_bytes());
    let tag = hmac::sign(&key, body);
    match encoding {
        SignatureEncoding::Hex => hex(tag.as_ref()),
        SignatureEncoding::Base64 => base64(tag.as_ref()),
    }
}

/// Lowercase hex of SHA-256: the key a delivery is remembered by.
pub fn body_digest(body: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, body).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Either case; an odd length or any other character is `None`.
fn hex_decode(raw: &str) -> Option<Vec<u8>> {
    hex::decode(raw).ok()
}

/// Standard base64, padded or not (what Rollee sends is not published).
/// Strict otherwise: no `=` beyond the canonical padding (`Zm9v=` and
/// `Zm9vYg===` are refused), and the unused bits of the last character zero.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn base64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

fn base64_decode(raw: &str) -> Option<Vec<u8>> {
    BASE64.decode(raw).ok()
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;

//! The process's one HTTP client, for Rollee and for the AWS SDK, and a
//! bounded read of a response body.

use std::time::Duration;

use bytes::Bytes;

/// The largest response body read from Rollee or Secrets Manager. A User or a
/// session is well under a kilobyte and a secret at most 64 KiB: anything near
/// this is not an answer we could use, and reading it whole could exhaust a
/// 128 MB function.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// TCP + TLS set-up and one whole attempt; the Rollee client sets a tighter
/// per-request timeout within its budget.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub attempt: Duration,
}

/// The process's one HTTP client: built once, connections reused across
/// invocations.
///
/// TLS: rustls with aws-lc-rs and Mozilla's root certificates compiled in
/// (webpki-roots), so that a cold start does not read and parse the system's
/// CA directory (measured: ~3 ms, BENCHMARKS.md).
pub fn client(timeouts: Timeouts) -> Result<reqwest::Client, String> {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("could not configure TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.attempt)
        .pool_idle_timeout(Duration::from_secs(50))
        .user_agent(concat!("rollee-connect-server/", env!("CARGO_PKG_VERSION")))
        // Redirects would carry the Bearer header to wherever they point.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("could not build the HTTP client: {e}"))
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Over [`MAX_RESPONSE_BYTES`]: reading stopped there.
    TooLarge,
    Read(reqwest::Error),
}

/// Reads `response`'s body as it streams in, and stops at `limit` bytes:
/// memory stays bounded whatever the peer sends.
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Bytes, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

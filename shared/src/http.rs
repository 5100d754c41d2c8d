//! The process's one HTTP client, for Rollee and for the AWS SDK, and a
//! bounded read of a response body.

use std::time::Duration;

use bytes::Bytes;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

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

/// The AWS SDKs' setting for certificate authorities to trust beyond the
/// compiled-in roots: the path of one PEM file of certificates. Read once,
/// when the process's client is built (at init).
pub const VAR_CA_BUNDLE: &str = "AWS_CA_BUNDLE";

/// The process's one HTTP client: built once, connections reused across
/// invocations.
///
/// TLS: rustls with aws-lc-rs and Mozilla's root certificates compiled in
/// (webpki-roots), so that a cold start does not read and parse the system's
/// CA directory (measured: ~3 ms, BENCHMARKS.md); plus the certificates of
/// the file [`VAR_CA_BUNDLE`] names, when set (an unreadable or bad file is
/// an error naming the variable: the function does not start).
pub fn client(timeouts: Timeouts) -> Result<reqwest::Client, String> {
    client_with_roots(timeouts, &extra_roots()?)
}

/// The certificates of the file [`VAR_CA_BUNDLE`] names; none when it is
/// unset or empty.
pub fn extra_roots() -> Result<Vec<CertificateDer<'static>>, String> {
    match std::env::var_os(VAR_CA_BUNDLE) {
        Some(path) if !path.is_empty() => read_bundle(std::path::Path::new(&path)),
        _ => Ok(Vec::new()),
    }
}

/// The certificates of a PEM file: at least one, every one well-formed.
pub fn read_bundle(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let pem = std::fs::read(path)
        .map_err(|e| format!("{VAR_CA_BUNDLE} names {shown}, which could not be read: {e}"))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{VAR_CA_BUNDLE} names {shown}, which is not a PEM file: {e}"))?;
    if certificates.is_empty() {
        return Err(format!(
            "{VAR_CA_BUNDLE} names {shown}, which holds no certificate (-----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(certificates)
}

/// As [`client`], trusting `extra` besides the compiled-in roots (and not
/// [`VAR_CA_BUNDLE`]).
pub fn client_with_roots(
    timeouts: Timeouts,
    extra: &[CertificateDer<'static>],
) -> Result<reqwest::Client, String> {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    // A system bundle may hold a certificate webpki cannot take as a trust
    // anchor among a hundred it can: those are skipped (and said); a file
    // of which none is usable is an error.
    let (added, skipped) = roots.add_parsable_certificates(extra.iter().cloned());
    if !extra.is_empty() && added == 0 {
        return Err(format!(
            "{VAR_CA_BUNDLE}: none of the file's {} certificate(s) is a usable CA certificate",
            extra.len()
        ));
    }
    if skipped > 0 {
        tracing::warn!(
            "{VAR_CA_BUNDLE}: {skipped} of the file's {} certificates are not usable CA certificates and are ignored",
            extra.len()
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("rollee-ca-bundle-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_bundle_that_is_no_pem_file_of_certificates_is_an_error_naming_the_variable() {
        let missing = std::env::temp_dir().join("rollee-ca-bundle-that-does-not-exist.pem");
        let empty = file("empty.pem", "");
        let key_only = file(
            "key.pem",
            "-----BEGIN PRIVATE KEY-----\naGVsbG8=\n-----END PRIVATE KEY-----\n",
        );
        let bad_base64 = file(
            "base64.pem",
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        );
        for (path, says) in [
            (&missing, "could not be read"),
            (&empty, "holds no certificate"),
            (&key_only, "holds no certificate"),
            (&bad_base64, "is not a PEM file"),
        ] {
            let e = read_bundle(path).unwrap_err();
            assert!(e.starts_with("AWS_CA_BUNDLE names "), "{e}");
            assert!(e.contains(says), "{}: {e}", path.display());
        }
        for path in [empty, key_only, bad_base64] {
            std::fs::remove_file(path).unwrap();
        }
    }

    #[test]
    fn a_certificate_that_is_no_ca_certificate_is_refused_as_a_root() {
        // Well-formed PEM, but its DER is no certificate.
        let path = file(
            "not-der.pem",
            "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
        );
        let certificates = read_bundle(&path).unwrap();
        assert_eq!(certificates.len(), 1);
        let timeouts = Timeouts {
            connect: Duration::from_secs(1),
            attempt: Duration::from_secs(1),
        };
        let e = client_with_roots(timeouts, &certificates).unwrap_err();
        assert!(
            e.starts_with("AWS_CA_BUNDLE: none of the file's 1 certificate(s) is a usable CA"),
            "{e}"
        );
        assert!(client_with_roots(timeouts, &[]).is_ok());
        std::fs::remove_file(path).unwrap();
    }
}

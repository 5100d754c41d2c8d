//! TLS on loopback, as a deployed function meets it: a certificate authority
//! made for the run, and TLS fronts that terminate it in front of the local
//! plain-HTTP servers (the sandbox, moto, the benchmark's table stand-in).
//!
//! A function trusts the CA only through `AWS_CA_BUNDLE` (the file
//! [`LocalCa::bundle`] writes; shared/src/http.rs): without it, the handshake
//! fails as it would against an unknown CA.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// The name the servers' certificate is for: the loopback address, as an IP
/// SAN (no DNS lookup on either side).
pub const HOST: &str = "127.0.0.1";

/// A certificate authority made for one run, and one server certificate it
/// signed for [`HOST`] (and `localhost`).
pub struct LocalCa {
    ca: CertificateDer<'static>,
    bundle: PathBuf,
    acceptor: TlsAcceptor,
}

impl LocalCa {
    /// A new CA and server key (ECDSA P-256, aws-lc-rs), the CA's
    /// certificate written as PEM to `dir/ca.pem`.
    pub fn new(dir: &Path) -> Result<LocalCa, String> {
        let fail = |what: &str, e: &dyn std::fmt::Display| format!("local CA: {what}: {e}");
        let mut params =
            CertificateParams::new(Vec::<String>::new()).map_err(|e| fail("CA parameters", &e))?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Rollee Connect local test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().map_err(|e| fail("CA key", &e))?;
        let ca = CertifiedIssuer::self_signed(params, ca_key).map_err(|e| fail("CA", &e))?;

        let mut leaf = CertificateParams::new(vec![HOST.to_owned(), "localhost".to_owned()])
            .map_err(|e| fail("server parameters", &e))?;
        leaf.distinguished_name
            .push(DnType::CommonName, "Rollee Connect local test server");
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = KeyPair::generate().map_err(|e| fail("server key", &e))?;
        let cert = leaf
            .signed_by(&leaf_key, &ca)
            .map_err(|e| fail("server certificate", &e))?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| fail("TLS versions", &e))?
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone(), ca.der().clone()], key)
            .map_err(|e| fail("server configuration", &e))?;

        std::fs::create_dir_all(dir).map_err(|e| fail("directory", &e))?;
        let bundle = dir.join("ca.pem");
        std::fs::write(&bundle, ca.pem()).map_err(|e| fail("writing ca.pem", &e))?;
        Ok(LocalCa {
            ca: ca.der().clone(),
            bundle,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// The CA's certificate as a PEM file: what `AWS_CA_BUNDLE` names.
    pub fn bundle(&self) -> &Path {
        &self.bundle
    }

    /// The CA's certificate, for a client built in this process.
    pub fn certificate(&self) -> CertificateDer<'static> {
        self.ca.clone()
    }

    /// TLS on a free port of [`HOST`], each connection forwarded to the
    /// plain server at `upstream`.
    pub async fn front(&self, upstream: SocketAddr) -> std::io::Result<TlsFront> {
        let listener = TcpListener::bind((HOST, 0)).await?;
        Ok(self.front_on(listener, upstream))
    }

    /// As [`LocalCa::front`], on a listener bound beforehand (so that the
    /// upstream can be told its public address before it starts).
    pub fn front_on(&self, listener: TcpListener, upstream: SocketAddr) -> TlsFront {
        let addr = listener.local_addr().unwrap_or(upstream);
        let acceptor = self.acceptor.clone();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let counted = handshakes.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let counted = counted.clone();
                tokio::spawn(async move {
                    // A failed handshake or a dropped connection: the client
                    // sees it; nothing to do here.
                    let _ = forward(acceptor, stream, upstream, &counted).await;
                });
            }
        });
        TlsFront {
            addr,
            handshakes,
            task,
        }
    }
}

async fn forward(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    upstream: SocketAddr,
    handshakes: &AtomicUsize,
) -> std::io::Result<()> {
    // Small request/response exchanges: no Nagle delay on either leg.
    stream.set_nodelay(true)?;
    let mut tls = acceptor.accept(stream).await?;
    handshakes.fetch_add(1, Ordering::SeqCst);
    let mut plain = TcpStream::connect(upstream).await?;
    plain.set_nodelay(true)?;
    tokio::io::copy_bidirectional(&mut tls, &mut plain).await?;
    Ok(())
}

/// A running TLS front; stops when dropped.
pub struct TlsFront {
    addr: SocketAddr,
    handshakes: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsFront {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The TLS connections it accepted so far (handshakes completed).
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }
}

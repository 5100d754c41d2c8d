//! A real function binary against upstreams over TLS (Secrets Manager and
//! DynamoDB through moto, Rollee through the sandbox, each behind a TLS
//! front with a CA made for the test): it trusts that CA only through
//! `AWS_CA_BUNDLE`, and a bad bundle stops its start naming the variable.

use std::time::Duration;

use rollee_harness::runtime_api::Bootstrap;
use rollee_harness::tls::LocalCa;

use crate::startup::binary;
use crate::support::*;

const JWT: &str = "eyJ0eXAiOiJKV1QifQ.tls-test.c2ln";
const TIMEOUT: Duration = Duration::from_secs(20);

/// What the function gets, less any `AWS_CA_BUNDLE`.
struct Upstreams {
    _moto: Moto,
    sandbox: rollee_sandbox::Sandbox,
    /// Secrets Manager's and DynamoDB's (moto's) TLS front.
    aws: rollee_harness::tls::TlsFront,
    /// Rollee's (the sandbox's) TLS front.
    rollee: rollee_harness::tls::TlsFront,
    vars: Vec<(&'static str, String)>,
}

async fn upstreams(ca: &LocalCa) -> Upstreams {
    let moto = Moto::start().unwrap();
    moto.put_secret("rollee/jwt", JWT).await.unwrap();
    moto.create_table("ownership").await.unwrap();
    let moto_addr = moto.endpoint.trim_start_matches("http://").parse().unwrap();
    let aws = ca.front(moto_addr).await.unwrap();
    // The sandbox's Connect links on the TLS front's origin: the client
    // refuses an http link from an https API.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("https://{}", listener.local_addr().unwrap());
    let any = "127.0.0.1:0".parse().unwrap();
    let sandbox = rollee_sandbox::Sandbox::bind_with_origin(any, JWT, Some(origin))
        .await
        .unwrap();
    let rollee = ca.front_on(listener, sandbox.addr());
    let api_url = sandbox.base_url();
    assert!(api_url.starts_with("https://127.0.0.1:"), "{api_url}");
    let vars = vec![
        ("ROLLEE_SECRET_ID", "rollee/jwt".to_owned()),
        ("ROLLEE_API_URL", api_url),
        ("AWS_ENDPOINT_URL", aws.url()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("OWNERSHIP_TABLE", "ownership".to_owned()),
    ];
    Upstreams {
        _moto: moto,
        sandbox,
        aws,
        rollee,
        vars,
    }
}

async fn start(vars: &[(&str, String)]) -> Bootstrap {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Bootstrap::start(&binary("create-user"), "create-user", &vars, true)
        .await
        .unwrap()
}

fn scratch() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("rollee-tls-{}", uuid::Uuid::new_v4()))
}

#[tokio::test]
async fn over_tls_a_function_trusts_the_ca_of_aws_ca_bundle_and_no_other() {
    let dir = scratch();
    let ca = LocalCa::new(&dir).unwrap();
    let up = upstreams(&ca).await;

    // With the bundle: the secret at init, then the table and Rollee, all over TLS.
    let mut vars = up.vars.clone();
    vars.push(("AWS_CA_BUNDLE", ca.bundle().display().to_string()));
    let function = start(&vars).await;
    let created = function
        .invoke(&event("create-user"), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(created["statusCode"], 201, "{created}");
    assert!(
        up.sandbox.requests().iter().any(|r| r.path == "/users"),
        "Rollee was called (through the TLS front)"
    );
    let logs = function.stop();
    assert!(!logs.contains(JWT), "the JWT is never logged");

    // Without it, the same CA is unknown: the start fails at the secret's
    // handshake, and says so to the Runtime API.
    let function = start(&up.vars).await;
    let error = function.init(TIMEOUT).await.expect_err("init fails");
    assert!(error.starts_with("init error: "), "{error}");
    assert!(
        error.contains("could not read secret rollee/jwt"),
        "{error}"
    );
    assert!(
        error.contains("UnknownIssuer") || error.contains("certificate"),
        "the handshake is what failed: {error}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_bad_aws_ca_bundle_stops_the_start_naming_the_variable() {
    let dir = scratch();
    let ca = LocalCa::new(&dir).unwrap();
    let up = upstreams(&ca).await;
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let broken = dir.join("broken.pem");
    // A PEM block whose DER is no certificate.
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    for (bundle, says) in [
        (dir.join("missing.pem"), "which could not be read"),
        (garbage, "which holds no certificate"),
        (broken, "is a usable CA certificate"),
    ] {
        let mut vars = up.vars.clone();
        vars.push(("AWS_CA_BUNDLE", bundle.display().to_string()));
        let function = start(&vars).await;
        let error = function.init(TIMEOUT).await.expect_err("init fails");
        assert!(error.starts_with("init error: "), "{error}");
        assert!(error.contains("AWS_CA_BUNDLE"), "{error}");
        assert!(error.contains(says), "{}: {error}", bundle.display());
        assert!(
            up.sandbox.requests().is_empty(),
            "nothing is called before the bundle is read"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A cold start opens the table's and Rollee's connections while it reads
/// the secret (`CONNECT_AT_INIT`, shared/src/app/connect.rs). Secrets
/// Manager and DynamoDB are both moto, behind one TLS front, which sees two
/// handshakes by the end of init, one with `off`; Rollee's front sees one by
/// the end of init with `on` (a `HEAD` of its origin, which the sandbox
/// does not record as an API call), none with `table` or `off`. The first
/// request then uses Rollee's connection init opened, or opens it.
#[tokio::test]
async fn a_cold_start_opens_the_tables_and_rollees_connections_as_told() {
    let dir = scratch();
    let ca = LocalCa::new(&dir).unwrap();
    for (setting, aws, rollee) in [
        (None, 2, 1),
        (Some("on"), 2, 1),
        (Some("table"), 2, 0),
        (Some("off"), 1, 0),
    ] {
        let up = upstreams(&ca).await;
        let mut vars = up.vars.clone();
        vars.push(("AWS_CA_BUNDLE", ca.bundle().display().to_string()));
        if let Some(setting) = setting {
            vars.push(("CONNECT_AT_INIT", setting.to_owned()));
        }
        let function = start(&vars).await;
        function.init(TIMEOUT).await.unwrap();
        let at_init = (up.aws.handshakes(), up.rollee.handshakes());
        assert_eq!(at_init, (aws, rollee), "CONNECT_AT_INIT={setting:?}");
        assert!(up.sandbox.requests().is_empty(), "no API call at init");
        // The first request works either way, and opens what init did not.
        let created = function
            .invoke(&event("create-user"), TIMEOUT)
            .await
            .unwrap();
        assert_eq!(created["statusCode"], 201, "{created}");
        // (moto's server closes each connection after its answer, so the
        // AWS front's count says nothing about reuse; the bench's table
        // stand-in keeps them.)
        assert_eq!(
            up.rollee.handshakes(),
            1,
            "CONNECT_AT_INIT={setting:?}: after the first request"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

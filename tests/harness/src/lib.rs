//! What runs the functions the way AWS would, for the end-to-end tests (in
//! `tests/e2e/`) and the benchmark: a local Lambda Runtime API, moto's server
//! for Secrets Manager, the sample events of `events/`, and the rules of
//! CloudWatch's embedded metric format that every metric line is held to;
//! a stand-in for Lambda's Invoke and CodeDeploy's hook status; and a local
//! CA with TLS fronts for the local servers.

pub mod aws_standin;
pub mod bus;
pub mod emf;
pub mod moto;
pub mod runtime_api;
pub mod tls;

use serde_json::Value;

/// A sample event of `events/`, as `cargo lambda invoke --data-file` takes it.
pub fn event(name: &str) -> Result<Value, String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

//! The template, the local router and the code agree: the same routes, the
//! same binaries, the environment the code reads.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::support::*;
use rollee_shared::config::{
    NEVER_IN_AWS, REQUIRED_IN_AWS, ROTATION_REQUIRED_IN_AWS, ROTATION_VARIABLES,
    VAR_WEBHOOK_SECRET, VARIABLES,
};
use rollee_shared::webhook::config::{WEBHOOK_REQUIRED_IN_AWS, WEBHOOK_VARIABLES};
use serde_norway::Value as Yaml;

fn root() -> PathBuf {
    crate::support::root()
}

pub fn template() -> Yaml {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// The functions of the template: (logical id, function properties, metadata).
pub fn functions(t: &Yaml) -> Vec<(String, Yaml, Yaml)> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, r)| {
            (
                id.as_str().unwrap().to_owned(),
                r["Properties"].clone(),
                r["Metadata"].clone(),
            )
        })
        .collect()
}

/// The binary a function of the template runs.
pub fn binary_of(metadata: &Yaml) -> String {
    metadata["BuildProperties"]["Binary"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The binary of the one function Secrets Manager invokes, not the API.
pub const ROTATION_BINARY: &str = "rotate-token";
/// The binary of the pre-traffic hook, which CodeDeploy invokes.
pub const DEPLOY_CHECK_BINARY: &str = "deploy-check";

/// (method, path, binary) of every API route in the template. A function
/// without events has no route (the rotation function).
pub(crate) fn template_routes() -> BTreeSet<(String, String, String)> {
    let t = template();
    let mut routes = BTreeSet::new();
    for (_, properties, metadata) in functions(&t) {
        let binary = binary_of(&metadata);
        let Some(events) = properties.get("Events") else {
            continue;
        };
        for (_, event) in events.as_mapping().unwrap() {
            assert_eq!(event["Type"].as_str(), Some("HttpApi"));
            let p = &event["Properties"];
            routes.insert((
                p["Method"].as_str().unwrap().to_uppercase(),
                p["Path"].as_str().unwrap().to_owned(),
                binary.clone(),
            ));
        }
    }
    routes
}

/// (method, path, function) of `[workspace.metadata.lambda.watch.router]`.
fn router_routes() -> BTreeSet<(String, String, String)> {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let cargo: toml::Table = text.parse().unwrap();
    let router = cargo["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .unwrap();
    let mut routes = BTreeSet::new();
    for (path, entries) in router {
        for entry in entries.as_array().unwrap() {
            routes.insert((
                entry["method"].as_str().unwrap().to_uppercase(),
                path.clone(),
                entry["function"].as_str().unwrap().to_owned(),
            ));
        }
    }
    routes
}

/// The binaries of the workspace's `functions/` crates.
fn workspace_binaries() -> BTreeSet<String> {
    std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|dir| dir.join("src/main.rs").exists())
        .map(|dir| {
            let cargo: toml::Table = std::fs::read_to_string(dir.join("Cargo.toml"))
                .unwrap()
                .parse()
                .unwrap();
            cargo["package"]["name"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn the_template_routes_are_the_local_router_routes() {
    let template = template_routes();
    assert_eq!(template.len(), 7, "{template:?}");
    assert_eq!(template, router_routes());
}

#[test]
fn every_binary_the_template_builds_is_a_workspace_binary_and_every_function_is_deployed() {
    let t = template();
    let built: BTreeSet<String> = functions(&t).iter().map(|(_, _, m)| binary_of(m)).collect();
    assert_eq!(built, workspace_binaries());
    // Every function is reached: by an API route, or (the one without a
    // route) as the rotation schedule's function.
    let routed: BTreeSet<String> = template_routes().into_iter().map(|(_, _, b)| b).collect();
    let unrouted: BTreeSet<String> = built.difference(&routed).cloned().collect();
    // (and the pre-traffic hook, which CodeDeploy invokes during a deploy).
    assert_eq!(
        unrouted,
        BTreeSet::from([DEPLOY_CHECK_BINARY.to_owned(), ROTATION_BINARY.to_owned()])
    );
    let (rotation_id, _, _) = functions(&t)
        .into_iter()
        .find(|(_, _, m)| binary_of(m) == ROTATION_BINARY)
        .unwrap();
    let schedule = &t["Resources"]["JwtRotationSchedule"]["Properties"];
    assert_eq!(
        serde_norway::to_string(&schedule["RotationLambdaARN"])
            .unwrap()
            .trim(),
        format!("!Ref {rotation_id}.Alias")
    );
    for (id, properties, metadata) in functions(&t) {
        assert_eq!(
            metadata["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{id}"
        );
        assert!(
            properties.get("Handler").is_none() && properties.get("Runtime").is_none(),
            "{id}: set in Globals"
        );
    }
    let globals = &template()["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(globals["Handler"].as_str(), Some("bootstrap"));
}

/// What erase-user needs in AWS: what every Connect function needs, and its bus.
const ERASE_REQUIRED_IN_AWS: [&str; 6] = [
    REQUIRED_IN_AWS[0],
    REQUIRED_IN_AWS[1],
    REQUIRED_IN_AWS[2],
    REQUIRED_IN_AWS[3],
    REQUIRED_IN_AWS[4],
    rollee_shared::config::VAR_EVENT_BUS,
];

#[test]
fn the_template_sets_what_each_function_needs_in_aws_and_nothing_it_does_not_read() {
    let t = template();
    let names = |vars: &Yaml| -> BTreeSet<String> {
        vars.as_mapping()
            .map(|m| m.keys().map(|k| k.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    let globals = names(&t["Globals"]["Function"]["Environment"]["Variables"]);
    for (id, properties, metadata) in functions(&t) {
        let mut set = globals.clone();
        set.extend(names(&properties["Environment"]["Variables"]));
        let (reads, required): (&[&str], &[&str]) = match binary_of(&metadata).as_str() {
            ROTATION_BINARY => (&ROTATION_VARIABLES, &ROTATION_REQUIRED_IN_AWS),
            "webhook" => (&WEBHOOK_VARIABLES, &WEBHOOK_REQUIRED_IN_AWS),
            // The Globals' METRICS_NAMESPACE reaches the hook too: it emits no metric.
            DEPLOY_CHECK_BINARY => (
                &[deploy_check::TARGETS_VAR, "METRICS_NAMESPACE"],
                &[deploy_check::TARGETS_VAR],
            ),
            // It publishes user.erased: no start without its bus.
            "erase-user" => (&VARIABLES, &ERASE_REQUIRED_IN_AWS),
            _ => (&VARIABLES, &REQUIRED_IN_AWS),
        };
        for var in &set {
            assert!(
                reads.contains(&var.as_str()),
                "{id}: the template sets {var}, which its code never reads"
            );
        }
        for var in required {
            assert!(
                set.contains(*var),
                "{id}: the code needs {var} in AWS; the template does not set it"
            );
        }
        for var in NEVER_IN_AWS.iter().chain(&[VAR_WEBHOOK_SECRET]) {
            assert!(
                !set.contains(*var),
                "{id}: {var} is for local development only"
            );
        }
    }
}

#[tokio::test]
async fn an_event_for_each_template_route_gets_its_success_from_that_binarys_handler() {
    let sandbox = sandbox().await;
    let state = dev_state(&sandbox).await;
    let created = create_user(&state, &event("create-user")).await;
    watch_session(&created);
    let user = created.str("user_id");
    let refresh_body = serde_json::json!({ "connect_url": created.str("connect_url") }).to_string();
    let session = uuid::Uuid::parse_str(&created.str("session_id")).unwrap();
    let account = sandbox.connect_account(session).unwrap().to_string();
    // Erased by its route: bob's user, so that alice's serves the others.
    let erasing = crate::support::bus_state(&sandbox).await;
    let bobs = create_user(&erasing, &with_sub(event("create-user"), "bob")).await;
    watch_session(&bobs);
    for (method, path, binary) in template_routes() {
        // The event API Gateway sends for this route: path parameters filled in.
        let user = if binary == "erase-user" {
            bobs.str("user_id")
        } else {
            user.clone()
        };
        let concrete = path
            .replace("{user_id}", &user)
            .replace("{account_id}", &account);
        let mut e = event(binary.as_str());
        e["routeKey"] = format!("{method} {path}").into();
        e["rawPath"] = concrete.clone().into();
        e["requestContext"]["http"]["method"] = method.clone().into();
        e["requestContext"]["http"]["path"] = concrete.into();
        if path.contains("{user_id}") {
            e["pathParameters"] = serde_json::json!({ "user_id": user });
        }
        if path.contains("{account_id}") {
            e["pathParameters"] = serde_json::json!({ "account_id": account });
        }
        let (answer, expected) = match binary.as_str() {
            // The caller's user exists already: found, not created.
            "create-user" => (create_user(&state, &e).await, 200),
            "new-session" => (new_session(&state, &e).await, 201),
            "refresh-url" => (refresh_url(&state, &with_body(e, &refresh_body)).await, 200),
            "list-accounts" => (list_accounts(&state, &e).await, 200),
            "reconnect-account" => (reconnect_account(&state, &e).await, 201),
            "erase-user" => (erase_user(&erasing, &with_sub(e, "bob")).await, 204),
            "webhook" => {
                let vars = [("WEBHOOK_SECRET", crate::webhooks::DEV_SECRET)];
                let (setup, _) = crate::webhooks::setup(&vars, true).await;
                let handled = rollee_shared::app::respond(
                    &setup.receiver,
                    &request(&e),
                    rollee_shared::webhook::handle,
                )
                .await;
                (answer(handled), 200)
            }
            other => panic!("no handler for {other}"),
        };
        assert_eq!(answer.status, expected, "{method} {path}: {}", answer.body);
        if answer.body.get("connect_url").is_some() {
            watch_session(&answer);
        }
    }
    assert_no_leaks();
}

#[test]
fn the_issuer_audience_and_secret_parameters_have_no_default_so_a_deploy_must_name_them() {
    // CloudFormation refuses a stack whose parameters without a default are
    // not given ("Parameters: [..] must have values"): these three must have none.
    let t = template();
    for name in ["JwtIssuer", "JwtAudience", "RolleeSecretArn"] {
        let p = &t["Parameters"][name];
        assert!(p.is_mapping(), "parameter {name} is missing");
        assert!(p.get("Default").is_none(), "{name} must have no default");
    }
    let arch = &t["Parameters"]["Architecture"];
    assert_eq!(arch["Default"].as_str(), Some("arm64"));
    let allowed: Vec<&str> = arch["AllowedValues"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(allowed, ["arm64", "x86_64"]);
}

#[test]
fn the_function_timeout_leaves_room_for_the_rollee_budget_and_sits_under_api_gateways() {
    let timeout = template()["Globals"]["Function"]["Timeout"]
        .as_u64()
        .unwrap();
    let budget = rollee_shared::rollee::ClientOptions::default()
        .budget
        .as_secs();
    // The function answers 504 at the end of its budget, before Lambda's
    // timeout, which comes before API Gateway's 30 s.
    assert!(
        budget + 2 <= timeout,
        "budget {budget} s, function timeout {timeout} s"
    );
    assert!(timeout < 30, "function timeout {timeout} s");

    // The rotation function: createSecret's Rollee budget and its four
    // Secrets Manager calls fit, whatever each takes.
    let t = template();
    let (_, rotation, _) = functions(&t)
        .into_iter()
        .find(|(_, _, m)| binary_of(m) == ROTATION_BINARY)
        .unwrap();
    let rotation_timeout = rotation["Timeout"].as_u64().unwrap();
    let secrets = rollee_shared::aws::AWS_CALL_TIMEOUT.as_secs();
    assert!(
        budget + 4 * secrets < rotation_timeout,
        "rotation timeout {rotation_timeout} s"
    );
}

/// `cargo metadata`: every package's declared `rust-version` (Cargo.lock's
/// packages, ours included).
fn rust_versions() -> Vec<(String, String, Option<String>)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["version"].as_str().unwrap().to_owned(),
                p["rust_version"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn version_triple(v: &str) -> (u64, u64, u64) {
    let mut parts = v.split('.').map(|p| p.parse::<u64>().unwrap());
    (
        parts.next().unwrap(),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

#[test]
fn the_workspace_rust_version_is_not_below_any_dependencys_and_the_readme_states_it() {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let cargo: toml::Table = text.parse().unwrap();
    let ours = cargo["workspace"]["package"]["rust-version"]
        .as_str()
        .unwrap()
        .to_owned();
    let packages = rust_versions();
    assert!(packages.len() > 100, "{} packages", packages.len());
    let above: Vec<String> = packages
        .iter()
        .filter_map(|(name, version, rv)| {
            rv.as_deref()
                .filter(|rv| version_triple(rv) > version_triple(&ours))
                .map(|rv| format!("{name} {version} needs Rust {rv}"))
        })
        .collect();
    assert!(
        above.is_empty(),
        "rust-version {ours} is below what dependencies declare: {above:?}"
    );
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("Rust {ours} or newer")),
        "the README states another Rust version than {ours}"
    );
}

#[test]
fn samconfig_chooses_the_architecture_once_for_build_and_deploy_and_needs_no_beta_features() {
    let text = std::fs::read_to_string(root().join("samconfig.toml")).unwrap();
    let config: toml::Table = text.parse().unwrap();
    assert!(
        !text
            .lines()
            .any(|l| l.trim_start().starts_with("beta_features")),
        "rust-cargolambda is not a beta feature of SAM CLI 1.170.0"
    );
    let global = config["default"]["global"]["parameters"]
        .as_table()
        .unwrap();
    let overrides = global["parameter_overrides"].as_str().unwrap();
    let arch = overrides
        .split_whitespace()
        .find_map(|p| p.strip_prefix("Architecture="))
        .expect("Architecture in the global parameter_overrides (build and deploy)");
    assert!(["arm64", "x86_64"].contains(&arch), "{arch}");
    for (command, table) in config["default"].as_table().unwrap() {
        if command != "global" {
            assert!(
                table
                    .get("parameters")
                    .and_then(|p| p.get("parameter_overrides"))
                    .is_none(),
                "[default.{command}.parameters] would replace the global Architecture"
            );
        }
    }
}

//! How the template deploys: each function's alias `live` moved by
//! CodeDeploy (DeploymentType), the pre-traffic hook, the rollback alarms,
//! the Connect routes' scopes; as written (CloudFormation's view), and
//! (`--ignored`, run by `make deploy-checks`) as SAM's translator turns it
//! into the resources CloudFormation creates.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

use crate::cfn::{condition, evaluate, parameters, resolve, short_form, yaml};
use crate::consistency::{DEPLOY_CHECK_BINARY, binary_of, functions, template};
use serde_norway::Value as Yaml;

/// The rollback alarms of each function: what a bad version of it can set
/// off. Not the JWT's days left nor Rollee's 429s, 5xx or latency: a good
/// version would be rolled back during a Rollee incident, and a fix could
/// not be deployed while one lasts.
fn rollback_alarms(id: &str) -> Vec<&'static str> {
    match id {
        "CreateUserFunction"
        | "NewSessionFunction"
        | "RefreshUrlFunction"
        | "ListAccountsFunction"
        | "ReconnectAccountFunction"
        | "EraseUserFunction" => vec![
            "ApiServerErrorsAlarm",
            "FunctionErrorsAlarm",
            "JwtRejectedAlarm",
            "OwnershipTableErrorsAlarm",
        ],
        "WebhookFunction" => vec![
            "ApiServerErrorsAlarm",
            "FunctionErrorsAlarm",
            "OwnershipTableErrorsAlarm",
            "WebhookFailuresAlarm",
        ],
        "RotateTokenFunction" => vec!["FunctionErrorsAlarm", "RotationFailedAlarm"],
        other => panic!("no rollback alarms listed for {other}"),
    }
}

fn refs(items: &Yaml) -> Vec<String> {
    items
        .as_sequence()
        .unwrap_or_else(|| panic!("not a list: {items:?}"))
        .iter()
        .map(short_form)
        .collect()
}

#[test]
fn every_function_but_the_hook_moves_alias_live_by_deployment_type_after_the_hook_and_rolls_back_on_its_alarms()
 {
    let t = template();
    let on = parameters(&t, &[]);
    let off = parameters(&t, &[("AlarmsEnabled", "false")]);
    assert_eq!(on["DeploymentType"], "AllAtOnce");
    let allowed: Vec<&str> = t["Parameters"]["DeploymentType"]["AllowedValues"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // CodeDeploy's predefined Lambda configurations (CodeDeployDefault.Lambda<name>).
    for name in &allowed {
        assert!(
            *name == "AllAtOnce"
                || name.starts_with("Canary10Percent")
                || name.starts_with("Linear10PercentEvery"),
            "{name}"
        );
    }
    let mut deployed = BTreeSet::new();
    for (id, p, metadata) in functions(&t) {
        if binary_of(&metadata) == DEPLOY_CHECK_BINARY {
            assert!(p.get("AutoPublishAlias").is_none(), "{id}");
            assert!(p.get("DeploymentPreference").is_none(), "{id}");
            continue;
        }
        deployed.insert(id.clone());
        assert_eq!(p["AutoPublishAlias"].as_str(), Some("live"), "{id}");
        let preference = &p["DeploymentPreference"];
        assert_eq!(short_form(&preference["Type"]), "!Ref DeploymentType");
        assert_eq!(
            short_form(&preference["Hooks"]["PreTraffic"]),
            "!Ref DeployCheckFunction"
        );
        let alarms = resolve(&preference["Alarms"], &t, &on).unwrap();
        let expected: Vec<String> = rollback_alarms(&id)
            .iter()
            .map(|a| format!("!Ref {a}"))
            .collect();
        assert_eq!(refs(&alarms), expected, "{id}");
        for alarm in rollback_alarms(&id) {
            let resource = &t["Resources"][alarm];
            assert_eq!(
                resource["Type"].as_str(),
                Some("AWS::CloudWatch::Alarm"),
                "{alarm}"
            );
            assert_eq!(resource["Condition"].as_str(), Some("AlarmsOn"), "{alarm}");
        }
        // Without alarms, none: SAM's list with only AWS::NoValue.
        let alarms = resolve(&preference["Alarms"], &t, &off).unwrap();
        assert!(refs(&alarms).is_empty(), "{id}: {alarms:?}");
    }
    assert_eq!(deployed.len(), 8);

    // The hook: named as the role SAM makes for CodeDeploy may invoke, and
    // given exactly the new versions of the eight.
    let hook = &t["Resources"]["DeployCheckFunction"]["Properties"];
    assert_eq!(
        short_form(&hook["FunctionName"]),
        "!Sub CodeDeployHook_${AWS::StackName}"
    );
    let targets = &hook["Environment"]["Variables"][deploy_check::TARGETS_VAR];
    let Yaml::Tagged(join) = targets else {
        panic!("{targets:?}")
    };
    assert_eq!(join.tag, "Join");
    let versions: BTreeSet<String> = refs(&join.value.as_sequence().unwrap()[1])
        .into_iter()
        .collect();
    let expected: BTreeSet<String> = deployed
        .iter()
        .map(|id| format!("!Ref {id}.Version"))
        .collect();
    assert_eq!(versions, expected);
}

/// The scopes a Connect route requires, for this ConnectRouteScopes.
fn route_scopes(t: &Yaml, event: &Yaml, scopes: &str) -> Vec<String> {
    let params = parameters(t, &[("ConnectRouteScopes", scopes)]);
    let auth = resolve(&event["Properties"]["Auth"], t, &params).unwrap();
    auth["AuthorizationScopes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|s| evaluate(s, t, &params))
        .collect()
}

#[test]
fn the_connect_routes_require_up_to_three_scopes_and_none_by_default_the_webhook_route_none() {
    let t = template();
    assert_eq!(parameters(&t, &[])["ConnectRouteScopes"], "");
    let mut routes = 0;
    for (id, p, _) in functions(&t) {
        let Some(events) = p["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in events {
            let path = event["Properties"]["Path"].as_str().unwrap();
            if path == "/webhooks/rollee" {
                assert_eq!(
                    event["Properties"]["Auth"],
                    yaml("{Authorizer: NONE}"),
                    "{id}"
                );
                continue;
            }
            routes += 1;
            assert!(route_scopes(&t, event, "").is_empty(), "{path}");
            assert_eq!(route_scopes(&t, event, "connect/api"), ["connect/api"]);
            assert_eq!(
                route_scopes(&t, event, "a,b/c,d:e"),
                ["a", "b/c", "d:e"],
                "{path}"
            );
            // A fourth is left out: fewer scopes accepted, never more.
            assert_eq!(route_scopes(&t, event, "a,b,c,d"), ["a", "b", "c"]);
        }
    }
    assert_eq!(routes, 6);
    for slot in ["HasRouteScope1", "HasRouteScope2", "HasRouteScope3"] {
        assert!(!condition(&t, slot, &parameters(&t, &[])));
    }
}

/// The template as SAM's translator (the SAM CLI's own, in .venv/sam) turns
/// it into CloudFormation resources, as JSON.
fn translated(params: &[(&str, &str)]) -> Value {
    let python = crate::support::root().join(".venv/sam/bin/python");
    let script = r#"
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
class NoManagedPolicies:
    def load(self):
        return {}
template = yaml_parse(open(sys.argv[1]).read())
# What `sam deploy` does after uploading the code.
template["Globals"]["Function"]["CodeUri"] = "s3://bucket/code.zip"
params = dict(a.split("=", 1) for a in sys.argv[2:])
print(json.dumps(transform(template, params, NoManagedPolicies())))
"#;
    let output = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(crate::support::root().join("template.yaml"))
        .args(params.iter().map(|(k, v)| format!("{k}={v}")))
        .env("AWS_DEFAULT_REGION", "eu-west-1")
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (make tools)", python.display()));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
#[ignore = "needs .venv/sam (SAM's translator); run by make deploy-checks"]
fn sams_translation_routes_the_api_to_the_aliases_and_gates_each_alias_on_the_hook_and_alarms() {
    let t = translated(&[("DeploymentType", "Canary10Percent5Minutes")]);
    let r = &t["Resources"];
    let body = &r["HttpApi"]["Properties"]["Body"]["paths"];
    for (path, function) in [
        ("/users", "CreateUserFunction"),
        ("/users/{user_id}/sessions", "NewSessionFunction"),
        ("/sessions/refresh", "RefreshUrlFunction"),
        ("/webhooks/rollee", "WebhookFunction"),
    ] {
        let route = &body[path]["post"];
        let uri = route["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            .as_str()
            .unwrap();
        assert!(
            uri.contains(&format!("${{{function}Aliaslive}}/invocations")),
            "{path} → {uri}"
        );
        // SAM lets API Gateway invoke the alias only.
        let permission = r.as_object().unwrap().values().find(|res| {
            res["Type"] == "AWS::Lambda::Permission"
                && res["Properties"]["FunctionName"]["Ref"]
                    == format!("{function}Aliaslive").as_str()
        });
        assert!(
            permission.is_some(),
            "{function}: no permission on its alias"
        );
        let security = &route["security"];
        if path == "/webhooks/rollee" {
            assert_eq!(security, &serde_json::json!([{"NONE": []}]));
        } else {
            assert_eq!(
                security[0]["AppLogin"].as_array().unwrap().len(),
                3,
                "{security}"
            );
        }
    }
    let mut groups = 0;
    for id in [
        "CreateUserFunction",
        "NewSessionFunction",
        "RefreshUrlFunction",
        "RotateTokenFunction",
        "WebhookFunction",
    ] {
        let alias = &r[format!("{id}Aliaslive").as_str()];
        assert_eq!(alias["Type"], "AWS::Lambda::Alias");
        let update = &alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"];
        assert_eq!(
            update["BeforeAllowTrafficHook"]["Ref"],
            "DeployCheckFunction"
        );
        assert_eq!(
            update["DeploymentGroupName"]["Ref"],
            format!("{id}DeploymentGroup").as_str()
        );
        let group = &r[format!("{id}DeploymentGroup").as_str()]["Properties"];
        assert_eq!(
            // (The translator puts the parameter's value in.)
            group["DeploymentConfigName"]["Fn::Sub"][1]["ConfigName"],
            "Canary10Percent5Minutes",
            "{group}"
        );
        let events: Vec<&str> = group["AutoRollbackConfiguration"]["Events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        assert!(events.contains(&"DEPLOYMENT_STOP_ON_ALARM"), "{events:?}");
        assert!(events.contains(&"DEPLOYMENT_FAILURE"), "{events:?}");
        let alarms = &group["AlarmConfiguration"]["Fn::If"];
        assert_eq!(alarms[0], "AlarmsOn");
        let names: Vec<String> = alarms[1]["Alarms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["Name"]["Ref"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, rollback_alarms(id));
        assert_eq!(alarms[1]["Enabled"], true);
        assert_eq!(alarms[2], serde_json::json!({}));
        groups += 1;
    }
    assert_eq!(groups, 5);
    // The hook has neither alias nor deployment group; the rotation runs the alias.
    assert!(r.get("DeployCheckFunctionAliaslive").is_none());
    assert!(r.get("DeployCheckFunctionDeploymentGroup").is_none());
    assert_eq!(
        r["JwtRotationSchedule"]["Properties"]["RotationLambdaARN"]["Ref"],
        "RotateTokenFunctionAliaslive"
    );
    // The application the hook's role names exists under that name.
    assert_eq!(
        r["ServerlessDeploymentApplication"]["Type"],
        "AWS::CodeDeploy::Application"
    );
}

/// A stage's `parameter_overrides`, as `Name=value` pairs.
fn overrides(config: &toml::Table, stage: &str) -> std::collections::BTreeMap<String, String> {
    config[stage]["global"]["parameters"]["parameter_overrides"]
        .as_str()
        .unwrap_or_else(|| panic!("[{stage}.global.parameters] parameter_overrides"))
        .split_whitespace()
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

#[test]
fn the_dev_stage_calls_rollees_sandbox_all_at_once_and_prod_production_by_canary() {
    let text = std::fs::read_to_string(crate::support::root().join("samconfig.toml")).unwrap();
    let config: toml::Table = text.parse().unwrap();
    let t = template();
    let allowed = &t["Parameters"]["DeploymentType"]["AllowedValues"];
    let mut stacks = BTreeSet::new();
    for (stage, api, refresh, all_at_once) in [
        (
            "dev",
            "https://api.sand.getrollee.com/api/v0.5",
            // Rollee's page shows its sandbox's token refresh under v0.3.
            "https://api.sand.getrollee.com/api/v0.3/token/refresh",
            true,
        ),
        (
            "prod",
            "https://api.getrollee.com/api/v0.5",
            "https://api.getrollee.com/api/v0.5/token/refresh",
            false,
        ),
    ] {
        let o = overrides(&config, stage);
        for name in o.keys() {
            assert!(!t["Parameters"][name.as_str()].is_null(), "{stage}: {name}");
        }
        assert!(["arm64", "x86_64"].contains(&o["Architecture"].as_str()));
        assert_eq!(o["RolleeApiUrl"], api, "{stage}");
        // What the rotation function makes of the two settings.
        let rotation = rollee_shared::config::RotationConfig::from_lookup(|name| match name {
            "ROLLEE_API_URL" => Some(o["RolleeApiUrl"].clone()),
            "ROLLEE_TOKEN_REFRESH_PATH" => Some(o["RolleeTokenRefreshPath"].clone()),
            _ => None,
        })
        .unwrap();
        assert_eq!(rotation.refresh_url.as_str(), refresh, "{stage}");
        let kind = o["DeploymentType"].as_str();
        assert!(
            allowed
                .as_sequence()
                .unwrap()
                .iter()
                .any(|v| v.as_str() == Some(kind)),
            "{stage}: {kind}"
        );
        assert_eq!(kind == "AllAtOnce", all_at_once, "{stage}: {kind}");
        // Nothing in [<stage>.deploy.parameters] replaces these overrides.
        assert!(
            config[stage]["deploy"]["parameters"]
                .get("parameter_overrides")
                .is_none(),
            "{stage}"
        );
        let stack = config[stage]["global"]["parameters"]["stack_name"]
            .as_str()
            .unwrap();
        assert!(
            stacks.insert(stack.to_owned()),
            "{stage}: {stack} is shared"
        );
    }
    stacks.insert(
        config["default"]["global"]["parameters"]["stack_name"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    assert_eq!(stacks.len(), 3);
}

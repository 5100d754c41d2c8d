//! What the template grants and keeps: one role per function with only its
//! own log group, the secret and (when given) the KMS key; log groups kept
//! after the stack; what the API's access log records; the rotation of the
//! JWT (schedule, permission, switch).

use std::collections::{BTreeMap, BTreeSet};

use crate::cfn::{condition, parameters, resolve, resources_of_type, short_form, yaml};
use crate::consistency::{DEPLOY_CHECK_BINARY, ROTATION_BINARY, binary_of, functions, template};
use rollee_shared::app::connect::PROBE_KEY;
use serde_norway::Value as Yaml;

/// The role a function runs as: `<role>` of its `Role: !GetAtt <role>.Arn`.
fn role_of(id: &str, properties: &Yaml) -> String {
    let role = short_form(&properties["Role"]);
    role.strip_prefix("!GetAtt ")
        .and_then(|r| r.strip_suffix(".Arn"))
        .unwrap_or_else(|| panic!("{id}: Role is {role:?}, not !GetAtt <role>.Arn"))
        .to_owned()
}

#[test]
fn each_function_runs_as_its_own_role_which_only_lambda_may_assume_and_has_no_managed_policy() {
    // With `Role` given and no `Policies`, SAM generates no role, so it
    // attaches no AWSLambdaBasicExecutionRole (which may write every log group).
    let t = template();
    assert!(t["Globals"]["Function"].get("Policies").is_none());
    assert!(t["Globals"]["Function"].get("Role").is_none());
    let mut roles = BTreeSet::new();
    for (id, properties, _) in functions(&t) {
        assert!(properties.get("Policies").is_none(), "{id}: Policies");
        let role = role_of(&id, &properties);
        let resource = &t["Resources"][role.as_str()];
        assert_eq!(resource["Type"].as_str(), Some("AWS::IAM::Role"), "{id}");
        let keys: BTreeSet<&str> = resource["Properties"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["AssumeRolePolicyDocument", "Description", "Policies"]),
            "{role}: no ManagedPolicyArns, no PermissionsBoundary, no fixed RoleName"
        );
        assert_eq!(
            resource["Properties"]["AssumeRolePolicyDocument"],
            yaml(
                r#"
                Version: "2012-10-17"
                Statement:
                  - Effect: Allow
                    Principal: { Service: lambda.amazonaws.com }
                    Action: sts:AssumeRole
                "#
            ),
            "{role}"
        );
        assert!(roles.insert(role.clone()), "{role} is shared");
    }
    assert_eq!(roles.len(), 9);
}

#[test]
fn the_only_iam_resources_are_the_functions_roles() {
    let t = template();
    let iam: BTreeSet<String> = t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str().unwrap().starts_with("AWS::IAM::"))
        .map(|(id, _)| id.as_str().unwrap().to_owned())
        .collect();
    let roles: BTreeSet<String> = functions(&t)
        .iter()
        .map(|(id, properties, _)| role_of(id, properties))
        .collect();
    assert_eq!(iam, roles);
}

/// The prefixes of the ownership table's keys, as the code writes them.
const KEY_PREFIXES: [&str; 6] = ["account", "caller", "delivery", "quota", "session", "user"];

#[test]
fn the_roles_key_prefixes_are_the_ones_the_store_writes() {
    let mut written = BTreeSet::new();
    // Every file of the store, but the in-memory stand-in (the same keys).
    let dir = crate::support::root().join("shared/src/store");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n == "memory.rs") {
            continue;
        }
        let code = std::fs::read_to_string(path).unwrap();
        for part in code.split("format!(\"").skip(1) {
            if let Some((prefix, _)) = part.split_once('#')
                && prefix.chars().all(|c| c.is_ascii_lowercase())
            {
                written.insert(prefix.to_owned());
            }
        }
    }
    assert_eq!(written, BTreeSet::from(KEY_PREFIXES.map(str::to_owned)));
    // Every statement on the table names prefixes, and only these.
    let t = template();
    let mut granted = BTreeSet::new();
    for (id, properties, _) in functions(&t) {
        let role = role_of(&id, &properties);
        let document =
            &t["Resources"][role.as_str()]["Properties"]["Policies"][0]["PolicyDocument"];
        for statement in document["Statement"].as_sequence().unwrap() {
            if short_form(&statement["Resource"]) != "!GetAtt OwnershipTable.Arn" {
                continue;
            }
            let condition = &statement["Condition"];
            let exact = &condition["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"];
            if let Some(exact) = exact.as_sequence() {
                // The one exact key: the read that opens the connection at init.
                assert_eq!(exact.len(), 1, "{role}");
                assert_eq!(exact[0].as_str(), Some(PROBE_KEY), "{role}");
                assert_eq!(statement["Action"].as_str(), Some("dynamodb:GetItem"));
                continue;
            }
            let keys = &condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
            let keys = keys
                .as_sequence()
                .unwrap_or_else(|| panic!("{role}: a table statement without LeadingKeys"));
            for key in keys {
                let prefix = key.as_str().unwrap().strip_suffix("#*").unwrap();
                assert!(KEY_PREFIXES.contains(&prefix), "{role}: {prefix}");
                granted.insert(prefix.to_owned());
            }
        }
    }
    assert_eq!(granted, written);
}

/// Each function that opens the table's connection at init may make that
/// read: the Connect functions' key, and the webhook's.
#[test]
fn every_role_may_read_the_key_that_opens_its_tables_connection_at_init() {
    let t = template();
    let mut checked = 0;
    for (id, properties, _) in functions(&t) {
        let probe = match id.as_str() {
            "WebhookFunction" => rollee_shared::webhook::PROBE_KEY,
            "RotateTokenFunction" | "DeployCheckFunction" => continue,
            _ => PROBE_KEY,
        };
        let role = role_of(&id, &properties);
        let document =
            &t["Resources"][role.as_str()]["Properties"]["Policies"][0]["PolicyDocument"];
        let reads = |statement: &Yaml| {
            let action = &statement["Action"];
            action.as_str() == Some("dynamodb:GetItem")
                || action
                    .as_sequence()
                    .is_some_and(|a| a.iter().any(|a| a.as_str() == Some("dynamodb:GetItem")))
        };
        let covers = |statement: &Yaml| {
            let condition = &statement["Condition"];
            let exact = &condition["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"];
            let like = &condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
            exact
                .as_sequence()
                .into_iter()
                .flatten()
                .any(|k| k.as_str() == Some(probe))
                || like.as_sequence().into_iter().flatten().any(|k| {
                    k.as_str()
                        .and_then(|k| k.strip_suffix('*'))
                        .is_some_and(|prefix| probe.starts_with(prefix))
                })
        };
        assert!(
            document["Statement"]
                .as_sequence()
                .unwrap()
                .iter()
                .any(|s| reads(s) && covers(s)),
            "{id}: its role may not read {probe}"
        );
        checked += 1;
    }
    assert_eq!(checked, 7);
}

#[test]
fn each_role_allows_exactly_its_own_log_group_the_secret_its_table_actions_and_kms_when_a_key_is_given()
 {
    let t = template();
    let defaults = parameters(&t, &[]);
    assert_eq!(defaults["RolleeSecretKmsKeyArn"], "");
    let key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let with_key = parameters(&t, &[("RolleeSecretKmsKeyArn", key)]);
    let mut log_groups = BTreeSet::new();
    for (id, properties, _) in functions(&t) {
        let role = role_of(&id, &properties);
        let log_group = short_form(&properties["LoggingConfig"]["LogGroup"]);
        let log_group = log_group.strip_prefix("!Ref ").unwrap().to_owned();
        assert!(
            log_groups.insert(log_group.clone()),
            "{log_group} is shared"
        );

        let policies = t["Resources"][role.as_str()]["Properties"]["Policies"]
            .as_sequence()
            .unwrap();
        assert_eq!(policies.len(), 1, "{role}: {policies:?}");
        let document = &policies[0]["PolicyDocument"];
        assert_eq!(document["Version"].as_str(), Some("2012-10-17"));
        // No wildcard action or resource, in any branch.
        let written = serde_norway::to_string(&document["Statement"]).unwrap();
        // (The key prefixes in `dynamodb:LeadingKeys` are patterns on
        // items' keys, not wildcards on actions or resources.)
        let written = KEY_PREFIXES
            .iter()
            .fold(written, |w, prefix| w.replace(&format!("{prefix}#*"), ""));
        // (Nor are the hook's `<function>:*`, any version of that one
        // function, and `<application>/*`, any deployment group of this
        // stack's one application: both spelt out in full below.)
        let written = if id == "DeployCheckFunction" {
            written.replace(".Arn}:*", "").replace("}/*", "")
        } else {
            written
        };
        assert!(!written.contains('*'), "{role}: {written}");

        let logs = format!(
            r#"
            - Effect: Allow
              Action: [logs:CreateLogStream, logs:PutLogEvents]
              Resource: !GetAtt {log_group}.Arn
            "#
        );
        // Each serving function's table actions, on the items whose keys
        // start with the prefixes it uses, never the webhook's deliveries.
        let serving = |table_actions: &str, prefixes: &str| {
            format!(
                r#"{logs}
            - Effect: Allow
              Action: secretsmanager:GetSecretValue
              Resource: !Ref RolleeSecretArn
            - Effect: Allow
              Action: {table_actions}
              Resource: !GetAtt OwnershipTable.Arn
              Condition:
                ForAllValues:StringLike:
                  dynamodb:LeadingKeys: {prefixes}
            "#
            )
        };
        let (own_logs_and_secret, kms_actions) = match id.as_str() {
            // Claims are released and lost users forgotten: DeleteItem; a
            // caller seen before, its quota and user in one transaction.
            "CreateUserFunction" => (
                serving(
                    "[dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:DeleteItem, dynamodb:ConditionCheckItem]",
                    r#"["caller#*", "quota#*", "session#*", "user#*"]"#,
                ),
                "kms:Decrypt",
            ),
            // The user's owner, adopting a user created before the table;
            // the quota and the owner in one transaction (its condition check).
            "NewSessionFunction" => (
                serving(
                    "[dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:ConditionCheckItem]",
                    r#"["caller#*", "quota#*", "session#*", "user#*"]"#,
                ),
                "kms:Decrypt",
            ),
            // Sessions and the quota only; a session recorded by this
            // process, its quota and owner in one transaction.
            "RefreshUrlFunction" => (
                serving(
                    "[dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:ConditionCheckItem]",
                    r#"["quota#*", "session#*"]"#,
                ),
                "kms:Decrypt",
            ),
            // A user's accounts, recorded in one batch; adopting its user;
            // and the read of the key no item has that opens the table's
            // connection at init (no other prefix of its covers it).
            "ListAccountsFunction" => (
                format!(
                    r#"{}
            - Effect: Allow
              Action: dynamodb:GetItem
              Resource: !GetAtt OwnershipTable.Arn
              Condition:
                ForAllValues:StringEquals:
                  dynamodb:LeadingKeys: ["{}"]
            "#,
                    serving(
                        "[dynamodb:GetItem, dynamodb:PutItem, dynamodb:BatchWriteItem]",
                        r#"["account#*", "caller#*", "user#*"]"#,
                    )
                    .trim_end(),
                    rollee_shared::app::connect::PROBE_KEY,
                ),
                "kms:Decrypt",
            ),
            // The account's owner (recorded once), its user (checked with the
            // quota in one transaction), the session and quota.
            "ReconnectAccountFunction" => (
                serving(
                    "[dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:ConditionCheckItem]",
                    r#"["account#*", "caller#*", "quota#*", "session#*", "user#*"]"#,
                ),
                "kms:Decrypt",
            ),
            // Every item of a user, found through the index; user.erased on the bus.
            "EraseUserFunction" => (
                format!(
                    r#"{}
            - Effect: Allow
              Action: dynamodb:Query
              Resource: !Sub ${{OwnershipTable.Arn}}/index/by-user
            - Effect: Allow
              Action: events:PutEvents
              Resource: !GetAtt EventBus.Arn
            - Effect: Allow
              Action: events:DescribeEventBus
              Resource: !GetAtt EventBus.Arn
            "#,
                    serving(
                        "[dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:DeleteItem, dynamodb:BatchWriteItem]",
                        r#"["account#*", "caller#*", "quota#*", "session#*", "user#*"]"#,
                    )
                    .trim_end()
                ),
                "kms:Decrypt",
            ),
            // The rotation: read, describe, write a version, move its labels;
            // no table. It writes, so with a key it also encrypts.
            "RotateTokenFunction" => (
                format!(
                    r#"{logs}
            - Effect: Allow
              Action: [secretsmanager:GetSecretValue, secretsmanager:PutSecretValue, secretsmanager:DescribeSecret, secretsmanager:UpdateSecretVersionStage]
              Resource: !Ref RolleeSecretArn
            "#
                ),
                "[kms:Decrypt, kms:GenerateDataKey]",
            ),
            // The webhook receiver: its own secret (encrypted with the
            // account's aws/secretsmanager key, so no KMS grant whatever
            // RolleeSecretKmsKeyArn says), delivery items and owners, and
            // PutEvents on its bus only. Never the Rollee JWT.
            "WebhookFunction" => (
                format!(
                    r#"{logs}
            - Effect: Allow
              Action: secretsmanager:GetSecretValue
              Resource: !Ref WebhookSecret
            - Effect: Allow
              Action: [dynamodb:PutItem, dynamodb:DeleteItem]
              Resource: !GetAtt OwnershipTable.Arn
              Condition:
                ForAllValues:StringLike:
                  dynamodb:LeadingKeys: ["account#*", "delivery#*"]
            - Effect: Allow
              Action: dynamodb:GetItem
              Resource: !GetAtt OwnershipTable.Arn
              Condition:
                ForAllValues:StringLike:
                  dynamodb:LeadingKeys: ["delivery#*", "user#*"]
            - Effect: Allow
              Action: events:PutEvents
              Resource: !GetAtt EventBus.Arn
            - Effect: Allow
              Action: events:DescribeEventBus
              Resource: !GetAtt EventBus.Arn
            "#
                ),
                "",
            ),
            // The pre-traffic hook: the functions' versions and aliases (never
            // the unqualified function) and the hook status on this stack's
            // CodeDeploy application; no secret, no table.
            "DeployCheckFunction" => (
                format!(
                    r#"{logs}
            - Effect: Allow
              Action: lambda:InvokeFunction
              Resource:
                - !Sub ${{CreateUserFunction.Arn}}:*
                - !Sub ${{NewSessionFunction.Arn}}:*
                - !Sub ${{RefreshUrlFunction.Arn}}:*
                - !Sub ${{ListAccountsFunction.Arn}}:*
                - !Sub ${{ReconnectAccountFunction.Arn}}:*
                - !Sub ${{EraseUserFunction.Arn}}:*
                - !Sub ${{RotateTokenFunction.Arn}}:*
                - !Sub ${{WebhookFunction.Arn}}:*
            - Effect: Allow
              Action: codedeploy:PutLifecycleEventHookExecutionStatus
              Resource: !Sub arn:${{AWS::Partition}}:codedeploy:${{AWS::Region}}:${{AWS::AccountId}}:deploymentgroup:${{ServerlessDeploymentApplication}}/*
            "#
                ),
                "",
            ),
            other => panic!("no rights listed for {other}"),
        };
        let kms = format!(
            r#"
            - Effect: Allow
              Action: {kms_actions}
              Resource: !Ref RolleeSecretKmsKeyArn
              Condition:
                StringEquals:
                  kms:ViaService: !Sub secretsmanager.${{AWS::Region}}.amazonaws.com
            "#
        );
        assert_eq!(
            resolve(&document["Statement"], &t, &defaults),
            Some(yaml(&own_logs_and_secret)),
            "{role}, no KMS key"
        );
        let mut expected = yaml(&own_logs_and_secret);
        if !kms_actions.is_empty() {
            expected
                .as_sequence_mut()
                .unwrap()
                .extend(yaml(&kms).as_sequence().unwrap().iter().cloned());
        }
        assert_eq!(
            resolve(&document["Statement"], &t, &with_key),
            Some(expected),
            "{role}, with a KMS key"
        );
    }
}

#[test]
fn every_log_group_is_retained_after_the_stack_and_keeps_logs_log_retention_days() {
    let t = template();
    let groups = resources_of_type(&t, "AWS::Logs::LogGroup");
    assert_eq!(
        groups.len(),
        10,
        "one per function and the access logs: {groups:?}"
    );
    for id in groups {
        let group = &t["Resources"][id.as_str()];
        assert_eq!(group["DeletionPolicy"].as_str(), Some("Retain"), "{id}");
        assert_eq!(
            group["UpdateReplacePolicy"].as_str(),
            Some("Retain"),
            "{id}"
        );
        assert_eq!(
            short_form(&group["Properties"]["RetentionInDays"]),
            "!Ref LogRetentionDays",
            "{id}"
        );
    }
}

/// The access log settings of the HTTP API for this `AccessLogFormat`
/// (None: no access log), and whether the access log group exists.
fn access_logging(format: &str) -> (Option<Yaml>, bool) {
    let t = template();
    let params = parameters(&t, &[("AccessLogFormat", format)]);
    let api = resources_of_type(&t, "AWS::Serverless::HttpApi");
    assert_eq!(api.len(), 1);
    let settings = &t["Resources"][api[0].as_str()]["Properties"]["AccessLogSettings"];
    let group = &t["Resources"]["ApiAccessLogs"];
    let group_exists = match group.get("Condition") {
        Some(c) => condition(&t, c.as_str().unwrap(), &params),
        None => true,
    };
    (resolve(settings, &t, &params), group_exists)
}

/// The fields of an access log format: JSON object, `$context` variable per key.
fn access_log_fields(settings: &Yaml) -> BTreeMap<String, String> {
    assert_eq!(
        short_form(&settings["DestinationArn"]),
        "!GetAtt ApiAccessLogs.Arn"
    );
    let format = settings["Format"].as_str().unwrap();
    serde_json::from_str(format).unwrap()
}

#[test]
fn the_default_access_log_format_has_neither_source_ip_nor_sub_nor_any_identity_or_claim_field() {
    let t = template();
    let default = parameters(&t, &[])["AccessLogFormat"].clone();
    assert_eq!(default, "minimal");
    let (settings, _) = access_logging(&default);
    let format = settings.unwrap()["Format"].as_str().unwrap().to_owned();
    for personal in [
        "sourceIp",
        "sub",
        "$context.identity.",
        "$context.authorizer.claims",
    ] {
        assert!(!format.contains(personal), "{personal} in {format}");
    }
}

#[test]
fn access_log_format_with_caller_adds_only_sub_and_source_ip_and_off_removes_the_access_log() {
    let (minimal, minimal_group) = access_logging("minimal");
    let minimal = access_log_fields(&minimal.unwrap());
    let expected: BTreeMap<String, String> = [
        ("requestId", "$context.requestId"),
        ("requestTime", "$context.requestTime"),
        ("routeKey", "$context.routeKey"),
        ("status", "$context.status"),
        ("latencyMs", "$context.responseLatency"),
        ("integrationStatus", "$context.integrationStatus"),
        ("authorizerError", "$context.authorizer.error"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(minimal, expected);
    assert!(minimal_group);

    let (with_caller, with_caller_group) = access_logging("with-caller");
    let mut expected = expected;
    expected.insert("sub".into(), "$context.authorizer.claims.sub".into());
    expected.insert("ip".into(), "$context.identity.sourceIp".into());
    assert_eq!(access_log_fields(&with_caller.unwrap()), expected);
    assert!(with_caller_group);

    assert_eq!(access_logging("off"), (None, false));
}

#[test]
fn the_ownership_table_is_retained_on_demand_recoverable_encrypted_with_the_codes_key_and_ttl() {
    let t = template();
    let table = &t["Resources"]["OwnershipTable"];
    assert_eq!(table["Type"].as_str(), Some("AWS::DynamoDB::Table"));
    assert_eq!(table["DeletionPolicy"].as_str(), Some("Retain"));
    assert_eq!(table["UpdateReplacePolicy"].as_str(), Some("Retain"));
    let p = &table["Properties"];
    assert_eq!(p["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );
    assert_eq!(p["SSESpecification"]["SSEEnabled"].as_bool(), Some(true));
    // The key, index and TTL the code reads and writes (and `make dev` creates).
    use rollee_shared::store::{KEY, TTL, USER_ATTRIBUTE, USER_INDEX};
    assert_eq!(
        p["KeySchema"],
        yaml(&format!("[{{AttributeName: {KEY}, KeyType: HASH}}]"))
    );
    assert_eq!(
        p["AttributeDefinitions"],
        yaml(&format!(
            "[{{AttributeName: {KEY}, AttributeType: S}}, {{AttributeName: {USER_ATTRIBUTE}, AttributeType: S}}]"
        ))
    );
    assert_eq!(
        p["GlobalSecondaryIndexes"],
        yaml(&format!(
            "[{{IndexName: {USER_INDEX}, KeySchema: [{{AttributeName: {USER_ATTRIBUTE}, KeyType: HASH}}], Projection: {{ProjectionType: KEYS_ONLY}}}}]"
        ))
    );
    assert_eq!(
        p["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(TTL)
    );
    assert_eq!(
        p["TimeToLiveSpecification"]["Enabled"].as_bool(),
        Some(true)
    );
    // Its name reaches each function that uses it through one variable.
    for (id, properties, metadata) in functions(&t) {
        let table = &properties["Environment"]["Variables"]["OWNERSHIP_TABLE"];
        if [ROTATION_BINARY, DEPLOY_CHECK_BINARY].contains(&binary_of(&metadata).as_str()) {
            assert!(table.is_null(), "{id} uses no table");
        } else {
            assert_eq!(short_form(table), "!Ref OwnershipTable", "{id}");
        }
    }
}

#[test]
fn the_default_route_throttles_stay_inside_rolles_1000_calls_per_minute() {
    let t = template();
    let default = |name: &str| t["Parameters"][name]["Default"].as_u64().unwrap();
    let connect_rate = default("ThrottlingRateLimit");
    let lifecycle_rate = default("LifecycleThrottlingRateLimit");
    let settings = &t["Resources"]["HttpApi"]["Properties"]["RouteSettings"];
    // Every route but the webhook's calls Rollee: each at the rate of its group.
    let mut per_minute = 0;
    let mut routes = Vec::new();
    for (id, properties, _) in functions(&t) {
        if id == "WebhookFunction" {
            continue;
        }
        let Some(events) = properties.get("Events").and_then(Yaml::as_mapping) else {
            continue;
        };
        for event in events.values() {
            let p = &event["Properties"];
            let route = format!(
                "{} {}",
                p["Method"].as_str().unwrap(),
                p["Path"].as_str().unwrap()
            );
            let rate = match short_form(&settings[route.as_str()]["ThrottlingRateLimit"]).as_str() {
                "!Ref LifecycleThrottlingRateLimit" => lifecycle_rate,
                "null" | "~" | "" => connect_rate,
                other => panic!("{route}: an unexpected throttle {other}"),
            };
            per_minute += rate * 60;
            routes.push(route);
        }
    }
    routes.sort();
    assert_eq!(
        routes,
        [
            "DELETE /users/{user_id}",
            "GET /users/{user_id}/accounts",
            "POST /accounts/{account_id}/reconnect",
            "POST /sessions/refresh",
            "POST /users",
            "POST /users/{user_id}/sessions",
        ]
    );
    // HTTP API applies DefaultRouteSettings to each route, RouteSettings
    // override; a request costs one Rollee call.
    assert!(
        per_minute <= 1000,
        "{per_minute} Rollee calls a minute at the default throttles"
    );
}

#[test]
fn the_jwt_is_rotated_on_a_schedule_by_the_rotation_function_unless_switched_off() {
    let t = template();
    let schedule = &t["Resources"]["JwtRotationSchedule"];
    assert_eq!(
        schedule["Type"].as_str(),
        Some("AWS::SecretsManager::RotationSchedule")
    );
    assert_eq!(
        schedule["Properties"],
        yaml(
            r#"
            SecretId: !Ref RolleeSecretArn
            RotationLambdaARN: !Ref RotateTokenFunction.Alias
            RotateImmediatelyOnUpdate: false
            RotationRules:
              ScheduleExpression: !Ref RotationSchedule
            "#
        )
    );
    // Secrets Manager checks it may invoke the function when the schedule is set.
    assert_eq!(
        schedule["DependsOn"].as_str(),
        Some("RotateTokenPermission")
    );
    let switch = schedule["Condition"].as_str().unwrap();
    let defaults = parameters(&t, &[]);
    assert_eq!(defaults["RotationEnabled"], "true");
    assert_eq!(defaults["RotationSchedule"], "rate(7 days)");
    assert!(condition(&t, switch, &defaults));
    assert!(!condition(
        &t,
        switch,
        &parameters(&t, &[("RotationEnabled", "false")])
    ));

    let permission = &t["Resources"]["RotateTokenPermission"];
    assert_eq!(permission["Type"].as_str(), Some("AWS::Lambda::Permission"));
    assert_eq!(
        permission["Properties"],
        yaml(
            r#"
            Action: lambda:InvokeFunction
            FunctionName: !Ref RotateTokenFunction.Alias
            Principal: secretsmanager.amazonaws.com
            SourceAccount: !Ref AWS::AccountId
            SourceArn: !Ref RolleeSecretArn
            "#
        )
    );
    // The only permission, and the only function without an API route.
    assert_eq!(
        resources_of_type(&t, "AWS::Lambda::Permission"),
        ["RotateTokenPermission"]
    );
    let function = &t["Resources"]["RotateTokenFunction"]["Properties"];
    assert!(function.get("Events").is_none());
    assert_eq!(
        short_form(&function["Environment"]["Variables"]["ROLLEE_TOKEN_REFRESH_PATH"]),
        "!Ref RolleeTokenRefreshPath"
    );
}

#[test]
fn the_refresh_path_parameter_accepts_what_the_code_accepts_production_by_default() {
    let t = template();
    let p = &t["Parameters"]["RolleeTokenRefreshPath"];
    assert_eq!(p["Default"].as_str(), Some("/api/v0.5/token/refresh"));
    // The parameter's pattern, as CloudFormation applies it to the whole value.
    let pattern = p["AllowedPattern"].as_str().unwrap();
    assert_eq!(pattern, "^(/[A-Za-z0-9._~-]+)+$");
    for path in ["/api/v0.5/token/refresh", "/api/v0.3/token/refresh"] {
        let config = rollee_shared::config::RotationConfig::from_lookup(|name| {
            (name == "ROLLEE_TOKEN_REFRESH_PATH").then(|| path.to_owned())
        })
        .unwrap();
        assert_eq!(config.refresh_url.path(), path);
    }
}

/// Which of `values` the pattern matches as a whole, as CloudFormation
/// applies a parameter's `AllowedPattern` (a Java regular expression; the
/// constructs used here, an inline `(?i)` and lookaheads, mean the same in
/// Python's `re`, which the Rust `regex` crate cannot run).
fn matched_by(pattern: &str, values: &[String]) -> Vec<bool> {
    let script = "import json, re, sys\n\
        p, values = json.load(sys.stdin)\n\
        print(json.dumps([re.fullmatch(p, v) is not None for v in values]))";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let input = serde_json::to_vec(&(pattern, values)).unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_webhook_header_parameter_refuses_every_name_the_function_refuses_at_start() {
    let t = template();
    let p = &t["Parameters"]["WebhookHeader"];
    let pattern = p["AllowedPattern"].as_str().unwrap();
    let names: Vec<String> = [
        "x-rollee-webhook-token",
        "X-Rollee-Webhook-Token",
        "my-header",
        "a",
        "hosts",
        "x-rollee-signature",
        "authorization",
        "Authorization",
        "AUTHORIZATION",
        "content-type",
        "Content-Length",
        "host",
        "Cookie",
        "user-agent",
        "x-signature",
        "X-Signature",
        "x-amz-date",
        "X-Amz-Security-Token",
        "x-amzn-trace-id",
        "x-forwarded-for",
        "X-Forwarded-Proto",
        "",
        "bad_name",
        "x amz",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(["h".repeat(64), "h".repeat(65)])
    .collect();
    let by_template = matched_by(pattern, &names);
    for (name, template_accepts) in names.iter().zip(by_template) {
        let function_accepts =
            rollee_shared::webhook::config::WebhookConfig::from_lookup(|var| match var {
                "WEBHOOK_HEADER" => Some(name.clone()),
                "WEBHOOK_SECRET" => Some("0123456789abcdef0123456789abcdef".to_owned()),
                "EVENT_BUS_NAME" => Some("bus".to_owned()),
                "OWNERSHIP_TABLE" => Some("table".to_owned()),
                _ => None,
            })
            .is_ok();
        assert_eq!(
            template_accepts,
            function_accepts,
            "{name:?}: the template {} it, the function {} it",
            if template_accepts {
                "accepts"
            } else {
                "refuses"
            },
            if function_accepts {
                "accepts"
            } else {
                "refuses"
            },
        );
    }
    assert!(
        p["ConstraintDescription"]
            .as_str()
            .unwrap()
            .contains("authorization")
    );
}

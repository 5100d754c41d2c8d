use super::*;
use std::collections::HashMap;

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(|name| {
        map.get(name)
            .cloned()
            .or_else(|| (name == VAR_TABLE).then(|| "ownership".to_owned()))
    })
}

#[test]
fn secret_id_alone_is_the_deployed_configuration() {
    let c = config(&[(VAR_SECRET_ID, "rollee/jwt")]).unwrap();
    assert!(
        matches!(c.token, Origin::SecretsManager { ref secret_id } if secret_id == "rollee/jwt")
    );
    assert_eq!(c.api_url.as_str(), SANDBOX_API_URL);
    assert_eq!(c.dev_caller_sub, None);
}

#[test]
fn init_opens_the_tables_and_rollees_connections_unless_told_otherwise() {
    let secret = (VAR_SECRET_ID, "rollee/jwt");
    let setting = |value: &str| {
        config(&[secret, (VAR_CONNECT_AT_INIT, value)])
            .unwrap()
            .connect_at_init
    };
    assert_eq!(
        config(&[secret]).unwrap().connect_at_init,
        ConnectAtInit::All
    );
    assert_eq!(setting("on"), ConnectAtInit::All);
    assert_eq!(setting(" table "), ConnectAtInit::Table);
    assert_eq!(setting(" off "), ConnectAtInit::Off);
    let opened = |c: ConnectAtInit| (c.table(), c.rollee());
    assert_eq!(opened(ConnectAtInit::All), (true, true));
    assert_eq!(opened(ConnectAtInit::Table), (true, false));
    assert_eq!(opened(ConnectAtInit::Off), (false, false));
    for bad in ["yes", "0", "OFF", "rollee"] {
        assert_eq!(
            config(&[secret, (VAR_CONNECT_AT_INIT, bad)]).unwrap_err(),
            ConfigError::BadConnectAtInit,
            "{bad}"
        );
    }
}

#[test]
fn dev_token_and_caller_are_read() {
    let c = config(&[
        (VAR_TOKEN, "eyJdev"),
        (VAR_DEV_CALLER_SUB, "alice"),
        (VAR_API_URL, "http://127.0.0.1:9000/api/v0.5/"),
    ])
    .unwrap();
    assert!(matches!(c.token, Origin::Fixed(ref t) if t.expose() == "eyJdev"));
    assert_eq!(c.dev_caller_sub.as_deref(), Some("alice"));
    assert_eq!(c.api_url.as_str(), "http://127.0.0.1:9000/api/v0.5");
}

#[test]
fn missing_token_source_names_both_variables() {
    let err = config(&[]).unwrap_err();
    assert_eq!(err, ConfigError::NoTokenSource);
    let line = err.to_string();
    assert!(
        line.contains(VAR_SECRET_ID) && line.contains(VAR_TOKEN),
        "{line}"
    );
    assert!(!line.contains('\n'));
}

#[test]
fn both_token_sources_are_contradictory() {
    let err = config(&[(VAR_SECRET_ID, "s"), (VAR_TOKEN, "t")]).unwrap_err();
    assert_eq!(err, ConfigError::TwoTokenSources);
}

#[test]
fn empty_variable_is_named() {
    let err = config(&[(VAR_SECRET_ID, "s"), (VAR_DEV_CALLER_SUB, " ")]).unwrap_err();
    assert_eq!(err, ConfigError::Empty(VAR_DEV_CALLER_SUB));
    assert!(err.to_string().starts_with(VAR_DEV_CALLER_SUB));
}

#[test]
fn api_url_must_be_http_with_a_host() {
    for bad in [
        "ftp://x/api",
        "not a url",
        "http://",
        "https://h/api?x=1",
        "https://u:p@h/api",
    ] {
        let err = config(&[(VAR_SECRET_ID, "s"), (VAR_API_URL, bad)]).unwrap_err();
        assert_eq!(err, ConfigError::BadApiUrl, "{bad}");
        assert!(err.to_string().contains(VAR_API_URL));
    }
}

#[test]
fn the_table_is_required_and_the_quota_a_sane_number() {
    let c = config(&[(VAR_SECRET_ID, "s")]).unwrap();
    assert_eq!((c.table.as_str(), c.sessions_per_minute), ("ownership", 10));
    let c = config(&[(VAR_SECRET_ID, "s"), (VAR_SESSIONS_PER_MINUTE, "3")]).unwrap();
    assert_eq!(c.sessions_per_minute, 3);
    for bad in ["0", "-1", "ten", "10001"] {
        let err = config(&[(VAR_SECRET_ID, "s"), (VAR_SESSIONS_PER_MINUTE, bad)]).unwrap_err();
        assert_eq!(err, ConfigError::BadQuota, "{bad}");
    }
    let map: HashMap<String, String> = HashMap::from([(VAR_SECRET_ID.to_owned(), "s".to_owned())]);
    let err = Config::from_lookup(|name| map.get(name).cloned()).unwrap_err();
    assert_eq!(err, ConfigError::NoTable);
    assert!(err.to_string().starts_with(VAR_TABLE));
}

#[test]
fn local_development_settings_are_refused_inside_lambda() {
    let lambda = (VAR_EXECUTION_ENV, "AWS_Lambda_provided.al2023");
    for var in NEVER_IN_AWS {
        let mut vars = vec![lambda, (var, "x")];
        if var != VAR_TOKEN {
            vars.push((VAR_SECRET_ID, "s"));
        }
        let err = config(&vars).unwrap_err();
        assert_eq!(err, ConfigError::DevOnly(var));
        let line = err.to_string();
        assert!(line.starts_with(var) && !line.contains('\n'), "{line}");
    }
    // The deployed configuration starts; outside Lambda the same settings do.
    config(&[lambda, (VAR_SECRET_ID, "s")]).unwrap();
    config(&[(VAR_TOKEN, "t"), (VAR_DEV_CALLER_SUB, "dev")]).unwrap();
}

#[test]
fn the_jwt_policy_has_defaults_in_minutes_and_sane_bounds() {
    let c = config(&[(VAR_SECRET_ID, "s")]).unwrap();
    assert_eq!(c.token_policy, TokenPolicy::default());
    assert_eq!(c.token_policy.max_age, Duration::from_secs(300));
    let c = config(&[
        (VAR_SECRET_ID, "s"),
        (VAR_JWT_MAX_AGE, "60"),
        (VAR_JWT_WARN_DAYS, "0"),
    ])
    .unwrap();
    assert_eq!(c.token_policy.max_age, Duration::from_secs(60));
    assert_eq!(c.token_policy.warn_days, 0);
    for bad in ["0", "3601", "5m", "-1"] {
        let err = config(&[(VAR_SECRET_ID, "s"), (VAR_JWT_MAX_AGE, bad)]).unwrap_err();
        assert_eq!(err, ConfigError::BadMaxAge, "{bad}");
        assert!(err.to_string().starts_with(VAR_JWT_MAX_AGE));
    }
    for bad in ["366", "two", "-1"] {
        let err = config(&[(VAR_SECRET_ID, "s"), (VAR_JWT_WARN_DAYS, bad)]).unwrap_err();
        assert_eq!(err, ConfigError::BadWarnDays, "{bad}");
    }
}

#[test]
fn the_metrics_namespace_is_optional_and_checked() {
    assert_eq!(
        config(&[(VAR_SECRET_ID, "s")]).unwrap().metrics_namespace,
        None
    );
    let c = config(&[
        (VAR_SECRET_ID, "s"),
        (VAR_METRICS_NAMESPACE, "RolleeConnect/prod"),
    ]);
    assert_eq!(
        c.unwrap().metrics_namespace.as_deref(),
        Some("RolleeConnect/prod")
    );
    for bad in ["AWS/Lambda", "with space", "é"] {
        let err = config(&[(VAR_SECRET_ID, "s"), (VAR_METRICS_NAMESPACE, bad)]).unwrap_err();
        assert_eq!(err, ConfigError::BadMetricsNamespace, "{bad}");
        assert!(err.to_string().starts_with(VAR_METRICS_NAMESPACE));
    }
}

#[test]
fn debug_of_a_dev_config_does_not_show_the_token() {
    let c = config(&[(VAR_TOKEN, "eyJsecret")]).unwrap();
    assert!(!format!("{c:?}").contains("eyJsecret"));
}

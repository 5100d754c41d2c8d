//! The rotation function's settings, checked once at start.

use url::Url;

use super::{
    ConfigError, SANDBOX_API_URL, VAR_API_URL, VAR_JWT_WARN_DAYS, VAR_METRICS_NAMESPACE,
    VAR_SECRET_ID, VAR_TOKEN_REFRESH_PATH, metrics_namespace, parse_api_url, warn_days,
};

/// Every variable of ours that [`RotationConfig`] reads.
pub const ROTATION_VARIABLES: [&str; 5] = [
    VAR_API_URL,
    VAR_TOKEN_REFRESH_PATH,
    VAR_JWT_WARN_DAYS,
    VAR_METRICS_NAMESPACE,
    VAR_SECRET_ID,
];
/// What the deployed rotation function needs (the first two have defaults;
/// the template sets them so that the operator sees which Rollee and which path).
pub const ROTATION_REQUIRED_IN_AWS: [&str; 3] =
    [VAR_API_URL, VAR_TOKEN_REFRESH_PATH, VAR_METRICS_NAMESPACE];

/// The rotation function's settings. Secrets Manager names the secret in
/// every rotation event (and the function's role allows one); `secret_id`
/// is only what its self-test reads.
#[derive(Debug, Clone)]
pub struct RotationConfig {
    /// Rollee API base, for the test call with the new JWT.
    pub api_url: Url,
    /// Rollee's token refresh: the configured path on the API base's host.
    /// Rollee's page shows `/api/v0.5/token/refresh` for production and
    /// `/api/v0.3/token/refresh` for its sandbox; the default is the API
    /// base's own version (`/api/v0.5/token/refresh` for both default bases).
    pub refresh_url: Url,
    /// A new JWT with fewer days left than this is logged at WARN.
    pub warn_days: u32,
    /// Where metrics go; `None`: no metrics.
    pub metrics_namespace: Option<String>,
    /// The secret the self-test reads (`ROLLEE_SECRET_ID`); never used by a rotation step.
    pub secret_id: Option<String>,
}

impl RotationConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| -> Result<Option<String>, ConfigError> {
            match lookup(name) {
                None => Ok(None),
                Some(v) if v.trim().is_empty() => Err(ConfigError::Empty(name)),
                Some(v) => Ok(Some(v.trim().to_owned())),
            }
        };
        let api_url = get(VAR_API_URL)?.unwrap_or_else(|| SANDBOX_API_URL.to_owned());
        let api_url = parse_api_url(&api_url)?;
        let path = get(VAR_TOKEN_REFRESH_PATH)?
            .unwrap_or_else(|| format!("{}/token/refresh", api_url.path()));
        if !is_plain_path(&path) {
            return Err(ConfigError::BadRefreshPath);
        }
        // Only the path is configurable: the JWT goes to the API's own host, nowhere else.
        let mut refresh_url = api_url.clone();
        refresh_url.set_path(&path);
        Ok(Self {
            api_url,
            refresh_url,
            warn_days: warn_days(&get)?,
            metrics_namespace: metrics_namespace(&lookup)?,
            secret_id: get(VAR_SECRET_ID)?,
        })
    }
}

/// `/a/b.c`: absolute, segments of unreserved characters, none empty, `.` or `..`.
fn is_plain_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    rest.split('/').all(|segment| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_JWT_WARN_DAYS;
    use std::collections::HashMap;

    fn rotation(vars: &[(&str, &str)]) -> Result<RotationConfig, ConfigError> {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        RotationConfig::from_lookup(|name| map.get(name).map(|v| (*v).to_owned()))
    }

    #[test]
    fn the_token_refresh_is_the_api_versions_path_by_default_and_any_plain_path_on_its_host() {
        let c = rotation(&[]).unwrap();
        assert_eq!(
            c.refresh_url.as_str(),
            "https://api.sand.getrollee.com/api/v0.5/token/refresh"
        );
        assert_eq!(c.warn_days, DEFAULT_JWT_WARN_DAYS);
        let c = rotation(&[
            (VAR_API_URL, "https://api.getrollee.com/api/v0.5/"),
            (VAR_TOKEN_REFRESH_PATH, "/api/v0.3/token/refresh"),
            (VAR_JWT_WARN_DAYS, "30"),
        ])
        .unwrap();
        assert_eq!(
            c.refresh_url.as_str(),
            "https://api.getrollee.com/api/v0.3/token/refresh"
        );
        assert_eq!(c.api_url.as_str(), "https://api.getrollee.com/api/v0.5");
        assert_eq!(c.warn_days, 30);
        for bad in [
            "token/refresh",
            "//evil.example/token/refresh",
            "/api/../token/refresh",
            "/api//token",
            "/api/v0.5/token/refresh?x=1",
            "/api/v0.5/token/refresh#f",
            "/api/%2e%2e/x",
            "https://evil.example/token/refresh",
        ] {
            let err = rotation(&[(VAR_TOKEN_REFRESH_PATH, bad)]).unwrap_err();
            assert_eq!(err, ConfigError::BadRefreshPath, "{bad}");
        }
        assert_eq!(
            rotation(&[(VAR_API_URL, "ftp://h")]).unwrap_err(),
            ConfigError::BadApiUrl
        );
    }

    #[test]
    fn the_metrics_namespace_is_read_and_checked_here_too() {
        let r = rotation(&[(VAR_METRICS_NAMESPACE, "RolleeConnect")]).unwrap();
        assert_eq!(r.metrics_namespace.as_deref(), Some("RolleeConnect"));
        assert_eq!(rotation(&[]).unwrap().metrics_namespace, None);
        for bad in ["AWS/Lambda", "with space"] {
            let err = rotation(&[(VAR_METRICS_NAMESPACE, bad)]).unwrap_err();
            assert_eq!(err, ConfigError::BadMetricsNamespace, "{bad}");
        }
    }
}

//! The rotation of the Rollee JWT secret: Secrets Manager's four steps
//! (`createSecret`, `setSecret`, `testSecret`, `finishSecret`) as AWS's
//! rotation function template takes them, with Rollee's token refresh as the
//! source of the new JWT.
//!
//! Secrets Manager starts a rotation by staging a new, empty version of the
//! secret `AWSPENDING` under a `ClientRequestToken`, then invokes the function
//! once per step with `{SecretId, ClientRequestToken, Step}`, and again when
//! a step fails. So every step:
//! - refuses a secret whose rotation is not enabled, and a token that is not
//!   a version of the secret staged `AWSPENDING` (a version already
//!   `AWSCURRENT` is a finished rotation: nothing to do);
//! - is safe to repeat;
//! - leaves `AWSCURRENT` alone, unless it is `finishSecret` succeeding.
//!
//! Nothing logged or returned carries either JWT: only the secret's id, the
//! version id, statuses and `exp` dates.

mod secret;
mod steps;

use std::collections::HashMap;
use std::fmt;

use aws_sdk_secretsmanager::Client as SecretsClient;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use url::Url;

use crate::config::RotationConfig;
use crate::rollee::{ClientOptions, RolleeClient, RolleeError};
use crate::token::{Jwt, TokenSource, parse_secret};

pub const AWSCURRENT: &str = "AWSCURRENT";
pub const AWSPENDING: &str = "AWSPENDING";

/// What Secrets Manager sends the rotation function (other fields ignored).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct RotationEvent {
    #[serde(rename = "SecretId")]
    pub secret_id: String,
    #[serde(rename = "ClientRequestToken")]
    pub token: String,
    #[serde(rename = "Step")]
    pub step: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Create,
    Set,
    Test,
    Finish,
}

impl Step {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "createSecret" => Some(Step::Create),
            "setSecret" => Some(Step::Set),
            "testSecret" => Some(Step::Test),
            "finishSecret" => Some(Step::Finish),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Step::Create => "createSecret",
            Step::Set => "setSecret",
            Step::Test => "testSecret",
            Step::Finish => "finishSecret",
        }
    }
}

/// What a step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// The version is `AWSCURRENT` already: a finished rotation, invoked again.
    AlreadyCurrent,
    /// `createSecret`, repeated: the pending version already holds a JWT.
    AlreadyCreated,
    /// `createSecret`: Rollee's new JWT is stored as the pending version.
    Created,
    /// `setSecret`: nothing to set at Rollee.
    NothingToSet,
    /// `testSecret`: Rollee accepted the pending JWT.
    Tested,
    /// `finishSecret`: the pending version is `AWSCURRENT`.
    Finished,
}

/// Why a step failed. Messages carry no JWT, nor anything of a response body.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(
        "unknown step (expected createSecret, setSecret, testSecret or finishSecret): nothing done"
    )]
    UnknownStep,
    #[error("secret {0} is not enabled for rotation: nothing done")]
    NotEnabled(String),
    #[error("version {0} is not a version of the secret: nothing done")]
    NoSuchVersion(String),
    #[error("version {0} of the secret is not staged AWSPENDING: nothing done")]
    NotPending(String),
    #[error("Secrets Manager failed: {0}")]
    SecretsManager(String),
    #[error(
        "the {0} version of the secret holds no usable JWT (the bare JWT, or JSON with \"token\")"
    )]
    Unusable(&'static str),
    #[error(
        "Rollee rejected the current JWT at the token refresh (401): it may have expired or been revoked; store a new JWT by hand (docs/deploy.md)"
    )]
    RefreshRejected,
    #[error("Rollee's token refresh failed: {0}")]
    Refresh(RolleeError),
    #[error(
        "Rollee's token refresh gave a JWT expiring {new}, not later than the current one's ({current}): not stored"
    )]
    NotLater { current: String, new: String },
    #[error("Rollee's token refresh gave a JWT that expired at {0}: not stored")]
    Expired(String),
    #[error(
        "Rollee's token refresh gave a JWT without a readable expiry (exp), while the current one expires {current}: not stored"
    )]
    NoExpiry { current: String },
    #[error("Rollee rejected the pending JWT (401): not promoted")]
    Rejected,
    #[error("the pending JWT could not be tested, so it is not promoted: {0}")]
    Untested(RolleeError),
}

/// Runs the steps against Secrets Manager and Rollee.
pub struct Rotator {
    secrets: SecretsClient,
    http: reqwest::Client,
    config: RotationConfig,
    options: ClientOptions,
}

impl fmt::Debug for Rotator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rotator")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Rotator {
    /// `http` is the process's one client (see [`crate::http::client`]),
    /// `sdk_config` loaded over it (see [`crate::aws::loader`]).
    pub fn new(
        config: RotationConfig,
        sdk_config: &aws_config::SdkConfig,
        http: reqwest::Client,
        options: ClientOptions,
    ) -> Self {
        Self {
            secrets: SecretsClient::new(sdk_config),
            http,
            config,
            options,
        }
    }

    /// One invocation: the step, and one line saying what it did or why it failed.
    /// One invocation: the step, one line saying what it did or why it
    /// failed, and its metric (`RotationSteps` by step and outcome).
    pub async fn handle(&self, event: &RotationEvent) -> Result<Done, RotationError> {
        let step = Step::parse(&event.step).map_or("unknown", Step::name);
        let result = self.run(event).await;
        let (secret_id, version) = (event.secret_id.as_str(), event.token.as_str());
        match &result {
            Ok(done) => {
                tracing::info!(secret_id, version, step, outcome = ?done, "rotation step done");
            }
            Err(error) => {
                tracing::error!(secret_id, version, step, %error, "rotation step failed");
            }
        }
        crate::metrics::rotation_step(step, result.is_ok());
        result
    }

    pub async fn run(&self, event: &RotationEvent) -> Result<Done, RotationError> {
        let step = Step::parse(&event.step).ok_or(RotationError::UnknownStep)?;
        let (enabled, versions) = self.describe(&event.secret_id).await?;
        if check_version(enabled, &versions, &event.secret_id, &event.token)? == Version::Current {
            return Ok(Done::AlreadyCurrent);
        }
        match step {
            Step::Create => self.create(event).await,
            // The JWT is Rollee's own: it exists at Rollee from the moment
            // createSecret's refresh returned it. There is nothing to set there.
            Step::Set => Ok(Done::NothingToSet),
            Step::Test => self.test(event).await,
            Step::Finish => self.finish(event, &versions).await,
        }
    }

    /// A Rollee client that sends `jwt` and never re-reads it: a 401 is final.
    fn rollee(&self, jwt: Jwt) -> RolleeClient {
        RolleeClient::with_http(
            self.config.api_url.clone(),
            TokenSource::fixed(jwt),
            self.http.clone(),
            self.options,
        )
    }

    pub fn refresh_url(&self) -> &Url {
        &self.config.refresh_url
    }

    /// For the self-test: the secret it names (`ROLLEE_SECRET_ID`), its
    /// `AWSCURRENT` JWT read now, and a client that sends that JWT.
    pub fn self_test_secret(&self) -> Option<&str> {
        self.config.secret_id.as_deref()
    }

    pub async fn current_jwt(&self, secret_id: &str) -> Result<Jwt, RotationError> {
        let raw = self
            .value(secret_id, AWSCURRENT, None)
            .await?
            .ok_or(RotationError::Unusable(AWSCURRENT))?;
        parse_secret(&raw.0).ok_or(RotationError::Unusable(AWSCURRENT))
    }

    pub fn client_sending(&self, jwt: Jwt) -> RolleeClient {
        self.rollee(jwt)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    /// Staged AWSCURRENT: the rotation is finished.
    Current,
    /// Staged AWSPENDING (and not AWSCURRENT): the rotation is under way.
    Pending,
}

/// The checks of every step, as AWS's template makes them.
fn check_version(
    enabled: bool,
    versions: &HashMap<String, Vec<String>>,
    secret_id: &str,
    token: &str,
) -> Result<Version, RotationError> {
    if !enabled {
        return Err(RotationError::NotEnabled(secret_id.to_owned()));
    }
    let Some(stages) = versions.get(token) else {
        return Err(RotationError::NoSuchVersion(token.to_owned()));
    };
    if stages.iter().any(|s| s == AWSCURRENT) {
        Ok(Version::Current)
    } else if stages.iter().any(|s| s == AWSPENDING) {
        Ok(Version::Pending)
    } else {
        Err(RotationError::NotPending(token.to_owned()))
    }
}

/// A refreshed JWT must not be expired, and must expire later than the one it
/// replaces: anything else is no renewal. When the current JWT has an `exp`,
/// a new one without a readable `exp` (or no JWT at all) is refused too: it
/// might expire sooner, and nothing would warn before it did. Only when the
/// current JWT has none is there nothing to compare.
fn check_renewal(current: &Jwt, fresh: &Jwt, now: OffsetDateTime) -> Result<(), RotationError> {
    let format = |at: OffsetDateTime| at.format(&Rfc3339).unwrap_or_default();
    let Some(new) = fresh.expires_at() else {
        return match current.expires_at() {
            Some(old) => Err(RotationError::NoExpiry {
                current: format(old),
            }),
            None => Ok(()),
        };
    };
    if new <= now {
        return Err(RotationError::Expired(format(new)));
    }
    match current.expires_at() {
        Some(old) if new <= old => Err(RotationError::NotLater {
            current: format(old),
            new: format(new),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;

//! The webhook function's cold start: its settings, the HTTP client, the
//! AWS SDK with its own time limits, the secret.

use std::time::Duration;

use super::Receiver;
use super::config::WebhookConfig;

/// Timeouts of the process's HTTP client (Secrets Manager, DynamoDB,
/// EventBridge), and of each AWS call, SDK retries included: a delivery
/// makes at most five calls (claim, owner, publish, record or release),
/// which end within the function's 9 s timeout, under Rollee's 10 s [I].
const TIMEOUTS: crate::http::Timeouts = crate::http::Timeouts {
    connect: Duration::from_millis(500),
    attempt: Duration::from_millis(1500),
};
const AWS_CALL_TIMEOUT: Duration = Duration::from_millis(1500);

/// Why the webhook function could not start; its Display is the one line logged.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The webhook secret could not be read, or is no usable secret.
    #[error("{0}")]
    Secret(String),
    /// The process's HTTP client could not be built.
    #[error("{0}")]
    Client(String),
}

/// Cold start of the webhook function: settings, the HTTP client, the AWS
/// SDK, the secret; a failure is reported as [`crate::app::start`] says.
pub async fn init_from_env() -> Result<Receiver, String> {
    crate::app::start(async {
        let config = WebhookConfig::from_env()?;
        crate::metrics::init(config.metrics_namespace.as_deref(), "webhook");
        let http = crate::http::client(TIMEOUTS).map_err(StartError::Client)?;
        let sdk_config = crate::aws::loader(&http)
            .timeout_config(
                aws_smithy_types::timeout::TimeoutConfig::builder()
                    .operation_timeout(AWS_CALL_TIMEOUT)
                    .build(),
            )
            .load()
            .await;
        Receiver::build(&config, &sdk_config).await
    })
    .await
}

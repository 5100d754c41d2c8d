//! The rotation function of the Rollee JWT secret. Secrets Manager invokes it
//! with `{SecretId, ClientRequestToken, Step}`, one step at a time; no HTTP
//! route leads here. The protocol is `rollee_shared::rotation`.

use rollee_shared::app::StartupError;
use rollee_shared::config::RotationConfig;
use rollee_shared::lambda_http::lambda_runtime::{self, Diagnostic, LambdaEvent, service_fn};
use rollee_shared::rollee::ClientOptions;
use rollee_shared::rotation::{RotationEvent, Rotator};
use rollee_shared::selftest::{Incoming, Report, SelfTest};
use rollee_shared::{aws, http, metrics};

/// The function's name in its metrics (`Function`): its binary's.
pub const FUNCTION: &str = env!("CARGO_PKG_NAME");

/// One invocation: a rotation step, or the self-test (`{"rollee_connect_self_test": true}`).
pub async fn dispatch(
    rotator: &Rotator,
    event: LambdaEvent<Incoming<RotationEvent>>,
) -> Result<Option<Report>, Diagnostic> {
    let LambdaEvent { payload, context } = event;
    match payload {
        Incoming::SelfTest => {
            let invocation = metrics::Invocation {
                request_id: context.request_id.clone(),
                xray_trace_id: context.xray_trace_id.clone(),
            };
            Ok(Some(metrics::within(invocation, rotator.self_test()).await))
        }
        Incoming::Event(step) => handle(rotator, LambdaEvent::new(step, context))
            .await
            .map(|()| None),
    }
}

/// One rotation step. A failure reaches Secrets Manager as the invocation's
/// error (it then tries the step again later); its message names no JWT.
/// The step's metric carries the invocation's request id.
pub async fn handle(
    rotator: &Rotator,
    event: LambdaEvent<RotationEvent>,
) -> Result<(), Diagnostic> {
    let invocation = metrics::Invocation {
        request_id: event.context.request_id.clone(),
        xray_trace_id: event.context.xray_trace_id.clone(),
    };
    metrics::within(invocation, rotator.handle(&event.payload))
        .await
        .map(|_| ())
        .map_err(|e| Diagnostic {
            error_type: "RotationError".to_owned(),
            error_message: e.to_string(),
        })
}

/// The function: a single-threaded runtime (rotations come one step at a
/// time), the rotator built once, then one step per invocation.
pub fn run() -> Result<(), lambda_runtime::Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            // The same start as every function: logging, then init; a
            // failure is logged and, in Lambda, reported as the init error.
            let Ok(rotator) = rollee_shared::app::start(init()).await else {
                // Outside Lambda: nothing to answer a rotation event with.
                std::process::exit(1);
            };
            lambda_runtime::run(service_fn(|event| dispatch(&rotator, event))).await
        })
}

/// Cold start: settings, metrics, the HTTP client, the SDK over it. No call is made.
async fn init() -> Result<Rotator, StartupError> {
    let config = RotationConfig::from_env()?;
    metrics::init(config.metrics_namespace.as_deref(), FUNCTION);
    let options = ClientOptions::default();
    let http = http::client(options.timeouts()).map_err(StartupError::Client)?;
    let sdk_config = aws::loader(&http).load().await;
    Ok(Rotator::new(config, &sdk_config, http, options))
}

#[cfg(test)]
mod tests {
    use rollee_shared::config::RotationConfig;
    use rollee_shared::lambda_http::lambda_runtime::{Context, LambdaEvent};
    use rollee_shared::rollee::ClientOptions;
    use rollee_shared::rotation::{RotationEvent, Rotator};

    /// A rotator whose Secrets Manager nobody answers for.
    fn rotator() -> Rotator {
        let config = RotationConfig::from_lookup(|_| None).unwrap();
        let sdk = aws_config::SdkConfig::builder()
            .endpoint_url("http://127.0.0.1:9")
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::for_tests(),
                ),
            )
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let options = ClientOptions::default();
        let http = rollee_shared::http::client(options.timeouts()).unwrap();
        Rotator::new(config, &sdk, http, options)
    }

    fn step(name: &str) -> LambdaEvent<RotationEvent> {
        let event = RotationEvent {
            secret_id: "rollee/jwt".into(),
            token: "00000000-0000-4000-8000-000000000001".into(),
            step: name.into(),
        };
        LambdaEvent::new(event, Context::default())
    }

    #[tokio::test]
    async fn a_step_that_fails_reaches_secrets_manager_as_a_rotation_error_naming_it() {
        let rotator = rotator();
        let unknown = super::handle(&rotator, step("renewSecret"))
            .await
            .unwrap_err();
        assert_eq!(unknown.error_type, "RotationError");
        assert!(
            unknown.error_message.contains("unknown step"),
            "{}",
            unknown.error_message
        );
        // A known step whose Secrets Manager cannot be reached fails, and says so.
        let unreachable = super::handle(&rotator, step("createSecret"))
            .await
            .unwrap_err();
        assert_eq!(unreachable.error_type, "RotationError");
        assert!(!unreachable.error_message.is_empty());
    }
}

//! The webhook receiver: Rollee's deliveries, authenticated, checked,
//! de-duplicated, and published to an EventBridge bus with the owner of the
//! user they are about.
//!
//! - [`auth`]: the header secret and the optional HMAC signature;
//! - [`config`]: the function's settings;
//! - [`event`]: the body, its user, the event's detail.
//!
//! The answer Rollee gets: 2xx once the event is on the bus (or was already,
//! a duplicate); 401 without the right header or signature; 400/413 for a
//! body that is no event; 503 when the table or the bus failed, so that
//! Rollee delivers again and nothing is lost; 409 while another delivery of
//! the same body is being published.

pub mod auth;
pub mod config;
pub mod event;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use lambda_http::http::StatusCode;
use lambda_http::http::header::HeaderName;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::app::json;
use crate::problem::{ApiError, Problem};
use crate::store::Store;
use crate::store::delivery::Claim;
use auth::{Credentials, Rejection, Verifier};
use config::{SecretOrigin, WebhookConfig};
use event::{Detail, MAX_WEBHOOK_BODY, Owner};

/// The `source` of every event this server puts on the bus.
pub const EVENT_SOURCE: &str = "rollee.connect";
/// A delivery with the wrong credentials makes the process re-read the
/// secret (it may have been rotated) at most this often.
pub const SECRET_REREAD_PACE: Duration = Duration::from_secs(30);
/// Timeouts of the process's HTTP client (Secrets Manager, DynamoDB,
/// EventBridge): Rollee waits about 10 s for an answer [I].
const TIMEOUTS: crate::http::Timeouts = crate::http::Timeouts {
    connect: Duration::from_secs(2),
    attempt: Duration::from_secs(4),
};

/// Built once per process.
pub struct Receiver {
    verifier: Mutex<Arc<Verifier>>,
    secret: SecretReader,
    /// The last re-read of the secret (none yet: the first refusal may re-read at once).
    last_read: Mutex<Option<Instant>>,
    store: Store,
    events: aws_sdk_eventbridge::Client,
    bus: String,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("bus", &self.bus)
            .finish_non_exhaustive()
    }
}

enum SecretReader {
    Fixed,
    SecretsManager {
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
    },
}

impl SecretReader {
    /// The credentials derived from the secret's current version.
    async fn read(&self) -> Result<Option<Credentials>, String> {
        let Self::SecretsManager { client, secret_id } = self else {
            return Ok(None);
        };
        let output = client
            .get_secret_value()
            .secret_id(secret_id)
            .version_stage("AWSCURRENT")
            .send()
            .await
            .map_err(|e| {
                format!(
                    "could not read the webhook secret {secret_id}: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                )
            })?;
        let credentials = output.secret_string().and_then(Credentials::derive);
        credentials.map(Some).ok_or_else(|| {
            format!(
                "the webhook secret {secret_id} is not a string of at least {} characters",
                auth::MIN_SECRET_LEN
            )
        })
    }
}

impl Receiver {
    /// Reads the secret now; constructs the table's and the bus's clients
    /// (no call to either at start).
    pub async fn build(
        config: &WebhookConfig,
        sdk_config: &aws_config::SdkConfig,
    ) -> Result<Self, String> {
        let (secret, credentials) = match &config.secret {
            SecretOrigin::Fixed(_) => {
                tracing::warn!(
                    "using the webhook secret from WEBHOOK_SECRET: for local development only; deployed functions read it from Secrets Manager"
                );
                (
                    SecretReader::Fixed,
                    read_credentials(&config.secret, sdk_config).await?,
                )
            }
            SecretOrigin::SecretsManager { secret_id } => {
                let reader = SecretReader::SecretsManager {
                    client: aws_sdk_secretsmanager::Client::new(sdk_config),
                    secret_id: secret_id.clone(),
                };
                let credentials = reader.read().await?.ok_or("no secret")?;
                tracing::info!(secret_id = %secret_id, "read the webhook secret from Secrets Manager");
                (reader, credentials)
            }
        };
        let verifier = Verifier::new(config.header.clone(), config.signature, credentials)?;
        Ok(Self {
            verifier: Mutex::new(Arc::new(verifier)),
            secret,
            last_read: Mutex::new(None),
            store: Store::new(
                aws_sdk_dynamodb::Client::new(sdk_config),
                config.table.clone(),
                // The webhook function mints no session: no quota.
                0,
            ),
            events: aws_sdk_eventbridge::Client::new(sdk_config),
            bus: config.bus.clone(),
        })
    }

    /// The ownership table, where deliveries are remembered.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn verifier(&self) -> Arc<Verifier> {
        self.verifier
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Checks the delivery; after a refusal, re-reads the secret once (paced)
    /// in case it was rotated, and checks again.
    async fn authenticate(&self, request: &Request, body: &[u8]) -> Result<(), Rejection> {
        let verifier = self.verifier();
        let Err(rejection) = verifier.verify(request.headers(), body) else {
            return Ok(());
        };
        if !self.reread_due() {
            return Err(rejection);
        }
        match self.secret.read().await {
            Ok(Some(credentials)) if !verifier.is_current(&credentials) => {
                match verifier.rotated(credentials) {
                    Ok(next) => {
                        tracing::info!(
                            "the webhook secret changed: the new one is accepted, and the previous one still"
                        );
                        let next = Arc::new(next);
                        *self.verifier.lock().unwrap_or_else(|p| p.into_inner()) = next.clone();
                        next.verify(request.headers(), body)
                    }
                    Err(e) => {
                        tracing::warn!("could not use the re-read webhook secret: {e}");
                        Err(rejection)
                    }
                }
            }
            Ok(_) => Err(rejection),
            Err(e) => {
                tracing::warn!("{e}");
                Err(rejection)
            }
        }
    }

    /// Whether a re-read is allowed now; if so, it counts as made.
    fn reread_due(&self) -> bool {
        if matches!(self.secret, SecretReader::Fixed) {
            return false;
        }
        let mut last = self.last_read.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|at| at.elapsed() < SECRET_REREAD_PACE) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    /// Puts one event on the bus.
    async fn publish(&self, detail_type: &str, detail: &Detail<'_>) -> Result<(), String> {
        let detail = serde_json::to_string(detail).map_err(|e| e.to_string())?;
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(EVENT_SOURCE)
            .detail_type(detail_type)
            .detail(detail)
            .build();
        let output = self
            .events
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| aws_sdk_eventbridge::error::DisplayErrorContext(&e).to_string())?;
        if output.failed_entry_count() > 0 {
            let code = output
                .entries()
                .first()
                .and_then(|e| e.error_code())
                .unwrap_or("unknown");
            return Err(format!("EventBridge refused the event: {code}"));
        }
        Ok(())
    }
}

/// The credentials Rollee is given, from the secret's current version.
pub async fn read_credentials(
    origin: &SecretOrigin,
    sdk_config: &aws_config::SdkConfig,
) -> Result<Credentials, String> {
    match origin {
        SecretOrigin::Fixed(value) => {
            Credentials::derive(value).ok_or_else(|| "WEBHOOK_SECRET is too short".to_owned())
        }
        SecretOrigin::SecretsManager { secret_id } => SecretReader::SecretsManager {
            client: aws_sdk_secretsmanager::Client::new(sdk_config),
            secret_id: secret_id.clone(),
        }
        .read()
        .await?
        .ok_or_else(|| "no secret".to_owned()),
    }
}

/// The body of Rollee's `PUT /webhooks/{users,accounts}`: the documented
/// `url`, `method` and `headers` [C], `enabled` [I], and `secret` [I] for
/// the HMAC when signatures are on. Rollee replaces the whole configuration
/// with it [I], so all of it is sent every time.
pub fn registration(
    url: &str,
    header: &HeaderName,
    credentials: &Credentials,
    signature: Option<auth::SignatureEncoding>,
) -> serde_json::Value {
    let mut body = serde_json::json!({
        "url": url,
        "method": "POST",
        "headers": { header.as_str(): credentials.header_value() },
        "enabled": true,
    });
    if signature.is_some() {
        body["secret"] = serde_json::Value::from(credentials.signing_key());
    }
    body
}

/// Cold start of the webhook function: settings, the HTTP client, the AWS
/// SDK, the secret; a failure is reported as [`crate::app::start`] says.
pub async fn init_from_env() -> Result<Receiver, String> {
    crate::app::start(async {
        let config = WebhookConfig::from_env().map_err(|e| e.to_string())?;
        let http = crate::http::client(TIMEOUTS)?;
        let sdk_config = crate::aws::loader(&http).load().await;
        Receiver::build(&config, &sdk_config).await
    })
    .await
}

#[derive(Serialize)]
struct Accepted {
    /// `published`, or `duplicate` for a delivery already published.
    status: &'static str,
    delivery_id: String,
}

/// `POST /webhooks/rollee`.
pub async fn handle(receiver: &Receiver, request: &Request) -> Result<Response<Body>, ApiError> {
    let body: &[u8] = match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => return Err(ApiError::bad_request("The body must be a JSON object.")),
    };
    if let Err(rejection) = receiver.authenticate(request, body).await {
        tracing::warn!(reason = %rejection, "webhook refused");
        return Err(ApiError::new(
            Problem::Unauthenticated,
            "The delivery is not authenticated.",
        ));
    }
    if body.len() > MAX_WEBHOOK_BODY {
        return Err(ApiError::too_large(MAX_WEBHOOK_BODY));
    }
    let event = event::parse(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let digest = auth::body_digest(body);
    let action = event.action.clone();
    let action = action.as_str();
    let known_action = event.is_known();
    match receiver.store.claim_delivery(&digest).await? {
        Claim::Claimed => {}
        Claim::Published => {
            tracing::info!(action, delivery_id = %digest, "duplicate delivery: already published");
            return json(
                StatusCode::OK,
                &Accepted {
                    status: "duplicate",
                    delivery_id: digest,
                },
            );
        }
        Claim::InProgress => {
            let mut e = ApiError::new(
                Problem::InProgress,
                "The same delivery is being published right now.",
            );
            e.retry_after = Some(5);
            return Err(e);
        }
    }
    match publish(receiver, event, &digest).await {
        Ok(owner) => {
            tracing::info!(action, ?owner, known_action, delivery_id = %digest, "webhook published");
        }
        Err(e) => {
            // Rollee delivers again: the claim must not make that a duplicate.
            if let Err(release) = receiver.store.release_delivery(&digest).await {
                tracing::warn!(
                    delivery_id = %digest,
                    "could not release the delivery's claim (a retry waits for its lease): {release}"
                );
            }
            return Err(e);
        }
    }
    if let Err(e) = receiver.store.delivery_published(&digest).await {
        // Published once already; a repeat after the lease would publish again.
        tracing::warn!(delivery_id = %digest, "published, but not recorded as such: {e}");
    }
    json(
        StatusCode::OK,
        &Accepted {
            status: "published",
            delivery_id: digest,
        },
    )
}

/// The owner lookup and the publish of a claimed delivery.
async fn publish(
    receiver: &Receiver,
    mut event: event::Event,
    digest: &str,
) -> Result<Owner, ApiError> {
    let sub = match event.user_id {
        Some(user) => match receiver.store.owner_of_user(user).await? {
            Some(sub) => Some(sub),
            None => event.owner_in_metadata().map(str::to_owned),
        },
        None => None,
    };
    let owner = match (&event.user_id, &sub) {
        (None, _) => Owner::NoUser,
        (Some(_), None) => Owner::Unknown,
        (Some(_), Some(_)) => Owner::Known,
    };
    let redacted = event.redact();
    let detail = Detail {
        action: &event.action,
        user_id: event.user_id,
        sub: sub.as_deref(),
        owner,
        known_action: event.is_known(),
        delivery_id: digest,
        webhook: &event.body,
        redacted,
    };
    receiver
        .publish(&event.action, &detail)
        .await
        .map_err(|cause| {
            ApiError::new(
                Problem::EventBusUnavailable,
                "The event could not be published; deliver it again.",
            )
            .with_cause(cause)
        })?;
    Ok(owner)
}

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
pub mod kind;
mod redact;
mod register;
mod secret;
mod selftest;
mod start;
pub use start::{StartError, init_from_env};

use std::sync::{Arc, Mutex};
use std::time::Instant;

use lambda_http::http::StatusCode;
use lambda_http::http::header::HeaderName;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::app::json;
use crate::bus::Bus;
use crate::metrics::WebhookOutcome;
use crate::problem::{ApiError, Problem};
use crate::store::Store;
use crate::store::delivery::{Claim, DELIVERY_MEMORY};
use auth::Verifier;
use config::{SecretOrigin, WebhookConfig};
use event::{Detail, MAX_WEBHOOK_BODY, Owner};
use kind::Category;
pub use register::{read_credentials, registration};
use secret::{Reads, SecretReader};
pub use secret::{SECRET_MAX_AGE, SECRET_REREAD_PACE};

/// The key the webhook reads at init to open the table's connection: none
/// has it (a delivery's is `delivery#<SHA-256 in hex>`), and its role may
/// read `delivery#` keys.
pub const PROBE_KEY: &str = "delivery#connect-at-init";

/// What an EventBridge entry may hold (256 KiB), less room for its other fields.
const MAX_ENTRY_BYTES: usize = 250 * 1024;
pub use crate::bus::EVENT_SOURCE;
/// Built once per process.
pub struct Receiver {
    verifier: Mutex<Arc<Verifier>>,
    secret: SecretReader,
    header: HeaderName,
    signature: Option<auth::SignatureEncoding>,
    /// The last read of the secret, and the last one a refusal asked for.
    reads: Mutex<Reads>,
    /// Held while a refusal re-reads the secret: the refusals that arrive
    /// meanwhile wait for that read instead of making their own.
    rereading: tokio::sync::Mutex<()>,
    store: Store,
    bus: Bus,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("bus", &self.bus.name())
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// Reads the secret now and, unless `CONNECT_AT_INIT` is `off`, opens
    /// the table's and the bus's connections meanwhile (a `GetItem` of
    /// [`PROBE_KEY`], a `DescribeEventBus`); neither stops the start.
    pub async fn build(
        config: &WebhookConfig,
        sdk_config: &aws_config::SdkConfig,
    ) -> Result<Self, StartError> {
        let secret = SecretReader::new(&config.secret, sdk_config).map_err(StartError::Secret)?;
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk_config);
        let bus = Bus::new(sdk_config, config.bus.clone());
        // Beside the secret's read, the connections the first delivery uses.
        let (keys, (), ()) = tokio::join!(
            secret.read(),
            async {
                if config.connect_at_init.table() {
                    crate::app::connect::table(&dynamodb, &config.table, PROBE_KEY).await;
                }
            },
            async {
                if config.connect_at_init.table() {
                    crate::app::connect::bus(&bus).await;
                }
            },
        );
        let keys = keys.map_err(StartError::Secret)?;
        match &config.secret {
            SecretOrigin::Fixed(_) => tracing::warn!(
                "using the webhook secret from WEBHOOK_SECRET: for local development only; deployed functions read it from Secrets Manager"
            ),
            SecretOrigin::SecretsManager { secret_id } => tracing::info!(
                secret_id = %secret_id,
                previous_accepted = keys.previous.is_some(),
                "read the webhook secret from Secrets Manager"
            ),
        }
        let verifier = Verifier::new(config.header.clone(), config.signature, &keys)
            .map_err(StartError::Secret)?;
        Ok(Self {
            verifier: Mutex::new(Arc::new(verifier)),
            secret,
            header: config.header.clone(),
            signature: config.signature,
            reads: Mutex::new(Reads {
                last: Instant::now(),
                after_refusal: None,
            }),
            rereading: tokio::sync::Mutex::new(()),
            store: Store::new(
                dynamodb,
                config.table.clone(),
                // The webhook function mints no session: no quota.
                0,
            ),
            bus,
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

    /// Puts one event on the bus.
    async fn put_event(&self, detail_type: &str, detail: &Detail<'_>) -> Result<(), ApiError> {
        // Re-serialised, a body under MAX_WEBHOOK_BODY could still outgrow an
        // entry (numbers written longer); no retry would change that: 413.
        // Measured before it is written, so that such a body costs nothing.
        let Some(len) = serialized_len(detail, MAX_ENTRY_BYTES) else {
            return Err(ApiError::too_large(MAX_WEBHOOK_BODY));
        };
        let mut bytes = Vec::with_capacity(len);
        serde_json::to_writer(&mut bytes, detail).map_err(ApiError::internal)?;
        let detail = String::from_utf8(bytes).map_err(ApiError::internal)?;
        self.bus
            .put(
                detail_type,
                detail,
                "The event could not be published; deliver it again.",
            )
            .await?;
        Ok(())
    }
}

/// The length of `value` as JSON, or `None` past `limit` bytes (it stops
/// writing there) or when it cannot be written.
fn serialized_len(value: &impl Serialize, limit: usize) -> Option<usize> {
    struct Count {
        len: usize,
        limit: usize,
    }
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.len += bytes.len();
            if self.len > self.limit {
                return Err(std::io::ErrorKind::FileTooLarge.into());
            }
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count { len: 0, limit };
    serde_json::to_writer(&mut count, value).ok()?;
    Some(count.len)
}

#[derive(Serialize)]
struct Accepted {
    /// `published`, or `duplicate` for a delivery already published.
    status: &'static str,
    delivery_id: String,
}

/// `POST /webhooks/rollee`: [`receive`], its outcome counted
/// (`WebhookDeliveries` by outcome: accepted, duplicate, rejected (401, 400,
/// 413: not a delivery we take), failed (ours: 409, 5xx; Rollee delivers again)).
pub async fn handle(receiver: &Receiver, request: &Request) -> Result<Response<Body>, ApiError> {
    let (result, outcome) = match receive(receiver, request).await {
        Ok((response, outcome)) => (Ok(response), outcome),
        Err((error, outcome)) => (Err(error), outcome),
    };
    crate::metrics::webhook_delivery(outcome);
    result
}

/// A delivery's answer, with its outcome as counted, decided where the
/// answer is.
type Received = Result<(Response<Body>, WebhookOutcome), (ApiError, WebhookOutcome)>;

/// Refused: Rollee's delivery is not one we take (401, 400, 413).
fn rejected(error: ApiError) -> (ApiError, WebhookOutcome) {
    (error, WebhookOutcome::Rejected)
}

/// Ours: it could not be handled now (409, 5xx); Rollee delivers again.
fn failed(error: impl Into<ApiError>) -> (ApiError, WebhookOutcome) {
    (error.into(), WebhookOutcome::Failed)
}

/// A delivery, read top to bottom: authenticated, parsed, claimed,
/// published, recorded; each refusal or failure with its outcome.
async fn receive(receiver: &Receiver, request: &Request) -> Received {
    let body: &[u8] = match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => {
            return Err(rejected(ApiError::bad_request(
                "The body must be a JSON object.",
            )));
        }
    };
    if let Err(rejection) = receiver.authenticate(request, body).await {
        tracing::warn!(reason = %rejection, "webhook refused");
        return Err(rejected(ApiError::new(
            Problem::Unauthenticated,
            "The delivery is not authenticated.",
        )));
    }
    if body.len() > MAX_WEBHOOK_BODY {
        return Err(rejected(ApiError::too_large(MAX_WEBHOOK_BODY)));
    }
    let event = event::parse(body).map_err(|e| rejected(ApiError::bad_request(e.to_string())))?;
    // A delivery older than its record is kept could be a captured one
    // replayed: refused where its own date says so.
    if let Some(at) = event.dated_at()
        && (time::OffsetDateTime::now_utc() - at).whole_seconds() > DELIVERY_MEMORY.as_secs() as i64
    {
        tracing::warn!(
            reason = "the delivery is dated before the replay window",
            "webhook refused"
        );
        return Err(rejected(ApiError::bad_request(format!(
            "The delivery is dated more than {} days ago: it is not published.",
            DELIVERY_MEMORY.as_secs() / 86_400
        ))));
    }
    let digest = auth::body_digest(body);
    let funnel = (Category::of(&event.action) == Category::ConnectPage)
        .then(|| kind::funnel_step(&event.body));
    let action = event.action.clone();
    let action = action.as_str();
    let known_action = event.is_known();
    let claim = match receiver
        .store
        .claim_delivery(&digest)
        .await
        .map_err(failed)?
    {
        Claim::Claimed(claim) => claim,
        Claim::Published => {
            tracing::info!(action, delivery_id = %digest, "duplicate delivery: already published");
            let response = json(
                StatusCode::OK,
                &Accepted {
                    status: "duplicate",
                    delivery_id: digest,
                },
            )
            .map_err(failed)?;
            return Ok((response, WebhookOutcome::Duplicate));
        }
        // Not a failure to hide from Rollee: the request holding the claim
        // answers its own delivery (and that one is retried if it fails).
        Claim::InProgress => {
            return Err(failed(
                ApiError::new(
                    Problem::InProgress,
                    "The same delivery is being published right now.",
                )
                .with_retry_after(Some(5)),
            ));
        }
    };
    match publish_delivery(receiver, event, &digest).await {
        Ok(owner) => {
            tracing::info!(action, ?owner, known_action, delivery_id = %digest, "webhook published");
            // Counted once per delivery: a duplicate never reaches here.
            if let Some((screen, status)) = funnel {
                crate::metrics::connect_event(screen, status);
            }
        }
        Err(e) => {
            // Rollee delivers again: the claim must not make that a duplicate.
            if let Err(release) = receiver.store.release_delivery(&digest, claim).await {
                tracing::warn!(
                    delivery_id = %digest,
                    "could not release the delivery's claim (a retry waits for its lease): {release}"
                );
            }
            // An event too large for the bus is the delivery's, not ours.
            return Err(if e.problem == Problem::PayloadTooLarge {
                rejected(e)
            } else {
                failed(e)
            });
        }
    }
    if let Err(e) = receiver.store.delivery_published(&digest).await {
        // Published once already; a repeat after the lease publishes again
        // (consumers de-duplicate on delivery_id).
        tracing::warn!(delivery_id = %digest, "published, but not recorded as such: {e}");
    }
    let response = json(
        StatusCode::OK,
        &Accepted {
            status: "published",
            delivery_id: digest,
        },
    )
    .map_err(failed)?;
    Ok((response, WebhookOutcome::Accepted))
}

/// A claimed delivery: its owner looked up, the table's accounts kept
/// current, its event put on the bus.
async fn publish_delivery(
    receiver: &Receiver,
    mut event: event::Event,
    digest: &str,
) -> Result<Owner, ApiError> {
    let sub = match event.user_id {
        Some(user) => match receiver.store.owner_of_user(user).await? {
            Some(sub) => Some(sub),
            // Only for create_user (see `owner_in_metadata`).
            None => event.owner_in_metadata().map(str::to_owned),
        },
        None => None,
    };
    let owner = match (&event.user_id, &sub) {
        (None, _) => Owner::NoUser,
        (Some(_), None) => Owner::Unknown,
        (Some(_), Some(_)) => Owner::Known,
    };
    let category = Category::of(&event.action);
    // The table's `account#` items follow the account events of users it
    // knows, before the event is published: a failure here is a 503 and
    // Rollee delivers again.
    if let (Category::Account, Some(user), Some(sub), Some(account)) =
        (category, event.user_id, &sub, kind::account_of(&event.body))
    {
        if event.action == "delete_account" {
            receiver.store.forget_account(account).await?;
        } else {
            receiver.store.record_account(sub, user, account).await?;
        }
    }
    let redacted = event.redact();
    let detail = Detail {
        action: &event.action,
        category,
        user_id: event.user_id,
        sub: sub.as_deref(),
        owner,
        known_action: event.is_known(),
        delivery_id: digest,
        webhook: &event.body,
        redacted: &redacted.paths,
        redacted_count: (redacted.count > redacted.paths.len()).then_some(redacted.count),
    };
    receiver.put_event(&event.action, &detail).await?;
    Ok(owner)
}

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
mod selftest;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
use auth::{Credentials, Keys, PREVIOUS_SECRET_GRACE, Rejection, Verifier};
use config::{SecretOrigin, WebhookConfig};
use event::{Detail, MAX_WEBHOOK_BODY, Owner};
use kind::Category;

/// What an EventBridge entry may hold (256 KiB), less room for its other fields.
const MAX_ENTRY_BYTES: usize = 250 * 1024;
pub use crate::bus::EVENT_SOURCE;
/// A delivery with a wrong header or signature makes the process re-read
/// the secret (it may have been rotated), unless a re-read it asked for
/// ended less than this long ago: a caller without the secret can make each
/// warm process read it at most once per pace (two `GetSecretValue` calls
/// during a grace), and Rollee's first delivery with a new value waits at
/// most this long after a refusal.
pub const SECRET_REREAD_PACE: Duration = Duration::from_secs(2);
/// The secret is also re-read when the last read is older than this, so that
/// a rotation reaches every warm process, and a replaced value's grace
/// ([`PREVIOUS_SECRET_GRACE`]) ends in each.
pub const SECRET_MAX_AGE: Duration = Duration::from_secs(300);
/// Timeouts of the process's HTTP client (Secrets Manager, DynamoDB,
/// EventBridge), and of each AWS call, SDK retries included: a delivery
/// makes at most five calls (claim, owner, publish, record or release),
/// which end within the function's 9 s timeout, under Rollee's 10 s [I].
const TIMEOUTS: crate::http::Timeouts = crate::http::Timeouts {
    connect: Duration::from_millis(500),
    attempt: Duration::from_millis(1500),
};
const AWS_CALL_TIMEOUT: Duration = Duration::from_millis(1500);

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

struct Reads {
    /// When the last read started (at start: when the function started).
    last: Instant,
    /// When the last read a refusal asked for ended.
    after_refusal: Option<Instant>,
}

/// Whether a refusal may re-read the secret: not while the last re-read a
/// refusal asked for ended less than [`SECRET_REREAD_PACE`] ago.
fn refusal_may_reread(after_refusal: Option<Instant>, now: Instant) -> bool {
    after_refusal.is_none_or(|ended| now.saturating_duration_since(ended) >= SECRET_REREAD_PACE)
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("bus", &self.bus.name())
            .finish_non_exhaustive()
    }
}

enum SecretReader {
    Fixed(Credentials),
    SecretsManager {
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
    },
}

impl SecretReader {
    fn new(origin: &SecretOrigin, sdk_config: &aws_config::SdkConfig) -> Result<Self, String> {
        Ok(match origin {
            SecretOrigin::Fixed(value) => Self::Fixed(
                Credentials::derive(value)
                    .ok_or_else(|| "WEBHOOK_SECRET is too short".to_owned())?,
            ),
            SecretOrigin::SecretsManager { secret_id } => Self::SecretsManager {
                client: aws_sdk_secretsmanager::Client::new(sdk_config),
                secret_id: secret_id.clone(),
            },
        })
    }

    /// The credentials of the secret's current version and, when that
    /// version is younger than [`PREVIOUS_SECRET_GRACE`], of the previous
    /// one until the grace ends.
    async fn read(&self) -> Result<Keys, String> {
        let (client, secret_id) = match self {
            Self::Fixed(credentials) => {
                return Ok(Keys {
                    current: credentials.clone(),
                    previous: None,
                });
            }
            Self::SecretsManager { client, secret_id } => (client, secret_id),
        };
        // Both at once: whether the previous version is needed only the
        // current one's creation date says, and waiting for it before
        // asking made every read two round trips after a rotation. Outside
        // a grace the previous one is read for nothing (one more call, and
        // over HTTP/1.1 one more connection, BENCHMARKS.md).
        let (current, previous) = tokio::join!(
            Self::version(client, secret_id, "AWSCURRENT"),
            Self::version(client, secret_id, "AWSPREVIOUS"),
        );
        let (current, created) = current?;
        let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs();
        let previous = grace_left(created.map(|at| at.secs()), now).and_then(|left| {
            previous
                .ok()
                .map(|(credentials, _)| (credentials, Instant::now() + left))
        });
        Ok(Keys { current, previous })
    }

    async fn version(
        client: &aws_sdk_secretsmanager::Client,
        secret_id: &str,
        stage: &str,
    ) -> Result<(Credentials, Option<aws_smithy_types::DateTime>), String> {
        let output = client
            .get_secret_value()
            .secret_id(secret_id)
            .version_stage(stage)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "could not read the webhook secret {secret_id} ({stage}): {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                )
            })?;
        let credentials = output.secret_string().and_then(Credentials::derive);
        let credentials = credentials.ok_or_else(|| {
            format!(
                "the webhook secret {secret_id} is not a string of at least {} characters",
                auth::MIN_SECRET_LEN
            )
        })?;
        Ok((credentials, output.created_date().copied()))
    }
}

/// How much longer the previous value is accepted, given when the current
/// one was created and the time now (Unix seconds); `None` when not at all.
/// A creation date ahead of this function's clock (the clocks disagree)
/// means just created.
fn grace_left(created: Option<i64>, now: i64) -> Option<Duration> {
    let age = u64::try_from(now.saturating_sub(created?).max(0)).ok()?;
    PREVIOUS_SECRET_GRACE
        .checked_sub(Duration::from_secs(age))
        .filter(|left| !left.is_zero())
}

impl Receiver {
    /// Reads the secret now; constructs the table's and the bus's clients
    /// (no call to either at start).
    pub async fn build(
        config: &WebhookConfig,
        sdk_config: &aws_config::SdkConfig,
    ) -> Result<Self, String> {
        let secret = SecretReader::new(&config.secret, sdk_config)?;
        let keys = secret.read().await?;
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
        let verifier = Verifier::new(config.header.clone(), config.signature, &keys)?;
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
                aws_sdk_dynamodb::Client::new(sdk_config),
                config.table.clone(),
                // The webhook function mints no session: no quota.
                0,
            ),
            bus: Bus::new(sdk_config, config.bus.clone()),
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

    /// Checks the delivery: against the secret as last read, re-read first
    /// when older than [`SECRET_MAX_AGE`], and once more after a refusal a
    /// rotation could explain: at once, unless a read that ended after the
    /// refusal already answers it or the last such re-read ended less than
    /// [`SECRET_REREAD_PACE`] ago.
    async fn authenticate(&self, request: &Request, body: &[u8]) -> Result<(), Rejection> {
        if self.due(|reads| reads.last.elapsed() >= SECRET_MAX_AGE) {
            self.reread().await;
        }
        let refused_at = Instant::now();
        let Err(rejection) = self.verifier().verify(request.headers(), body) else {
            return Ok(());
        };
        if !rejection.may_be_rotation() || matches!(self.secret, SecretReader::Fixed(_)) {
            return Err(rejection);
        }
        let _one_at_a_time = self.rereading.lock().await;
        let (read_since, may_reread) = {
            let reads = self.reads.lock().unwrap_or_else(|p| p.into_inner());
            (
                reads.last > refused_at,
                refusal_may_reread(reads.after_refusal, Instant::now()),
            )
        };
        if !read_since {
            if !may_reread {
                return Err(rejection);
            }
            self.due(|_| true);
            self.reread().await;
            self.reads
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .after_refusal = Some(Instant::now());
        }
        self.verifier().verify(request.headers(), body)
    }

    /// Whether `check` says a read is due (never for a fixed secret); a due
    /// read counts as made.
    fn due(&self, check: impl FnOnce(&mut Reads) -> bool) -> bool {
        if matches!(self.secret, SecretReader::Fixed(_)) {
            return false;
        }
        let mut reads = self.reads.lock().unwrap_or_else(|p| p.into_inner());
        let due = check(&mut reads);
        if due {
            reads.last = Instant::now();
        }
        due
    }

    /// Reads the secret and checks deliveries with what it holds from now
    /// on; a failed read keeps the current check (and is logged).
    async fn reread(&self) {
        let built = match self.secret.read().await {
            Ok(keys) => Verifier::new(self.header.clone(), self.signature, &keys),
            Err(e) => Err(e),
        };
        match built {
            Ok(verifier) => {
                *self.verifier.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(verifier);
            }
            Err(e) => tracing::warn!("kept the webhook secret read before: {e}"),
        }
    }

    /// Puts one event on the bus.
    async fn publish(&self, detail_type: &str, detail: &Detail<'_>) -> Result<(), ApiError> {
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

/// The credentials Rollee is given, from the secret's current version.
pub async fn read_credentials(
    origin: &SecretOrigin,
    sdk_config: &aws_config::SdkConfig,
) -> Result<Credentials, String> {
    Ok(SecretReader::new(origin, sdk_config)?.read().await?.current)
}

/// The body of Rollee's `PUT /webhooks/{type}` (each of the five types): the documented
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
        crate::metrics::init(config.metrics_namespace.as_deref(), "webhook");
        let http = crate::http::client(TIMEOUTS)?;
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

#[derive(Serialize)]
struct Accepted {
    /// `published`, or `duplicate` for a delivery already published.
    status: &'static str,
    delivery_id: String,
}

/// `POST /webhooks/rollee`: [`receive`], its outcome counted
/// (`WebhookDeliveries` by outcome: accepted, duplicate, rejected by us
/// (401, 400, 413), failed (ours: 409, 5xx; Rollee delivers again)).
pub async fn handle(receiver: &Receiver, request: &Request) -> Result<Response<Body>, ApiError> {
    let result = receive(receiver, request).await;
    let outcome = match &result {
        Ok((_, true)) => WebhookOutcome::Duplicate,
        Ok((_, false)) => WebhookOutcome::Accepted,
        Err(e) if e.status().is_client_error() && e.problem != Problem::InProgress => {
            WebhookOutcome::Rejected
        }
        Err(_) => WebhookOutcome::Failed,
    };
    crate::metrics::webhook_delivery(outcome);
    result.map(|(response, _)| response)
}

/// The answer to a delivery, and whether it was a duplicate.
async fn receive(
    receiver: &Receiver,
    request: &Request,
) -> Result<(Response<Body>, bool), ApiError> {
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
    // A delivery older than its record is kept could be a captured one
    // replayed: refused where its own date says so.
    if let Some(at) = event.dated_at()
        && (time::OffsetDateTime::now_utc() - at).whole_seconds() > DELIVERY_MEMORY.as_secs() as i64
    {
        tracing::warn!(
            reason = "the delivery is dated before the replay window",
            "webhook refused"
        );
        return Err(ApiError::bad_request(format!(
            "The delivery is dated more than {} days ago: it is not published.",
            DELIVERY_MEMORY.as_secs() / 86_400
        )));
    }
    let digest = auth::body_digest(body);
    let funnel = (Category::of(&event.action) == Category::ConnectPage)
        .then(|| kind::funnel_step(&event.body));
    let action = event.action.clone();
    let action = action.as_str();
    let known_action = event.is_known();
    let claim = match receiver.store.claim_delivery(&digest).await? {
        Claim::Claimed(claim) => claim,
        Claim::Published => {
            tracing::info!(action, delivery_id = %digest, "duplicate delivery: already published");
            let response = json(
                StatusCode::OK,
                &Accepted {
                    status: "duplicate",
                    delivery_id: digest,
                },
            )?;
            return Ok((response, true));
        }
        // Not a failure to hide from Rollee: the request holding the claim
        // answers its own delivery (and that one is retried if it fails).
        Claim::InProgress => {
            return Err(ApiError::new(
                Problem::InProgress,
                "The same delivery is being published right now.",
            )
            .with_retry_after(Some(5)));
        }
    };
    match publish(receiver, event, &digest).await {
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
            return Err(e);
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
    )?;
    Ok((response, false))
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
    receiver.publish(&event.action, &detail).await?;
    Ok(owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_rereads_unless_the_last_reread_it_asked_for_ended_within_the_pace() {
        let now = Instant::now() + Duration::from_secs(60);
        let ago = |ms: u64| Some(now - Duration::from_millis(ms));
        let pace = SECRET_REREAD_PACE.as_millis() as u64;
        for (after_refusal, due) in [
            (None, true),
            (ago(0), false),
            (ago(pace - 1), false),
            (ago(pace), true),
            (ago(30_000), true),
        ] {
            assert_eq!(
                refusal_may_reread(after_refusal, now),
                due,
                "{after_refusal:?}"
            );
        }
    }

    #[test]
    fn the_previous_value_is_accepted_for_the_grace_after_the_current_one_was_created() {
        let grace = PREVIOUS_SECRET_GRACE.as_secs() as i64;
        let now = 1_800_000_000;
        for (created, left) in [
            // Just created, a minute ago, a second before the end, at the end, long ago.
            (Some(now), Some(grace)),
            (Some(now - 60), Some(grace - 60)),
            (Some(now - grace + 1), Some(1)),
            (Some(now - grace), None),
            (Some(now - 86_400), None),
            // No creation date: no grace.
            (None, None),
            // Created "in the future": the function's clock is behind
            // Secrets Manager's. That is just created, not never.
            (Some(now + 5), Some(grace)),
            (Some(now + 3_600), Some(grace)),
        ] {
            assert_eq!(
                grace_left(created, now),
                left.map(|s| Duration::from_secs(s as u64)),
                "created {created:?}"
            );
        }
    }
}

//! The mechanics of one Rollee call: its attempts within the request's
//! deadline, the JWT re-read after a 401, the one retry ([`super::retry`]
//! decides), and its metric.

use std::time::Duration;

use reqwest::{Method, StatusCode, header};
use serde_json::Value;
use tokio::time::Instant;
use uuid::Uuid;

use super::endpoint::Endpoint;
use super::report::{Tally, log};
use super::retry::{self, Attempt, Decision, Progress};
use super::{RolleeClient, RolleeClock, RolleeError, parse_http_date, parse_retry_after};
use crate::http::{self, BodyError, MAX_RESPONSE_BYTES};
use crate::token::CurrentToken;

impl RolleeClient {
    /// One operation: attempts, the 401 re-read, the retry, all before
    /// `deadline`; the answer, and Rollee's clock when it said.
    pub(super) async fn call(
        &self,
        endpoint: &Endpoint,
        id: Option<Uuid>,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<(Value, Option<RolleeClock>), RolleeError> {
        let mut path = endpoint.path.to_owned();
        if let Some(id) = id {
            path = path.replace("{id}", &id.to_string());
        }
        let url = format!("{}{path}", self.base.as_str().trim_end_matches('/'));
        self.call_at(endpoint, &url, body, deadline).await
    }

    /// [`RolleeClient::call`] at a URL of the caller's, and its metric: the
    /// endpoint, how it ended, its attempts (and of them the 401s, 429s and
    /// 5xx), the JWT re-reads it asked for, its whole duration.
    pub(super) async fn call_at(
        &self,
        endpoint: &Endpoint,
        url: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<(Value, Option<RolleeClock>), RolleeError> {
        let started = Instant::now();
        let mut tally = Tally::default();
        let result = self
            .attempts(endpoint, url, body, deadline, &mut tally)
            .await;
        tally.emit(endpoint, &result, started.elapsed());
        result
    }

    /// The attempts of one call, counted in `tally`.
    async fn attempts(
        &self,
        endpoint: &Endpoint,
        url: &str,
        body: Option<&Value>,
        deadline: Instant,
        tally: &mut Tally,
    ) -> Result<(Value, Option<RolleeClock>), RolleeError> {
        let name = endpoint.path;
        let mut token = self.tokens.current().await;
        let mut progress = Progress::default();
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(RolleeError::Timeout);
            }
            let started = Instant::now();
            let attempt = self
                .attempt(
                    &endpoint.method,
                    url,
                    body,
                    &token,
                    remaining.min(self.options.attempt_timeout),
                )
                .await;
            let elapsed_ms = started.elapsed().as_millis() as u64;
            tally.attempt(&attempt);
            progress.time_for_a_retry = deadline.saturating_duration_since(Instant::now())
                > self.options.retry_pause * 2 + self.options.connect_timeout;
            let decision = match retry::decide(&attempt, endpoint.idempotent, progress) {
                // A JWT that is never re-read (the rotation's, ROLLEE_TOKEN): a 401 is final.
                Decision::Reauthenticate if !self.tokens.rereads() => {
                    Decision::Fail(RolleeError::Unauthorized)
                }
                decision => decision,
            };
            log(endpoint, &attempt, &decision, elapsed_ms);
            match decision {
                Decision::Accept => {
                    if let Attempt::Json(value, clock) = attempt {
                        return Ok((value, clock));
                    }
                    return Err(RolleeError::Malformed("no JSON answer"));
                }
                Decision::Retry => {
                    progress.retried = true;
                    self.pause().await;
                }
                Decision::Reauthenticate => {
                    progress.reauthenticated = true;
                    tally.reread();
                    let reload = self.tokens.reload_after(&token);
                    let reloaded = tokio::time::timeout_at(deadline, reload)
                        .await
                        .map_err(|_| RolleeError::Timeout)??;
                    match reloaded {
                        Some(fresh) => token = fresh,
                        None => return Err(RolleeError::Unauthorized),
                    }
                }
                Decision::Fail(error) => {
                    tracing::debug!(endpoint = name, %error, "Rollee call failed");
                    return Err(error);
                }
            }
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &str,
        body: Option<&Value>,
        token: &CurrentToken,
        timeout: Duration,
    ) -> Attempt {
        let mut request = self
            .http
            .request(method.clone(), url)
            .timeout(timeout)
            .bearer_auth(token.jwt.expose())
            .header(header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return failure(e),
        };
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            return Attempt::Unauthorized;
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            return Attempt::RateLimited(retry_after);
        }
        if !status.is_success() {
            return Attempt::Status(status.as_u16());
        }
        let clock = response
            .headers()
            .get(header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date)
            .map(|date| RolleeClock {
                date,
                received: Instant::now(),
            });
        match http::read_capped(response, MAX_RESPONSE_BYTES).await {
            // An empty 2xx (a 204, say) is JSON `null`: no endpoint that
            // needs an answer accepts it, and one that needs none is done.
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => {
                Attempt::Json(Value::Null, clock)
            }
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(|value| Attempt::Json(value, clock))
                .unwrap_or(Attempt::Malformed("the body is not JSON")),
            Err(BodyError::TooLarge) => Attempt::Malformed("the body is over the size limit"),
            Err(BodyError::Read(e)) => failure(e),
        }
    }

    async fn pause(&self) {
        let base = self.options.retry_pause;
        let jitter = base.mul_f64(fastrand::f64());
        tokio::time::sleep(base + jitter).await;
    }
}

/// A transport failure, classified: whether the request may have reached Rollee.
fn failure(e: reqwest::Error) -> Attempt {
    // A connect timeout is both: it is a connection that was never made,
    // so the request never left and may be retried.
    if e.is_timeout() && !e.is_connect() {
        return Attempt::Timeout;
    }
    // reqwest's message names the URL, which for a refresh holds a session UUID.
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    if e.is_connect() {
        Attempt::NotSent(message)
    } else {
        Attempt::Lost(message)
    }
}

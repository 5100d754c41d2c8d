//! An EventBridge bus on moto with a rule that sends every event this server
//! publishes (`source` `rollee.connect`) to an SQS queue, and a reader of
//! that queue: how the tests and `make dev` see what was published.
//!
//! SQS is spoken over HTTP directly (its JSON protocol; moto checks no
//! signature), so that no SQS SDK is built for this alone.

use std::time::Duration;

use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::Target;
use rollee_shared::webhook::EVENT_SOURCE;
use serde_json::{Value, json};

/// A bus whose events reach a queue.
#[derive(Debug, Clone)]
pub struct Bus {
    pub name: String,
    pub queue_url: String,
    endpoint: String,
    http: reqwest::Client,
}

/// Creates bus `name`, queue `<name>-events` and the rule between them on the
/// moto at `endpoint`; what exists already is kept.
pub async fn create(
    sdk_config: &aws_config::SdkConfig,
    endpoint: &str,
    name: &str,
) -> Result<Bus, String> {
    let events = aws_sdk_eventbridge::Client::new(sdk_config);
    let error = |what: &str, e: &dyn std::fmt::Display| format!("{what} {name}: {e}");
    if events.describe_event_bus().name(name).send().await.is_err() {
        events
            .create_event_bus()
            .name(name)
            .send()
            .await
            .map_err(|e| error("creating bus", &DisplayErrorContext(&e)))?;
    }
    let bus = Bus {
        name: name.to_owned(),
        queue_url: String::new(),
        endpoint: endpoint.trim_end_matches('/').to_owned(),
        // reqwest's own default would need a TLS provider installed process-wide.
        http: rollee_shared::http::client(
            rollee_shared::rollee::ClientOptions::default().timeouts(),
        )?,
    };
    let created = bus
        .sqs(
            "CreateQueue",
            json!({ "QueueName": format!("{name}-events") }),
        )
        .await?;
    let queue_url = created["QueueUrl"]
        .as_str()
        .ok_or("CreateQueue gave no QueueUrl")?
        .to_owned();
    let bus = Bus { queue_url, ..bus };
    let attributes = bus
        .sqs(
            "GetQueueAttributes",
            json!({ "QueueUrl": bus.queue_url, "AttributeNames": ["QueueArn"] }),
        )
        .await?;
    let queue_arn = attributes["Attributes"]["QueueArn"]
        .as_str()
        .ok_or("GetQueueAttributes gave no QueueArn")?;
    let rule = format!("{name}-to-queue");
    events
        .put_rule()
        .name(&rule)
        .event_bus_name(name)
        .event_pattern(json!({ "source": [EVENT_SOURCE] }).to_string())
        .send()
        .await
        .map_err(|e| error("creating the rule of", &DisplayErrorContext(&e)))?;
    let target = Target::builder()
        .id("queue")
        .arn(queue_arn)
        .build()
        .map_err(|e| error("the target of", &e))?;
    events
        .put_targets()
        .rule(&rule)
        .event_bus_name(name)
        .targets(target)
        .send()
        .await
        .map_err(|e| error("targeting the queue of", &DisplayErrorContext(&e)))?;
    Ok(bus)
}

impl Bus {
    async fn sqs(&self, action: &str, body: Value) -> Result<Value, String> {
        let response = self
            .http
            .post(&self.endpoint)
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/eu-west-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
            )
            .header("x-amz-target", format!("AmazonSQS.{action}"))
            .header("content-type", "application/x-amz-json-1.0")
            .body(body.to_string())
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| format!("SQS {action}: {e}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("SQS {action}: {e}"))?;
        if !status.is_success() {
            return Err(format!("SQS {action}: {status} {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("SQS {action}: {e}: {text}"))
    }

    /// Takes every event now in the queue (each is read once), oldest first
    /// as far as SQS keeps order: the EventBridge envelopes, `detail` parsed.
    pub async fn take(&self) -> Result<Vec<Value>, String> {
        let mut events = Vec::new();
        loop {
            let received = self
                .sqs(
                    "ReceiveMessage",
                    json!({
                        "QueueUrl": self.queue_url,
                        "MaxNumberOfMessages": 10,
                        "VisibilityTimeout": 3600,
                    }),
                )
                .await?;
            let Some(messages) = received["Messages"].as_array().filter(|m| !m.is_empty()) else {
                return Ok(events);
            };
            for message in messages {
                let body = message["Body"].as_str().unwrap_or_default();
                events.push(serde_json::from_str(body).map_err(|e| format!("{e}: {body}"))?);
                self.sqs(
                    "DeleteMessage",
                    json!({ "QueueUrl": self.queue_url, "ReceiptHandle": message["ReceiptHandle"] }),
                )
                .await?;
            }
        }
    }

    /// Waits until at least `n` events are in the queue (or `timeout`), and takes them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Result<Vec<Value>, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut events = self.take().await?;
        while events.len() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            events.extend(self.take().await?);
        }
        Ok(events)
    }
}

//! The EventBridge bus this server publishes to: webhook deliveries and its
//! own events (`user.erased`). Every event has [`EVENT_SOURCE`].

use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::problem::{ApiError, Problem};

/// The `source` of every event this server puts on the bus.
pub const EVENT_SOURCE: &str = "rollee.connect";

/// One bus, by name.
#[derive(Debug, Clone)]
pub struct Bus {
    client: aws_sdk_eventbridge::Client,
    name: String,
}

impl Bus {
    pub fn new(sdk_config: &aws_config::SdkConfig, name: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_eventbridge::Client::new(sdk_config),
            name: name.into(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Puts one event (`detail`: a JSON object) on the bus; its failure is a
    /// 503 problem whose detail says what the client does next.
    pub async fn put(
        &self,
        detail_type: &str,
        detail: String,
        then: &'static str,
    ) -> Result<(), ApiError> {
        let unavailable =
            |cause: String| ApiError::new(Problem::EventBusUnavailable, then).with_cause(cause);
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.name)
            .source(EVENT_SOURCE)
            .detail_type(detail_type)
            .detail(detail)
            .build();
        let output = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| {
                unavailable(aws_sdk_eventbridge::error::DisplayErrorContext(&e).to_string())
            })?;
        if output.failed_entry_count() > 0 {
            let code = output
                .entries()
                .first()
                .and_then(|e| e.error_code())
                .unwrap_or("unknown");
            return Err(unavailable(format!(
                "EventBridge refused the event: {code}"
            )));
        }
        Ok(())
    }

    /// Whether the bus exists: `DescribeEventBus`, a read of the bus's own
    /// description (a self-test's check).
    pub async fn describe(&self) -> Result<String, String> {
        self.client
            .describe_event_bus()
            .name(&self.name)
            .send()
            .await
            .map(|_| format!("event bus {} exists", self.name))
            .map_err(|e| {
                format!(
                    "event bus {}: {}",
                    self.name,
                    aws_sdk_eventbridge::error::DisplayErrorContext(&e)
                )
            })
    }
}

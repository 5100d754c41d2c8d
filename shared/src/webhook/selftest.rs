//! The webhook function's self-test (see [`crate::selftest`]): the webhook
//! secret, the ownership table, the event bus. It calls no Rollee.

use std::time::Instant;

use super::Receiver;
use crate::selftest::{self, Report, SelfTest, check};

impl SelfTest for Receiver {
    async fn self_test(&self) -> Report {
        let started = Instant::now();
        let secret = check("webhook_secret", async {
            self.secret
                .read()
                .await
                .map(|keys| match keys.previous {
                    Some(_) => "read and parsed (the previous version is still accepted)",
                    None => "read and parsed",
                })
                .map(str::to_owned)
        })
        .await;
        let table = selftest::table(&self.store).await;
        // DescribeEventBus: a read of the bus's own description, allowed on
        // that one bus only (one more action in the role). PutEvents cannot
        // tell: an empty batch is invalid (Entries needs at least one), so its
        // refusal says nothing about the bus, and a real entry would be an
        // event every subscriber receives.
        let bus = check("bus", self.bus.describe()).await;
        Report::new("webhook", started, vec![secret, table, bus])
    }
}

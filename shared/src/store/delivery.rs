//! Webhook deliveries: Rollee delivers at least once and retries for up to
//! three days, so each delivery is remembered (by the SHA-256 of its body)
//! for longer than that, and a repeat is answered without publishing again.
//!
//! A delivery is first *claimed* (for [`DELIVERY_LEASE`]), then published,
//! then marked *published*. A publish that fails releases the claim, so that
//! Rollee's retry publishes it; a process that dies between claim and publish
//! leaves a claim that the next retry takes over once its lease is past.

use std::time::Duration;

use uuid::Uuid;

use super::lease::Lease;
use super::{Store, StoreError, TTL, held, measured, n, now, s, store_error, text};

/// How long a delivery is remembered: far beyond Rollee's three days of
/// retries, so that a captured delivery replayed later is a duplicate, and
/// one replayed after this is refused by its own date where it has one
/// (`webhook::event::Event::dated_at`). Storage is the cost: about 200 bytes
/// a record, so a million deliveries hold 0.2 GB for 35 days, about $0.06 at
/// DynamoDB's $0.25 per GB-month.
pub const DELIVERY_MEMORY: Duration = Duration::from_secs(35 * 86_400);
/// How long a claim holds before a retry may take it over: longer than the
/// function's timeout, so that a publish still in flight ends first.
pub const DELIVERY_LEASE: Duration = Duration::from_secs(30);

/// What the table says of a delivery when it is claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// New (or its earlier claim lapsed): this request publishes it, under
    /// this claim id (only it may release the claim).
    Claimed(Uuid),
    /// Already published: a duplicate.
    Published,
    /// Another request is publishing it right now.
    InProgress,
}

fn key(digest: &str) -> super::AttributeValue {
    s(format!("delivery#{digest}"))
}

impl Store {
    /// Claims the delivery whose body hashes to `digest` (lowercase hex).
    pub async fn claim_delivery(&self, digest: &str) -> Result<Claim, StoreError> {
        let claim = Uuid::new_v4();
        let expires_at = now() + DELIVERY_MEMORY.as_secs();
        match self
            .claim_lease(key(digest), claim, DELIVERY_LEASE, Some(expires_at))
            .await?
        {
            Lease::Taken => Ok(Claim::Claimed(claim)),
            Lease::Held(item) if text(&item, "state") == Some("published") => Ok(Claim::Published),
            Lease::Held(_) => Ok(Claim::InProgress),
        }
    }

    /// Marks a claimed delivery as published.
    pub async fn delivery_published(&self, digest: &str) -> Result<(), StoreError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(super::KEY, key(digest))
            .item("state", s("published"))
            .item(TTL, n(now() + DELIVERY_MEMORY.as_secs()));
        measured("PutItem", request.send())
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Gives up this request's claim after its publish failed, so that
    /// Rollee's retry is not taken for a duplicate. Never removes a published
    /// delivery, nor a claim another request took over after this one lapsed.
    pub async fn release_delivery(&self, digest: &str, claim: Uuid) -> Result<(), StoreError> {
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(super::KEY, key(digest))
            .condition_expression("#state = :claimed AND claim = :mine")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":claimed", s("claimed"))
            .expression_attribute_values(":mine", s(claim.to_string()));
        let result = measured("DeleteItem", request.send()).await;
        // Refused: published, or another request's claim now.
        held(result).map(drop)
    }
}

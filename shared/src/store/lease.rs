//! One claim with a lease, for everything that must happen once: a caller's
//! first `POST /users` (creating its Rollee user) and a webhook delivery
//! (publishing it). A claim is an item `state = claimed`, `claim` (its id:
//! only its holder may release it), `lease_until`; it is taken when no item
//! is there or the claim there has lapsed. A refusal says what holds the
//! key, from DynamoDB's own answer (`ReturnValuesOnConditionCheckFailure =
//! ALL_OLD`): no second read.

use std::time::Duration;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use uuid::Uuid;

use super::calls::{measured, store_error};
use super::{AttributeValue, Item, KEY, Store, StoreError, TTL, n, now, s};

/// What a claim came to.
#[derive(Debug)]
pub(super) enum Lease {
    /// Taken, under the claim id given.
    Taken,
    /// Refused: the item holding the key (a live claim, or what its owner
    /// wrote there).
    Held(Item),
}

impl Store {
    /// Claims `key` with id `claim` for `lease`; `expires_at`: the item's
    /// TTL (epoch seconds), when it has one.
    pub(super) async fn claim_lease(
        &self,
        key: AttributeValue,
        claim: Uuid,
        lease: Duration,
        expires_at: Option<u64>,
    ) -> Result<Lease, StoreError> {
        let now = now();
        let mut item = Item::from([
            (KEY.to_owned(), key),
            ("state".to_owned(), s("claimed")),
            ("claim".to_owned(), s(claim.to_string())),
            ("lease_until".to_owned(), n(now + lease.as_secs())),
        ]);
        if let Some(at) = expires_at {
            item.insert(TTL.to_owned(), n(at));
        }
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(#pk) OR (#state = :claimed AND lease_until < :now)",
            )
            .expression_attribute_names("#pk", KEY)
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":claimed", s("claimed"))
            .expression_attribute_values(":now", n(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        match measured("PutItem", request.send()).await {
            Ok(_) => Ok(Lease::Taken),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(refused)) => {
                    Ok(Lease::Held(refused.item().cloned().unwrap_or_default()))
                }
                _ => Err(store_error(e)),
            },
        }
    }
}

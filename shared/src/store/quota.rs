//! A caller's quota of sessions a minute: one item per caller and minute,
//! counted under its limit in one conditional update (alone, or in the
//! new-session transaction), and the keys an erasure deletes.

use super::calls::{condition_failed, condition_failed_or_conflicted, conflicted, held, judged};
use super::{AttributeValue, Item, KEY, Store, StoreError, TTL, n, now, s};

impl Store {
    /// Counts one session minted by `sub` in the current minute. `Err(seconds)`
    /// inside: over the quota, to retry after that many seconds.
    pub async fn count_session(&self, sub: &str) -> Result<Result<(), u64>, StoreError> {
        let now = now();
        let mut conflicts = 0;
        loop {
            let quota = self.quota_count(sub, now);
            // A conflict that will be sent again is counted as an answer: only
            // the table's last word on this request can be its failure.
            let answered = if conflicts < CONFLICT_RETRIES {
                condition_failed_or_conflicted
            } else {
                condition_failed
            };
            let result = judged(
                "UpdateItem",
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .key(KEY, quota.key)
                    .update_expression(QuotaCount::UPDATE)
                    .condition_expression(QuotaCount::CONDITION)
                    .set_expression_attribute_names(Some(quota.names))
                    .set_expression_attribute_values(Some(quota.values))
                    .send(),
                answered,
            )
            .await;
            // The item is in another request's transaction (the caller's own
            // concurrent new session): DynamoDB refuses the update, and the
            // SDK does not retry that error.
            if let Err(e) = &result
                && conflicted(e)
                && conflicts < CONFLICT_RETRIES
            {
                conflicts += 1;
                after_a_conflict().await;
                continue;
            }
            return Ok(if held(result)? {
                Ok(())
            } else {
                Err(60 - now % 60)
            });
        }
    }
}

/// How often a quota update that collided with another request's
/// transaction on the same item is sent again.
pub(super) const CONFLICT_RETRIES: usize = 2;

/// A pause of 5 to 25 ms before a write that collided with another request's
/// transaction is sent again, so that the two do not collide once more.
pub(super) async fn after_a_conflict() {
    let pause = std::time::Duration::from_millis(5).mul_f64(1.0 + 4.0 * fastrand::f64());
    tokio::time::sleep(pause).await;
}

/// One session counted in `sub`'s quota item of the current minute, the
/// same in a lone update and in a transaction: under the limit, or refused.
pub(super) struct QuotaCount {
    pub(super) key: AttributeValue,
    pub(super) names: std::collections::HashMap<String, String>,
    pub(super) values: Item,
}

impl QuotaCount {
    pub(super) const UPDATE: &str = "ADD n :one SET #ttl = :ttl";
    pub(super) const CONDITION: &str = "attribute_not_exists(n) OR n < :limit";
}

impl Store {
    pub(super) fn quota_count(&self, sub: &str, now: u64) -> QuotaCount {
        let minute = now / 60;
        QuotaCount {
            key: s(format!("quota#{sub}#{minute}")),
            names: [("#ttl".to_owned(), TTL.to_owned())].into(),
            values: [
                (":one".to_owned(), n(1)),
                (":ttl".to_owned(), n((minute + 2) * 60)),
                (":limit".to_owned(), n(u64::from(self.sessions_per_minute))),
            ]
            .into(),
        }
    }
}

/// The keys of `sub`'s session quota items that may still exist (the
/// current minute and the two before; later ones expire by TTL).
pub fn quota_keys(sub: &str) -> Vec<String> {
    let minute = now() / 60;
    (minute.saturating_sub(2)..=minute)
        .map(|m| format!("quota#{sub}#{m}"))
        .collect()
}

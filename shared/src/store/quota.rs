//! A caller's quota of sessions a minute: one item per caller and minute,
//! counted under its limit in one conditional update (alone, or in the
//! new-session transaction), and the keys an erasure deletes.

use super::calls::{held, measured};
use super::{AttributeValue, Item, KEY, Store, StoreError, TTL, n, now, s};

impl Store {
    /// Counts one session minted by `sub` in the current minute. `Err(seconds)`
    /// inside: over the quota, to retry after that many seconds.
    pub async fn count_session(&self, sub: &str) -> Result<Result<(), u64>, StoreError> {
        let now = now();
        let quota = self.quota_count(sub, now);
        let result = measured(
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
        )
        .await;
        Ok(if held(result)? {
            Ok(())
        } else {
            Err(60 - now % 60)
        })
    }
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

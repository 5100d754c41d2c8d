//! What the flows need of the ownership table, as a trait: [`Store`] (the
//! DynamoDB table) is what runs; [`super::MemoryTable`] keeps the same items in
//! memory, with the same conditions, for unit tests of the flows and
//! handlers that need neither DynamoDB nor moto. What only DynamoDB's
//! condition expressions and index can show stays in the end-to-end tests
//! against moto.

use uuid::Uuid;

use super::lifecycle::AccountOwner;
use super::{CallerRecord, Check, Gate, Hints, SessionRecord, Store, StoreError, UserRecord};

/// The ownership table's operations, as the flows use them (each one is
/// documented on [`Store`]'s method of the same name).
pub trait Table: Send + Sync {
    fn caller(&self, sub: &str) -> impl Future<Output = Result<CallerRecord, StoreError>> + Send;
    fn claim(
        &self,
        sub: &str,
        claim: Uuid,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn release(
        &self,
        sub: &str,
        claim: Uuid,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn complete(
        &self,
        sub: &str,
        claim: Uuid,
        user_id: Uuid,
        session: Option<Uuid>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn adopt(
        &self,
        sub: &str,
        user_id: Uuid,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn forget_user(
        &self,
        sub: &str,
        user_id: Uuid,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn user(
        &self,
        user_id: Uuid,
    ) -> impl Future<Output = Result<Option<UserRecord>, StoreError>> + Send;
    fn session(
        &self,
        session: Uuid,
    ) -> impl Future<Output = Result<Option<SessionRecord>, StoreError>> + Send;
    fn record_session(
        &self,
        sub: &str,
        user_id: Uuid,
        session: Uuid,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn count_session(
        &self,
        sub: &str,
    ) -> impl Future<Output = Result<Result<(), u64>, StoreError>> + Send;
    fn owner_of_account(
        &self,
        account: Uuid,
    ) -> impl Future<Output = Result<Option<AccountOwner>, StoreError>> + Send;
    fn record_accounts(
        &self,
        sub: &str,
        user_id: Uuid,
        accounts: &[Uuid],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn record_account(
        &self,
        sub: &str,
        user_id: Uuid,
        account: Uuid,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn begin_erasure(
        &self,
        sub: &str,
        user_id: Uuid,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn items_of_user(
        &self,
        user_id: Uuid,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
    fn delete_items(&self, keys: &[String]) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn end_erasure(&self, user_id: Uuid) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn gate(
        &self,
        sub: &str,
        check: Check,
    ) -> impl Future<Output = Result<Gate, StoreError>> + Send;
    /// This process's hints of the table's items ([`super::hints`]).
    fn hints(&self) -> &Hints;
}

impl Table for Store {
    async fn caller(&self, sub: &str) -> Result<CallerRecord, StoreError> {
        Store::caller(self, sub).await
    }
    async fn claim(&self, sub: &str, claim: Uuid) -> Result<bool, StoreError> {
        Store::claim(self, sub, claim).await
    }
    async fn release(&self, sub: &str, claim: Uuid) -> Result<(), StoreError> {
        Store::release(self, sub, claim).await
    }
    async fn complete(
        &self,
        sub: &str,
        claim: Uuid,
        user_id: Uuid,
        session: Option<Uuid>,
    ) -> Result<(), StoreError> {
        Store::complete(self, sub, claim, user_id, session).await
    }
    async fn adopt(&self, sub: &str, user_id: Uuid) -> Result<(), StoreError> {
        Store::adopt(self, sub, user_id).await
    }
    async fn forget_user(&self, sub: &str, user_id: Uuid) -> Result<(), StoreError> {
        Store::forget_user(self, sub, user_id).await
    }
    async fn user(&self, user_id: Uuid) -> Result<Option<UserRecord>, StoreError> {
        Store::user(self, user_id).await
    }
    async fn session(&self, session: Uuid) -> Result<Option<SessionRecord>, StoreError> {
        Store::session(self, session).await
    }
    async fn record_session(
        &self,
        sub: &str,
        user_id: Uuid,
        session: Uuid,
    ) -> Result<(), StoreError> {
        Store::record_session(self, sub, user_id, session).await
    }
    async fn count_session(&self, sub: &str) -> Result<Result<(), u64>, StoreError> {
        Store::count_session(self, sub).await
    }
    async fn owner_of_account(&self, account: Uuid) -> Result<Option<AccountOwner>, StoreError> {
        Store::owner_of_account(self, account).await
    }
    async fn record_accounts(
        &self,
        sub: &str,
        user_id: Uuid,
        accounts: &[Uuid],
    ) -> Result<(), StoreError> {
        Store::record_accounts(self, sub, user_id, accounts).await
    }
    async fn record_account(
        &self,
        sub: &str,
        user_id: Uuid,
        account: Uuid,
    ) -> Result<(), StoreError> {
        Store::record_account(self, sub, user_id, account).await
    }
    async fn begin_erasure(&self, sub: &str, user_id: Uuid) -> Result<bool, StoreError> {
        Store::begin_erasure(self, sub, user_id).await
    }
    async fn items_of_user(&self, user_id: Uuid) -> Result<Vec<String>, StoreError> {
        Store::items_of_user(self, user_id).await
    }
    async fn delete_items(&self, keys: &[String]) -> Result<(), StoreError> {
        Store::delete_items(self, keys).await
    }
    async fn end_erasure(&self, user_id: Uuid) -> Result<(), StoreError> {
        Store::end_erasure(self, user_id).await
    }
    async fn gate(&self, sub: &str, check: Check) -> Result<Gate, StoreError> {
        Store::gate(self, sub, check).await
    }
    fn hints(&self) -> &Hints {
        Store::hints(self)
    }
}

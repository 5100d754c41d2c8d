//! The work of the steps that do any: `createSecret` (Rollee's token
//! refresh, stored as the pending version), `testSecret` (one call with the
//! pending JWT) and `finishSecret` (the pending version made current).

use std::collections::HashMap;

use time::OffsetDateTime;
use uuid::Uuid;

use super::secret::{secrets_error, with_jwt};
use super::{AWSCURRENT, AWSPENDING, Done, RotationError, RotationEvent, Rotator, check_renewal};
use crate::rollee::RolleeError;
use crate::token::{log_expiry, parse_secret};

impl Rotator {
    /// `createSecret`: unless the pending version holds a JWT already, Rollee's
    /// token refresh called with the current JWT, its answer checked and
    /// stored as the pending version, in the current value's shape.
    pub(super) async fn create(&self, event: &RotationEvent) -> Result<Done, RotationError> {
        let current_raw = self
            .value(&event.secret_id, AWSCURRENT, None)
            .await?
            .ok_or(RotationError::Unusable(AWSCURRENT))?;
        let current = parse_secret(&current_raw.0).ok_or(RotationError::Unusable(AWSCURRENT))?;
        if self
            .value(&event.secret_id, AWSPENDING, Some(&event.token))
            .await?
            .is_some()
        {
            return Ok(Done::AlreadyCreated);
        }

        let rollee = self.rollee(current.clone());
        let fresh = match rollee
            .refresh_token(&self.config.refresh_url, rollee.deadline())
            .await
        {
            Ok(fresh) => fresh,
            Err(RolleeError::Unauthorized) => return Err(RotationError::RefreshRejected),
            Err(error) => {
                if error.may_have_acted() {
                    tracing::warn!(
                        secret_id = %event.secret_id,
                        "Rollee may have issued a new JWT that never arrived: if Rollee revokes the old JWT on a refresh (not published), the current one may no longer work"
                    );
                }
                return Err(RotationError::Refresh(error));
            }
        };
        check_renewal(&current, &fresh, OffsetDateTime::now_utc())?;
        if fresh == current {
            tracing::warn!(secret_id = %event.secret_id, "Rollee's token refresh gave back the JWT it was called with");
        }
        let value = with_jwt(&current_raw.0, &fresh)?;
        self.secrets
            .put_secret_value()
            .secret_id(&event.secret_id)
            .client_request_token(&event.token)
            .secret_string(value)
            .version_stages(AWSPENDING)
            .send()
            .await
            .map_err(|e| {
                tracing::error!(
                    secret_id = %event.secret_id,
                    "Rollee issued a new JWT but it could not be stored: if Rollee revoked the old JWT with this refresh (not published), store a new JWT by hand"
                );
                secrets_error(e)
            })?;
        log_expiry(&fresh, self.config.warn_days, "new");
        Ok(Done::Created)
    }

    /// `testSecret`: one harmless authenticated call with the pending JWT.
    ///
    /// Rollee publishes no call made to check a JWT, and nothing else that is
    /// both authenticated and without effect, except reading a user. So:
    /// `GET /users/{id}` (published) for a random UUID, which names no user.
    /// Rollee publishes that a wrong JWT gets 401; the answer for an unknown
    /// user is not published and 404 is assumed (as the sandbox does). So 404
    /// (or a user) means "the JWT was accepted", 401 fails the step, and any
    /// other answer fails it too: on doubt, nothing is promoted, and Secrets
    /// Manager tries again later.
    pub(super) async fn test(&self, event: &RotationEvent) -> Result<Done, RotationError> {
        let raw = self
            .value(&event.secret_id, AWSPENDING, Some(&event.token))
            .await?
            .ok_or(RotationError::Unusable(AWSPENDING))?;
        let pending = parse_secret(&raw.0).ok_or(RotationError::Unusable(AWSPENDING))?;
        let rollee = self.rollee(pending);
        match rollee.get_user(Uuid::new_v4(), rollee.deadline()).await {
            Ok(_) | Err(RolleeError::NotFound) => Ok(Done::Tested),
            Err(RolleeError::Unauthorized) => Err(RotationError::Rejected),
            Err(other) => Err(RotationError::Untested(other)),
        }
    }

    /// `finishSecret`: `AWSCURRENT` moved to the pending version (Secrets
    /// Manager then stages the old one `AWSPREVIOUS`), and `AWSPENDING` taken
    /// off it so that the next rotation can start, as AWS's template does.
    pub(super) async fn finish(
        &self,
        event: &RotationEvent,
        versions: &HashMap<String, Vec<String>>,
    ) -> Result<Done, RotationError> {
        // Never promote a version without a usable JWT, whoever calls this step.
        let raw = self
            .value(&event.secret_id, AWSPENDING, Some(&event.token))
            .await?
            .ok_or(RotationError::Unusable(AWSPENDING))?;
        let pending = parse_secret(&raw.0).ok_or(RotationError::Unusable(AWSPENDING))?;
        let current = versions
            .iter()
            .find(|(_, stages)| stages.iter().any(|s| s == AWSCURRENT))
            .map(|(id, _)| id.clone());
        self.secrets
            .update_secret_version_stage()
            .secret_id(&event.secret_id)
            .version_stage(AWSCURRENT)
            .move_to_version_id(&event.token)
            .set_remove_from_version_id(current)
            .send()
            .await
            .map_err(secrets_error)?;
        if let Err(e) = self
            .secrets
            .update_secret_version_stage()
            .secret_id(&event.secret_id)
            .version_stage(AWSPENDING)
            .remove_from_version_id(&event.token)
            .send()
            .await
        {
            // AWSPENDING on the AWSCURRENT version is a state Secrets Manager
            // accepts as a finished rotation: the new JWT is in place.
            tracing::warn!(secret_id = %event.secret_id, error = %secrets_error(e), "AWSCURRENT moved, but AWSPENDING could not be removed from it");
        }
        log_expiry(&pending, self.config.warn_days, "current");
        Ok(Done::Finished)
    }
}

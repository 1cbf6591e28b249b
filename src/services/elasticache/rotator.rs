//! Rotation of ElastiCache (Redis OSS / Valkey RBAC) user passwords, strategy
//! `two-passwords` (see `services::two_passwords`).

use super::{User, api, is, is_valid_id};
use crate::login::Login;
use crate::rotation::secret::arn_resource_name;
use crate::rotation::{FormatError, SecretDoc, ServiceError, StepCx};
use crate::services::two_passwords::{PasswordUsers, UserState};
use async_trait::async_trait;
use aws_sdk_elasticache::Client;
use std::sync::Arc;

pub struct ElastiCacheRotator {
    pub(super) client: Client,
    pub(super) users: User,
    pub(super) login: Arc<Login>,
}

fn state(user: &aws_sdk_elasticache::types::User) -> UserState {
    let auth = user.authentication();
    UserState {
        status: user.status().unwrap_or("unknown").to_owned(),
        auth: auth
            .and_then(|a| a.r#type())
            .map_or("no", |t| t.as_str())
            .to_owned(),
        password_count: auth.and_then(|a| a.password_count()).unwrap_or(0),
    }
}

#[async_trait]
impl PasswordUsers for ElastiCacheRotator {
    const ENGINE: &'static str = "elasticache";
    const SERVICE: &'static str = "ElastiCache";
    const ID_KEY: &'static str = "user_id";

    fn check_user(&self, doc: &mut SecretDoc) -> Result<(), FormatError> {
        if doc.user_id.is_none() {
            // AWS's own rotation template keeps the user's ARN instead of its id.
            doc.user_id = doc
                .user_arn
                .as_deref()
                .and_then(|arn| arn_resource_name(arn, "user"))
                .map(str::to_owned);
        }
        match doc.user_id.as_deref() {
            None => Err(FormatError::missing(
                "user_id",
                "the ElastiCache user id (or \"user_arn\", the user's ARN)",
            )),
            Some(id) if !is_valid_id(id) => Err(FormatError::key(
                "user_id",
                "an ElastiCache user id: lowercase letters, digits and single hyphens, \
                 starting with a letter",
            )),
            Some(_) => Ok(()),
        }
    }

    fn login(&self) -> &Login {
        &self.login
    }

    fn id<'a>(&self, doc: &'a SecretDoc) -> &'a str {
        doc.user_id.as_deref().unwrap_or_default()
    }

    async fn state(&self, id: &str) -> Result<Option<UserState>, ServiceError> {
        Ok(self.users.describe(id).await?.as_ref().map(state))
    }

    async fn wait_active(&self, id: &str, cx: &StepCx) -> Result<UserState, ServiceError> {
        Ok(state(&self.users.wait_active(id, cx).await?))
    }

    async fn set_passwords(&self, id: &str, passwords: Vec<String>) -> Result<bool, ServiceError> {
        match self
            .client
            .modify_user()
            .user_id(id)
            .set_passwords(Some(passwords))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is(&e, |e| e.is_invalid_user_state_fault()) => Ok(false),
            Err(e) => Err(Box::new(api("ModifyUser", e))),
        }
    }
}

//! Rotation of MemoryDB user passwords, strategy `two-passwords` (see
//! `services::two_passwords`). MemoryDB names a user by `username`; there is no separate id.

use super::{MemoryDbUser, api};
use crate::login::Login;
use crate::rotation::secret::arn_resource_name;
use crate::rotation::{FormatError, SecretDoc, ServiceError, StepCx};
use crate::services::is;
use crate::services::rules::is_valid_id;
use crate::services::two_passwords::{PasswordUsers, UserState};
use async_trait::async_trait;
use aws_sdk_memorydb::Client;
use aws_sdk_memorydb::types::{AuthenticationMode, InputAuthenticationType, User};
use std::sync::Arc;

pub struct MemoryDbRotator {
    pub(super) client: Client,
    pub(super) users: MemoryDbUser,
    pub(super) login: Arc<Login>,
}

fn state(user: &User) -> UserState {
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
impl PasswordUsers for MemoryDbRotator {
    const ENGINE: &'static str = "memorydb";
    const SERVICE: &'static str = "MemoryDB";
    const ID_KEY: &'static str = "username";

    fn check_user(&self, doc: &mut SecretDoc) -> Result<(), FormatError> {
        if let Some(arn) = doc.user_arn.as_deref()
            && arn_resource_name(arn, "user") != Some(doc.username.as_str())
        {
            return Err(FormatError::key(
                "user_arn",
                "the ARN of the user named by \"username\"",
            ));
        }
        if !is_valid_id(&doc.username) {
            return Err(FormatError::key(
                "username",
                "a MemoryDB user name: lowercase letters, digits and single hyphens, starting \
                 with a letter",
            ));
        }
        Ok(())
    }

    fn login(&self) -> &Login {
        &self.login
    }

    fn id<'a>(&self, doc: &'a SecretDoc) -> &'a str {
        &doc.username
    }

    async fn state(&self, id: &str) -> Result<Option<UserState>, ServiceError> {
        Ok(self.users.describe(id).await?.as_ref().map(state))
    }

    async fn wait_active(&self, id: &str, cx: &StepCx) -> Result<UserState, ServiceError> {
        Ok(state(&self.users.wait_active(id, cx).await?))
    }

    async fn set_passwords(&self, id: &str, passwords: Vec<String>) -> Result<bool, ServiceError> {
        let mode = AuthenticationMode::builder()
            .r#type(InputAuthenticationType::Password)
            .set_passwords(Some(passwords))
            .build();
        match self
            .client
            .update_user()
            .user_name(id)
            .authentication_mode(mode)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is(&e, |e| e.is_invalid_user_state_fault()) => Ok(false),
            Err(e) => Err(Box::new(api("UpdateUser", e))),
        }
    }
}

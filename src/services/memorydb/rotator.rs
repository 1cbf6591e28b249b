//! Rotation of MemoryDB user passwords, strategy `two-passwords` (see
//! `services::common::two_passwords`). MemoryDB names a user by `username`; there is no
//! separate id.

use super::{User, api};
use crate::error::is;
use crate::rotation::secret::{arn_resource_name, arn_service};
use crate::rotation::{FormatError, SecretDoc, ServiceError};
use crate::services::common::binding;
use crate::services::common::rules::is_valid_id;
use crate::services::common::two_passwords::{PasswordUsers, TwoPasswords, UserState};
use async_trait::async_trait;
use aws_sdk_memorydb::types::{AuthenticationMode, InputAuthenticationType};

const ENGINE: &str = "memorydb";

pub type Rotator = TwoPasswords<User>;

#[async_trait]
impl PasswordUsers for User {
    const ENGINE: &'static str = ENGINE;
    const SERVICE: &'static str = "MemoryDB";
    const ID_KEY: &'static str = "username";

    fn recognises(&self, doc: &SecretDoc) -> bool {
        let arn = doc.str_key("user_arn").ok().flatten();
        arn.and_then(arn_service) == Some(ENGINE)
    }

    fn check_user(&self, doc: &SecretDoc) -> Result<(), FormatError> {
        if let Some(arn) = doc.str_key("user_arn")?
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

    fn id<'a>(&self, doc: &'a SecretDoc) -> &'a str {
        &doc.username
    }

    fn bind_command(user_arn: &str, secret_arn: &str) -> String {
        format!(
            "tag it: aws memorydb tag-resource --resource-arn {user_arn} --tags \
             Key={},Value={secret_arn}",
            binding::USER_TAG
        )
    }

    fn state(user: &Self::Item) -> UserState {
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

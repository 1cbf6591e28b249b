//! Rotation of ElastiCache (Redis OSS / Valkey RBAC) user passwords, strategy
//! `two-passwords` (see `services::common::two_passwords`).

use super::{User, api};
use crate::error::is;
use crate::rotation::secret::{arn_resource_name, arn_service};
use crate::rotation::{FormatError, SecretDoc, ServiceError};
use crate::services::common::binding;
use crate::services::common::rules::is_valid_id;
use crate::services::common::two_passwords::{PasswordUsers, TwoPasswords, UserState};
use async_trait::async_trait;

const ENGINE: &str = "elasticache";

pub type Rotator = TwoPasswords<User>;

/// The user id: `user_id`, or the last part of `user_arn` (AWS's own rotation template keeps
/// the user's ARN instead of its id).
fn user_id(doc: &SecretDoc) -> Result<&str, FormatError> {
    let from_arn = || {
        doc.str_key("user_arn")
            .map(|arn| arn.and_then(|a| arn_resource_name(a, "user")))
    };
    match doc
        .str_key("user_id")?
        .map_or_else(from_arn, |id| Ok(Some(id)))?
    {
        None => Err(FormatError::missing(
            "user_id",
            "the ElastiCache user id (or \"user_arn\", the user's ARN)",
        )),
        Some(id) if !is_valid_id(id) => Err(FormatError::key(
            "user_id",
            "an ElastiCache user id: lowercase letters, digits and single hyphens, starting \
             with a letter",
        )),
        Some(id) => Ok(id),
    }
}

#[async_trait]
impl PasswordUsers for User {
    const ENGINE: &'static str = ENGINE;
    const SERVICE: &'static str = "ElastiCache";
    const ID_KEY: &'static str = "user_id";

    fn recognises(&self, doc: &SecretDoc) -> bool {
        let arn = doc.str_key("user_arn").ok().flatten();
        arn.and_then(arn_service) == Some(ENGINE)
    }

    fn check_user(&self, doc: &SecretDoc) -> Result<(), FormatError> {
        user_id(doc).map(|_| ())
    }

    fn id<'a>(&self, doc: &'a SecretDoc) -> &'a str {
        user_id(doc).unwrap_or_default()
    }

    fn bind_command(user_arn: &str, secret_arn: &str) -> String {
        format!(
            "tag it: aws elasticache add-tags-to-resource --resource-name {user_arn} --tags \
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

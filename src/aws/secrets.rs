//! Secrets Manager: the passwords templates keep there (`PasswordSecretArn`), and the store the
//! rotation protocol works on.

use super::Lazy;
use crate::error::sdk_message;
use crate::redact::{Redactor, Secret};
use crate::rotation::{
    AWSCURRENT, AWSPENDING, PasswordRequest, SecretInfo, SecretStore, StoreError,
};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "could not read secret {arn} (AWSCURRENT): {message}. Check the ARN and that the \
         function may secretsmanager:GetSecretValue on it (and kms:Decrypt for its key)"
    )]
    Read { arn: String, message: String },
    #[error(
        "secret {arn} (AWSCURRENT) must be a JSON object with a string \"password\" key, \
         like {{\"password\": \"...\"}}; {problem}"
    )]
    Shape { arn: String, problem: &'static str },
}

#[derive(Clone)]
pub struct Secrets {
    client: Lazy<aws_sdk_secretsmanager::Client>,
}

impl Secrets {
    pub fn new(client: impl Into<Lazy<aws_sdk_secretsmanager::Client>>) -> Self {
        Self {
            client: client.into(),
        }
    }

    /// The `password` (and `username`, if any) keys of the secret's AWSCURRENT value, and the
    /// secret's full ARN. Asks for the stage explicitly: right after a rotation, an unstaged
    /// read has been seen to return the old version.
    pub async fn current(&self, arn: &str, redactor: &Redactor) -> Result<Current, SecretError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(arn)
            .version_stage("AWSCURRENT")
            .send()
            .await
            .map_err(|e| SecretError::Read {
                arn: arn.to_owned(),
                message: sdk_message(&e),
            })?;
        let shape = |problem| SecretError::Shape {
            arn: arn.to_owned(),
            problem,
        };
        let text = out
            .secret_string()
            .ok_or_else(|| shape("it has no SecretString"))?;
        redactor.add(text);
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|_| shape("its value is not JSON"))?;
        let password = value
            .get("password")
            .ok_or_else(|| shape("the \"password\" key is missing"))?
            .as_str()
            .ok_or_else(|| shape("\"password\" is not a string"))?;
        redactor.add(password);
        Ok(Current {
            password: Secret::new(password),
            arn: out.arn().unwrap_or(arn).to_owned(),
            username: value
                .get("username")
                .and_then(|u| u.as_str())
                .map(str::to_owned),
        })
    }

    /// Sets the secret's tag `key` (where a rotator keeps what it must remember across
    /// invocations).
    pub async fn set_tag(&self, arn: &str, key: &str, value: String) -> Result<(), StoreError> {
        self.client
            .tag_resource()
            .secret_id(arn)
            .tags(
                aws_sdk_secretsmanager::types::Tag::builder()
                    .key(key)
                    .value(value)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| store_error("TagResource", e))?;
        Ok(())
    }
}

/// A secret's AWSCURRENT credentials.
pub struct Current {
    pub password: Secret,
    /// The secret's full ARN.
    pub arn: String,
    /// The user the secret names now: after an alternating rotation, the other user of the
    /// pair.
    pub username: Option<String>,
}

/// Secrets Manager for the rotation protocol.
#[async_trait::async_trait]
impl SecretStore for Secrets {
    async fn describe(&self, secret_id: &str) -> Result<SecretInfo, StoreError> {
        let out = self
            .client
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| store_error("DescribeSecret", e))?;
        Ok(SecretInfo {
            arn: out.arn().unwrap_or(secret_id).to_owned(),
            rotation_enabled: out.rotation_enabled() == Some(true),
            versions: out
                .version_ids_to_stages()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            tags: out
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                .collect(),
        })
    }

    async fn value(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
        stage: &str,
    ) -> Result<Option<Secret>, StoreError> {
        match self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .set_version_id(version_id.map(str::to_owned))
            .version_stage(stage)
            .send()
            .await
        {
            Ok(out) => Ok(Some(Secret::new(out.secret_string().ok_or_else(|| {
                StoreError {
                    op: "GetSecretValue",
                    message: format!(
                        "the {stage} version holds SecretBinary; userkeeper rotates \
                         SecretString JSON values only"
                    ),
                }
            })?))),
            // The version exists (the caller checked) but has no value yet.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(store_error("GetSecretValue", e)),
        }
    }

    async fn random_password(&self, request: &PasswordRequest) -> Result<Secret, StoreError> {
        let out = self
            .client
            .get_random_password()
            .password_length(i64::from(request.length))
            .exclude_characters(request.exclude)
            .include_space(false)
            .require_each_included_type(true)
            .send()
            .await
            .map_err(|e| store_error("GetRandomPassword", e))?;
        out.random_password()
            .map(Secret::new)
            .ok_or_else(|| StoreError {
                op: "GetRandomPassword",
                message: "the answer held no password".into(),
            })
    }

    async fn put_pending(
        &self,
        secret_id: &str,
        token: &str,
        value: &Secret,
        rotation_token: Option<&str>,
    ) -> Result<(), StoreError> {
        self.client
            .put_secret_value()
            .secret_id(secret_id)
            .client_request_token(token)
            .secret_string(value.expose())
            .version_stages(AWSPENDING)
            .set_rotation_token(rotation_token.map(str::to_owned))
            .send()
            .await
            .map_err(|e| store_error("PutSecretValue", e))?;
        Ok(())
    }

    async fn move_current(&self, secret_id: &str, to: &str, from: &str) -> Result<(), StoreError> {
        self.client
            .update_secret_version_stage()
            .secret_id(secret_id)
            .version_stage(AWSCURRENT)
            .move_to_version_id(to)
            .remove_from_version_id(from)
            .send()
            .await
            .map_err(|e| store_error("UpdateSecretVersionStage", e))?;
        Ok(())
    }
}

fn store_error<E, R>(
    op: &'static str,
    e: aws_sdk_secretsmanager::error::SdkError<E, R>,
) -> StoreError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError {
        op,
        message: sdk_message(&e),
    }
}

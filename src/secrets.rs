//! Reads passwords that templates keep in Secrets Manager (`PasswordSecretArn`).

use crate::redact::{Redactor, Secret};
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;

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
    client: aws_sdk_secretsmanager::Client,
}

impl Secrets {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }

    /// The `password` key of the secret's AWSCURRENT value. Asks for the stage explicitly:
    /// right after a rotation, an unstaged read has been seen to return the old version.
    pub async fn current_password(
        &self,
        arn: &str,
        redactor: &Redactor,
    ) -> Result<Secret, SecretError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(arn)
            .version_stage("AWSCURRENT")
            .send()
            .await
            .map_err(|e| SecretError::Read {
                arn: arn.to_owned(),
                message: match e.code() {
                    Some(code) => format!("{code}: {}", e.message().unwrap_or_default()),
                    None => crate::sdk_error_message(&e),
                },
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
        Ok(Secret::new(password))
    }
}

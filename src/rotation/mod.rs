//! The Secrets Manager rotation protocol. This build recognises rotation events and refuses
//! them clearly; the steps themselves are not implemented yet.

use serde::Deserialize;

/// A rotation event. Modelled here because `aws_lambda_events`' type lacks `RotationToken`,
/// which must be passed back on `PutSecretValue`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationEvent {
    pub step: String,
    pub secret_id: String,
    pub client_request_token: String,
    #[serde(default)]
    pub rotation_token: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(
        "rotation step {step} for secret {secret_id}: password rotation is not supported by \
         this build of userkeeper yet; disable rotation on the secret or upgrade the function"
    )]
    Unsupported { step: String, secret_id: String },
}

pub fn handle(event: &RotationEvent) -> Result<serde_json::Value, RotationError> {
    Err(RotationError::Unsupported {
        step: event.step.clone(),
        secret_id: event.secret_id.clone(),
    })
}

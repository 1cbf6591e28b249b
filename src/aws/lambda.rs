//! Lambda's `Invoke`, for continuations (`cfn::continuation`).

use super::Lazy;
use crate::cfn::continuation::Continuer;
use crate::error::sdk_message;
use async_trait::async_trait;
use serde_json::Value;

/// Starts a new invocation of this function: `Invoke` with `InvocationType: Event`.
pub struct SelfInvoke {
    client: Lazy<aws_sdk_lambda::Client>,
}

impl SelfInvoke {
    pub fn new(client: impl Into<Lazy<aws_sdk_lambda::Client>>) -> Self {
        Self {
            client: client.into(),
        }
    }
}

#[async_trait]
impl Continuer for SelfInvoke {
    async fn invoke_async(&self, function_arn: &str, event: &Value) -> Result<(), String> {
        let payload = serde_json::to_vec(event).map_err(|e| e.to_string())?;
        self.client
            .invoke()
            .function_name(function_arn)
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_message(&e))
    }
}

//! Tells the kinds of event apart and routes each to its protocol.

use crate::cfn::{self, Invocation, Provider};
use crate::rotation::{self, Rotation, RotationEvent, SecretStore};
use serde_json::Value;

#[derive(Debug)]
pub enum Event {
    CustomResource(Box<cfn::Request>),
    Rotation(RotationEvent),
}

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(
        "unrecognised event: expected a CloudFormation custom-resource request (with \
         RequestType and ResponseURL) or a Secrets Manager rotation request (with Step, \
         SecretId and ClientRequestToken); got an object with keys [{0}]"
    )]
    Unrecognised(String),
    #[error(transparent)]
    Request(#[from] cfn::request::RequestError),
    #[error("malformed rotation event: {0}")]
    Rotation(String),
    #[error(transparent)]
    RotationStep(#[from] rotation::RotationFailure),
    #[error(transparent)]
    Delivery(#[from] cfn::responder::DeliveryError),
}

/// Decides what `event` is from the keys each protocol always sends.
pub fn classify(event: Value) -> Result<Event, DispatchError> {
    let has = |k: &str| event.get(k).is_some();
    if has("RequestType") && has("ResponseURL") {
        return Ok(Event::CustomResource(Box::new(cfn::Request::from_value(
            event,
        )?)));
    }
    if has("Step") && has("SecretId") && has("ClientRequestToken") {
        return serde_json::from_value(event)
            .map(Event::Rotation)
            .map_err(|e| DispatchError::Rotation(e.to_string()));
    }
    // Name the keys, never the values: an unknown event may carry anything.
    let keys = match &event {
        Value::Object(m) => m.keys().cloned().collect::<Vec<_>>().join(", "),
        _ => String::new(),
    };
    Err(DispatchError::Unrecognised(keys))
}

/// Epoch milliseconds of 2000-01-01: no real deadline is earlier.
const PLAUSIBLE_EPOCH_MS: u64 = 946_684_800_000;

/// The time left before the invocation's deadline, from the runtime API's
/// `Lambda-Runtime-Deadline-Ms` (epoch milliseconds).
///
/// `cargo lambda watch` sends the constant `600000` there, meaning ten minutes from now; read
/// literally it is a deadline in 1970 and every request would time out at once. A value that
/// cannot be a real epoch deadline is therefore taken as relative, so the local loop behaves
/// like Lambda.
pub fn time_left(deadline_ms: u64, now: std::time::SystemTime) -> std::time::Duration {
    if deadline_ms < PLAUSIBLE_EPOCH_MS {
        return std::time::Duration::from_millis(deadline_ms);
    }
    let deadline = std::time::UNIX_EPOCH + std::time::Duration::from_millis(deadline_ms);
    deadline.duration_since(now).unwrap_or_default()
}

pub struct Dispatcher<S> {
    provider: Provider,
    rotation: Rotation<S>,
}

impl<S: SecretStore> Dispatcher<S> {
    pub fn new(provider: Provider, rotation: Rotation<S>) -> Self {
        Self { provider, rotation }
    }

    pub async fn handle(&self, event: Value, inv: &Invocation) -> Result<Value, DispatchError> {
        // Kept whole for a continuation, which re-sends the event as CloudFormation sent it.
        let original = event.clone();
        match classify(event)? {
            Event::CustomResource(req) => Ok(self.provider.handle(&original, *req, inv).await?),
            Event::Rotation(ev) => Ok(self.rotation.handle(&ev, inv.deadline).await?),
        }
    }
}

impl From<DispatchError> for lambda_runtime::Diagnostic {
    fn from(e: DispatchError) -> Self {
        let error_type = match &e {
            DispatchError::Unrecognised(_) => "UnrecognisedEvent",
            DispatchError::Request(_) => "MalformedCustomResourceRequest",
            DispatchError::Rotation(_) => "MalformedRotationEvent",
            DispatchError::RotationStep(_) => "RotationFailed",
            DispatchError::Delivery(cfn::responder::DeliveryError::NotAllowed(_)) => {
                "ResponseUrlRefused"
            }
            DispatchError::Delivery(_) => "ResponseNotDelivered",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classifies_custom_resource_rotation_and_other() {
        let cr = json!({
            "RequestType": "Create", "ResponseURL": "http://127.0.0.1/x",
            "StackId": "s", "RequestId": "r", "LogicalResourceId": "L",
            "ResourceType": "Custom::X", "ResourceProperties": {}
        });
        assert!(matches!(classify(cr).unwrap(), Event::CustomResource(_)));
        let rot = json!({"Step": "createSecret", "SecretId": "arn:s", "ClientRequestToken": "t", "RotationToken": "rt"});
        match classify(rot).unwrap() {
            Event::Rotation(r) => assert_eq!(r.rotation_token.as_deref(), Some("rt")),
            other => panic!("{other:?}"),
        }
        let e = classify(json!({"hello": "world-secret"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("[hello]") && !e.contains("world-secret"), "{e}");
        assert!(classify(json!([1, 2])).is_err());
    }

    #[test]
    fn deadline_is_epoch_ms_or_relative_when_implausible() {
        use std::time::{Duration, UNIX_EPOCH};
        let now = UNIX_EPOCH + Duration::from_millis(1_800_000_000_000);
        assert_eq!(time_left(1_800_000_090_000, now), Duration::from_secs(90));
        assert_eq!(
            time_left(1_799_999_000_000, now),
            Duration::ZERO,
            "past deadline"
        );
        assert_eq!(
            time_left(600_000, now),
            Duration::from_secs(600),
            "cargo lambda watch"
        );
    }

    #[test]
    fn custom_resource_missing_envelope_field_is_named() {
        let cr = json!({"RequestType": "Create", "ResponseURL": "http://127.0.0.1/x"});
        let e = classify(cr).unwrap_err().to_string();
        assert!(e.contains("StackId"), "{e}");
    }
}

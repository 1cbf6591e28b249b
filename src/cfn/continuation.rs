//! Waits longer than one invocation: when a request's work reaches the invocation's deadline
//! with `ServiceTimeout` still to spare, the function invokes itself asynchronously with the
//! same request plus its progress, and the new invocation carries on. Only the invocation that
//! finishes answers CloudFormation, so the response is still sent exactly once.
//!
//! The payload is the original event with one extra key. It holds the ResponseURL (a
//! credential), so it goes to Lambda's Invoke API and nowhere else: never to a log.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;

/// The key under which the progress travels in the continued event.
pub const KEY: &str = "UserkeeperContinuation";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Continuation {
    /// When the first invocation received the request (epoch ms): `ServiceTimeout` counts
    /// from here, across all continuations.
    pub started_at_ms: u64,
    /// 1 for the first continuation.
    pub attempt: u32,
    /// Steps already done that must not be repeated (a broker reboot, say).
    #[serde(default)]
    pub done: BTreeSet<String>,
    /// The physical id a Create made, so that a later failure still names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// The event for the next invocation: `event` with its progress replaced.
pub fn next_event(event: &Value, progress: &Continuation) -> Value {
    let mut next = event.clone();
    if let Value::Object(map) = &mut next {
        map.insert(
            KEY.to_owned(),
            serde_json::to_value(progress).unwrap_or(Value::Null),
        );
    }
    next
}

/// Starts a new invocation of this function (`crate::aws::SelfInvoke` in the Lambda).
#[async_trait]
pub trait Continuer: Send + Sync {
    async fn invoke_async(&self, function_arn: &str, event: &Value) -> Result<(), String>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn next_event_keeps_the_request_and_replaces_progress() {
        let event = json!({"RequestType": "Create", "ResponseURL": "https://s3/x?sig", KEY: {"Attempt": 1}});
        let progress = Continuation {
            started_at_ms: 42,
            attempt: 2,
            done: ["rebooted".to_owned()].into(),
            created: None,
        };
        let next = next_event(&event, &progress);
        assert_eq!(next["RequestType"], "Create");
        assert_eq!(next["ResponseURL"], "https://s3/x?sig");
        assert_eq!(
            next[KEY],
            json!({"StartedAtMs": 42, "Attempt": 2, "Done": ["rebooted"]})
        );
        let back: Continuation = serde_json::from_value(next[KEY].clone()).unwrap();
        assert_eq!(back, progress);
    }
}

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

/// The most invocations one request can take: `ServiceTimeout` is at most 3600 s, and an
/// invocation continues only with at least 2 s of work in it.
pub const MAX_ATTEMPTS: u32 = 1800;
/// Clocks of two invocations may disagree this much.
const CLOCK_SKEW_MS: u64 = 5_000;
/// `ServiceTimeout`'s ceiling: no request is older than this and still answerable.
const SERVICE_TIMEOUT_MAX_MS: u64 = 3_600_000;

impl Continuation {
    /// Checks progress read from an event. Whoever may invoke the function can write it, so
    /// it is not trusted as is: a start in the future would reset the `ServiceTimeout` clock,
    /// an unknown step could skip work, an unbounded attempt count could loop.
    pub fn check(
        &self,
        now_ms: u64,
        known_steps: &[&str],
        could_have_issued: impl Fn(&str) -> bool,
    ) -> Result<(), String> {
        if self.started_at_ms > now_ms + CLOCK_SKEW_MS {
            return Err("StartedAtMs is in the future".into());
        }
        if now_ms.saturating_sub(self.started_at_ms) > SERVICE_TIMEOUT_MAX_MS + CLOCK_SKEW_MS {
            return Err("StartedAtMs is older than any ServiceTimeout allows".into());
        }
        if !(1..=MAX_ATTEMPTS).contains(&self.attempt) {
            return Err(format!("Attempt must be 1 to {MAX_ATTEMPTS}"));
        }
        if let Some(step) = self
            .done
            .iter()
            .find(|s| !known_steps.contains(&s.as_str()))
        {
            return Err(format!(
                "Done names a step this resource type does not record ({} characters)",
                step.len()
            ));
        }
        if let Some(created) = &self.created
            && !could_have_issued(created)
        {
            return Err("Created is not an id this resource type issues".into());
        }
        Ok(())
    }
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

    #[test]
    fn forged_progress_is_refused() {
        let now = 1_800_000_000_000;
        let good = Continuation {
            started_at_ms: now - 60_000,
            attempt: 2,
            done: ["change-sent".to_owned()].into(),
            created: Some("app-user".into()),
        };
        let issued = |id: &str| !id.contains(':');
        let check = |c: &Continuation| c.check(now, &["change-sent"], issued);
        assert_eq!(check(&good), Ok(()));
        let bad = [
            Continuation {
                started_at_ms: now + 3_600_000,
                ..good.clone()
            },
            Continuation {
                started_at_ms: now - 7_200_000,
                ..good.clone()
            },
            Continuation {
                attempt: 0,
                ..good.clone()
            },
            Continuation {
                attempt: u32::MAX,
                ..good.clone()
            },
            Continuation {
                done: ["reboot".to_owned()].into(),
                ..good.clone()
            },
            Continuation {
                created: Some("userkeeper:failed-create:x".into()),
                ..good.clone()
            },
        ];
        for c in bad {
            assert!(check(&c).is_err(), "{c:?}");
        }
    }
}

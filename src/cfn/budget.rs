//! How long a request may work, and how long it may spend answering. Pure arithmetic on
//! durations, so the policy is testable without clocks.

use std::time::Duration;

/// The most we hold back for the PUT (with its retries) out of a long invocation.
const RESPONSE_RESERVE_MAX: Duration = Duration::from_secs(3);
const RESPONSE_RESERVE_MIN: Duration = Duration::from_millis(500);
/// Time kept back at the very end to report the invocation result to the runtime API.
const RUNTIME_RESERVE: Duration = Duration::from_millis(300);
const SERVICE_MARGIN_MIN: Duration = Duration::from_secs(1);
const SERVICE_MARGIN_MAX: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// The Lambda invocation's own deadline.
    Invocation,
    /// The resource's `ServiceTimeout`: how long CloudFormation waits for the response.
    ServiceTimeout,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Work (AWS calls, waits) must stop this long after the request arrived.
    pub work: Duration,
    /// The response must be delivered (or given up on) within this long.
    pub respond: Duration,
    pub limited_by: Limit,
}

impl Budget {
    /// `invocation_left`: time until the Lambda deadline; `service_left`: time until
    /// CloudFormation stops waiting (its `ServiceTimeout` less time already spent).
    pub fn new(invocation_left: Duration, service_left: Duration) -> Self {
        let respond = invocation_left.saturating_sub(RUNTIME_RESERVE);
        let reserve = (invocation_left / 5).clamp(RESPONSE_RESERVE_MIN, RESPONSE_RESERVE_MAX);
        let by_invocation = invocation_left.saturating_sub(reserve);
        // CloudFormation's clock started before ours (the event sat in Lambda's async queue),
        // so keep a margin proportional to the timeout.
        let margin = (service_left / 10).clamp(SERVICE_MARGIN_MIN, SERVICE_MARGIN_MAX);
        let by_service = service_left.saturating_sub(margin);
        if by_service < by_invocation {
            Budget {
                work: by_service,
                respond,
                limited_by: Limit::ServiceTimeout,
            }
        } else {
            Budget {
                work: by_invocation,
                respond,
                limited_by: Limit::Invocation,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn long_invocation_keeps_three_seconds_for_the_response() {
        let b = Budget::new(s(900), s(3600));
        assert_eq!(b.work, s(897));
        assert_eq!(b.respond, s(900) - RUNTIME_RESERVE);
        assert_eq!(b.limited_by, Limit::Invocation);
    }

    #[test]
    fn short_invocation_reserves_a_fifth() {
        let b = Budget::new(s(10), s(3600));
        assert_eq!(b.work, s(8));
    }

    #[test]
    fn service_timeout_wins_when_shorter() {
        let b = Budget::new(s(60), s(8));
        assert_eq!(b.work, s(7));
        assert_eq!(b.limited_by, Limit::ServiceTimeout);
        let b = Budget::new(s(900), s(600));
        assert_eq!(b.work, s(570), "a margin of at most 30 s");
    }

    #[test]
    fn exhausted_budgets_are_zero_not_negative() {
        let b = Budget::new(Duration::from_millis(100), s(3600));
        assert_eq!(b.work, Duration::ZERO);
        assert_eq!(b.respond, Duration::ZERO);
        assert_eq!(Budget::new(s(60), Duration::ZERO).work, Duration::ZERO);
    }
}

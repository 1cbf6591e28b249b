//! Polling until a resource settles. None of the user or user-group operations has an SDK
//! waiter (the service models define waiters only for clusters and replication groups), so
//! this is the one hand-written loop. It never gives up by itself: the caller (the
//! custom-resource provider, or the rotation runner) stops it at the deadline and reports what
//! it was waiting for.

use std::future::Future;
use std::time::Duration;

const FIRST_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(10);

/// Where a wait reports what it is waiting for, so that a timeout can name it.
pub trait Waiting: Sync {
    fn waiting_for(&self, what: String);
}

pub enum Poll<T> {
    Ready(T),
    /// Not yet; the status seen, for the timeout message.
    Pending(String),
}

/// Calls `check` until it is ready, with growing delays; `what` names the wait in a timeout.
pub async fn until<T, E, F, Fut>(cx: &impl Waiting, what: &str, mut check: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, E>>,
{
    cx.waiting_for(what.to_owned());
    let mut delay = FIRST_DELAY;
    loop {
        match check().await? {
            Poll::Ready(v) => return Ok(v),
            Poll::Pending(status) => {
                tracing::debug!(%status, "waiting for {what}");
                cx.waiting_for(format!("{what} (last status: {status})"));
            }
        }
        // Jittered, so that many resources of one stack (or many rotations fired together)
        // do not poll the service in lock-step.
        tokio::time::sleep(delay.mul_f64(0.75 + fastrand::f64() / 2.0)).await;
        delay = (delay * 3 / 2).min(MAX_DELAY);
    }
}

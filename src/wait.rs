//! Polling until a resource settles. None of the user or user-group operations has an SDK
//! waiter (the service models define waiters only for clusters and replication groups), so
//! this is the one hand-written loop. It never gives up by itself: the provider stops it at
//! the request's deadline and reports what it was waiting for.

use crate::cfn::Cx;
use std::future::Future;
use std::time::Duration;

const FIRST_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(10);

pub enum Poll<T> {
    Ready(T),
    /// Not yet; the status seen, for the timeout message.
    Pending(String),
}

/// Calls `check` until it is ready, with growing delays; `what` names the wait in a timeout.
pub async fn until<T, E, F, Fut>(cx: &Cx, what: &str, mut check: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, E>>,
{
    cx.waiting_for(what);
    let mut delay = FIRST_DELAY;
    loop {
        match check().await? {
            Poll::Ready(v) => return Ok(v),
            Poll::Pending(status) => {
                tracing::debug!(%status, "waiting for {what}");
                cx.waiting_for(format!("{what} (last status: {status})"));
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 3 / 2).min(MAX_DELAY);
    }
}

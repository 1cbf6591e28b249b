//! SDK clients built at their first use.
//!
//! Building an SDK client parses its crate's whole endpoint-partition table (~420 thousand
//! instructions each, callgrind): the six clients built up front were a fifth of a cold
//! start's instructions, while an event uses one service and perhaps Secrets Manager. Each
//! client is still built once per process, then shared by every clone of its handle.

use aws_config::SdkConfig;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, LazyLock};

type Make<C> = Box<dyn FnOnce() -> C + Send>;

/// A client, built on the first call through it.
pub struct Lazy<C>(Arc<LazyLock<C, Make<C>>>);

impl<C: 'static> Lazy<C> {
    pub fn new(make: impl FnOnce() -> C + Send + 'static) -> Self {
        Self(Arc::new(LazyLock::new(Box::new(make))))
    }

    /// An SDK client of `sdk`'s configuration, e.g. `Lazy::client(sdk, Client::new)`.
    pub fn client(sdk: &SdkConfig, new: fn(&SdkConfig) -> C) -> Self {
        let sdk = sdk.clone();
        Self::new(move || new(&sdk))
    }
}

/// A client already built (the tests' mocks).
impl<C: Send + 'static> From<C> for Lazy<C> {
    fn from(client: C) -> Self {
        Self::new(move || client)
    }
}

impl<C> Deref for Lazy<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.0
    }
}

impl<C> Clone for Lazy<C> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<C> fmt::Debug for Lazy<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Lazy(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn built_once_on_first_use_and_shared_by_clones() {
        static BUILT: AtomicUsize = AtomicUsize::new(0);
        let lazy = Lazy::new(|| {
            BUILT.fetch_add(1, Ordering::SeqCst);
            String::from("client")
        });
        let clone = lazy.clone();
        assert_eq!(
            BUILT.load(Ordering::SeqCst),
            0,
            "built before its first use"
        );
        assert_eq!(clone.len(), 6);
        assert_eq!(*lazy, "client");
        assert_eq!(BUILT.load(Ordering::SeqCst), 1);
    }
}

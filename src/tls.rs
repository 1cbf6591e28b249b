//! The TLS client configuration every HTTPS client of the process shares: the ResponseURL's,
//! the AWS SDK's and, through `login`, the data-store logins'.
//!
//! Loading the system trust store was the costliest thing a cold start did: PEM-decoding ~150
//! certificates was more than half of the instructions from process start to the first
//! response (callgrind), and each client left to itself loads the store again. Here it is
//! loaded once, on first use (during init, when `main` builds the clients), by a faster
//! reader (`roots`).

mod roots;

use rustls::{ClientConfig, RootCertStore};
use std::sync::{Arc, LazyLock};

#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "no trusted CA certificates: the system trust store has none readable (SSL_CERT_FILE, \
     SSL_CERT_DIR or the distribution's CA bundle)"
)]
pub struct NoTrustedRoots;

struct System {
    roots: Arc<RootCertStore>,
    config: Arc<ClientConfig>,
}

static SYSTEM: LazyLock<System> = LazyLock::new(|| {
    let mut roots = RootCertStore::empty();
    // Unreadable entries are skipped, as every TLS client does.
    roots.add_parsable_certificates(roots::load());
    let roots = Arc::new(roots);
    System {
        config: config_with(roots.clone()),
        roots,
    }
});

/// The CAs the system trusts, found where rustls-native-certs finds them.
pub fn system_roots() -> &'static RootCertStore {
    &SYSTEM.roots
}

/// rustls on aws-lc trusting the system's CAs. A client that sets its own ALPN clones it; the
/// clone shares the parsed roots.
pub fn system() -> Result<Arc<ClientConfig>, NoTrustedRoots> {
    if SYSTEM.roots.is_empty() {
        return Err(NoTrustedRoots);
    }
    Ok(SYSTEM.config.clone())
}

/// The same configuration trusting `roots` instead.
pub fn config_with(roots: Arc<RootCertStore>) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("aws-lc supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

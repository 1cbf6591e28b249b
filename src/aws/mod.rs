//! The AWS services userkeeper uses but does not manage: Secrets Manager (template passwords,
//! and the store the rotation protocol works on) and Lambda (continuing a wait in a new
//! invocation). The protocols reach them through their traits (`rotation::SecretStore`,
//! `cfn::continuation::Continuer`), so `cfn/` and `rotation/` stay free of AWS clients.

pub mod http;
pub mod lambda;
pub mod lazy;
pub mod secrets;

pub use lambda::SelfInvoke;
pub use lazy::Lazy;
pub use secrets::{SecretError, Secrets};

/// The SDK configuration every client shares: region and credentials from the environment,
/// our HTTPS client (`http`), and the retry policy.
///
/// Throttling and 5xx storms are retried with the SDK's jittered exponential backoff (full
/// jitter, capped at 5 s); far more attempts than its default 3, because a stack creating
/// many users, or hundreds of rotations fired together, meets throttling in bursts: the load
/// test (tools/load.py) lost requests at 6 attempts with 20 % and 40 % of calls throttled.
/// Retries never outlast the request: every operation and rotation step is cut at its
/// deadline, which answers (or continues) naming what it was waiting for. Not the SDK's
/// adaptive mode: it is experimental, and its client-side rate limit is per process, while
/// Lambda runs one request per process (`AWS_MAX_ATTEMPTS` overrides).
pub async fn config() -> Result<aws_config::SdkConfig, crate::tls::NoTrustedRoots> {
    let attempts = std::env::var("AWS_MAX_ATTEMPTS")
        .ok()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let mut loader = aws_config::from_env()
        .http_client(http::client()?)
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_max_backoff(std::time::Duration::from_secs(5)),
        );
    if env_credentials(|name| std::env::var(name).ok()) {
        // Lambda's own case. The default chain would answer with these same variables (the
        // environment is its first provider), but building it builds an STS client for its
        // web-identity provider first: 0.54 million instructions of a cold start, unused.
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    Ok(loader.load().await)
}

/// Whether the SDK's environment provider answers, i.e. the default chain stops at it: an
/// access key and a secret key, neither blank (its own rules).
fn env_credentials(var: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| var(name).is_some_and(|v| !v.trim().is_empty());
    set("AWS_ACCESS_KEY_ID") && (set("AWS_SECRET_ACCESS_KEY") || set("SECRET_ACCESS_KEY"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_answers_only_with_both_keys_set_and_not_blank() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(env_credentials(env(&[
            ("AWS_ACCESS_KEY_ID", "A"),
            ("AWS_SECRET_ACCESS_KEY", "s")
        ])));
        assert!(env_credentials(env(&[
            ("AWS_ACCESS_KEY_ID", "A"),
            ("SECRET_ACCESS_KEY", "s")
        ])));
        assert!(!env_credentials(env(&[("AWS_ACCESS_KEY_ID", "A")])));
        assert!(!env_credentials(env(&[
            ("AWS_ACCESS_KEY_ID", " "),
            ("AWS_SECRET_ACCESS_KEY", "s")
        ])));
        assert!(!env_credentials(env(&[
            ("AWS_ACCESS_KEY_ID", "A"),
            ("AWS_SECRET_ACCESS_KEY", "")
        ])));
        assert!(!env_credentials(env(&[])));
    }
}

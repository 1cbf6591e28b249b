//! Log setup: Lambda's own conventions (`AWS_LAMBDA_LOG_FORMAT=JSON`, `AWS_LAMBDA_LOG_LEVEL`,
//! else `RUST_LOG`), as `lambda_runtime`'s default subscriber does, with one difference: at
//! TRACE, `lambda_runtime` logs every raw event, and a custom-resource event carries passwords
//! and the pre-signed ResponseURL. Those crates are held at DEBUG whatever the level asked for.

use lambda_runtime::tracing::subscriber::filter::{Directive, EnvFilter, LevelFilter};
use std::str::FromStr;

/// Crates that print whole payloads at TRACE.
const PAYLOAD_LOGGERS: [&str; 2] = ["lambda_runtime", "lambda_runtime_api_client"];

pub fn init() {
    let format = std::env::var("AWS_LAMBDA_LOG_FORMAT").unwrap_or_default();
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| LevelFilter::from_str(&l).ok())
        .unwrap_or(LevelFilter::INFO);
    let mut filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    for directive in caps(level) {
        filter = filter.add_directive(directive);
    }
    let fmt = lambda_runtime::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter);
    if format.eq_ignore_ascii_case("json") {
        fmt.json().init();
    } else {
        fmt.init();
    }
}

/// Directives that keep the payload loggers at or below DEBUG (and at `level` when lower).
fn caps(level: LevelFilter) -> Vec<Directive> {
    let cap = level.min(LevelFilter::DEBUG);
    PAYLOAD_LOGGERS
        .iter()
        .filter_map(|target| format!("{target}={cap}").parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_is_capped_at_debug_for_payload_loggers() {
        let caps: Vec<String> = caps(LevelFilter::TRACE)
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(
            caps,
            ["lambda_runtime=debug", "lambda_runtime_api_client=debug"]
        );
    }

    #[test]
    fn lower_levels_are_not_raised() {
        let caps: Vec<String> = caps(LevelFilter::INFO)
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(
            caps,
            ["lambda_runtime=info", "lambda_runtime_api_client=info"]
        );
    }
}

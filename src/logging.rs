//! Log setup: Lambda's own conventions (`AWS_LAMBDA_LOG_FORMAT=JSON`, `AWS_LAMBDA_LOG_LEVEL`,
//! else `RUST_LOG`), as `lambda_runtime`'s default subscriber does, with one difference: at
//! TRACE, `lambda_runtime` logs every raw event, and a custom-resource event carries passwords
//! and the pre-signed ResponseURL. Those crates are held at DEBUG whatever the level asked for.
//!
//! The filter is tracing-subscriber's `Targets` (`target=level` lists), not its `EnvFilter`:
//! `EnvFilter` brings a regex engine for span-field filters a Lambda's log settings never use
//! (172 KB of the deployment zip). `RUST_LOG` directives it cannot read, and span-field
//! filters, are ignored one by one, as `EnvFilter::from_env_lossy` ignores what it cannot read.

use std::str::FromStr;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Crates that print whole payloads at TRACE; every target they log under starts with this.
const PAYLOAD_LOGGERS: &str = "lambda_runtime";

pub fn init() {
    let var = |name| std::env::var(name).ok();
    let filter = filter(var("AWS_LAMBDA_LOG_LEVEL"), var("RUST_LOG"));
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_ansi(false);
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry.with(fmt.json()).init();
    } else {
        registry.with(fmt).init();
    }
}

/// The level of `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG` when it is a bare level; else INFO),
/// then `RUST_LOG`'s directives, then the payload loggers at that default level, never above
/// DEBUG.
fn filter(lambda_level: Option<String>, rust_log: Option<String>) -> Targets {
    // tracing reads "" as ERROR: an empty variable is taken as unset.
    let level = [&lambda_level, &rust_log]
        .into_iter()
        .flatten()
        .map(|l| l.trim())
        .find(|l| !l.is_empty())
        .and_then(|l| LevelFilter::from_str(l).ok())
        .unwrap_or(LevelFilter::INFO);
    let mut targets = Targets::new().with_default(level);
    let directives = rust_log.as_deref().unwrap_or_default().split(',');
    // An empty directive would parse as "error".
    for directive in directives.map(str::trim).filter(|d| !d.is_empty()) {
        // A span or field filter (`target[span{field}]=level`) is dropped: Targets would
        // keep its target and level and apply them to every event of the target.
        if directive.contains('[') {
            continue;
        }
        let Ok(parsed) = Targets::from_str(directive) else {
            continue;
        };
        if let Some(default) = parsed.default_level() {
            targets = targets.with_default(default);
        }
        // A directive on a payload logger, or on one of its modules (more specific, so it
        // would win over the cap), is dropped: the cap below decides for those targets.
        targets.extend(
            parsed
                .into_iter()
                .filter(|(target, _)| !target.starts_with(PAYLOAD_LOGGERS)),
        );
    }
    let level = targets.default_level().unwrap_or(level);
    targets.with_target(PAYLOAD_LOGGERS, level.min(LevelFilter::DEBUG))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn of(lambda_level: Option<&str>, rust_log: Option<&str>) -> Targets {
        filter(lambda_level.map(Into::into), rust_log.map(Into::into))
    }

    #[test]
    fn info_by_default() {
        for f in [
            of(None, None),
            of(None, Some("")),
            of(Some("nonsense"), Some(" , ")),
        ] {
            assert!(f.would_enable("userkeeper", &Level::INFO), "{f}");
            assert!(!f.would_enable("userkeeper", &Level::DEBUG), "{f}");
        }
    }

    #[test]
    fn a_bare_rust_log_level_is_the_default_as_env_filter_made_it() {
        let f = of(Some("DEBUG"), Some("warn"));
        for target in ["userkeeper", "lambda_runtime"] {
            assert!(!f.would_enable(target, &Level::INFO), "{f}");
            assert!(f.would_enable(target, &Level::WARN), "{f}");
        }
    }

    #[test]
    fn trace_is_capped_at_debug_for_payload_loggers() {
        for f in [
            of(Some("trace"), None),
            of(None, Some("trace")),
            of(None, Some("trace,lambda_runtime=trace")),
            of(None, Some("trace,lambda_runtime::layers::trace=trace")),
            of(None, Some("trace,lambda_runtime_api_client=trace")),
        ] {
            assert!(f.would_enable("userkeeper", &Level::TRACE), "{f}");
            for target in [
                "lambda_runtime",
                "lambda_runtime::layers::trace",
                "lambda_runtime_api_client",
            ] {
                assert!(f.would_enable(target, &Level::DEBUG), "{f} {target}");
                assert!(!f.would_enable(target, &Level::TRACE), "{f} {target}");
            }
        }
    }

    #[test]
    fn lower_levels_are_not_raised() {
        let f = of(Some("info"), Some("lambda_runtime=debug"));
        assert!(!f.would_enable("lambda_runtime", &Level::DEBUG));
        assert!(f.would_enable("lambda_runtime", &Level::INFO));
    }

    #[test]
    fn rust_log_targets_apply_and_unreadable_directives_are_skipped() {
        let f = of(
            None,
            Some("warn, aws_smithy_runtime=debug,foo[span{x=1}]=trace,bar[{y}]=debug,=nonsense"),
        );
        assert!(f.would_enable("aws_smithy_runtime::client", &Level::DEBUG));
        assert!(!f.would_enable("aws_smithy_runtime", &Level::TRACE));
        assert!(!f.would_enable("userkeeper", &Level::INFO));
        assert!(f.would_enable("userkeeper", &Level::WARN));
        assert!(!f.would_enable("foo", &Level::TRACE));
        assert!(!f.would_enable("bar", &Level::DEBUG));
    }
}

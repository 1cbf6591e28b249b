//! Metrics in CloudWatch Embedded Metric Format: one JSON line on stdout per custom-resource
//! request answered and per rotation step, which Lambda's log pipeline turns into CloudWatch
//! metrics with no API call and no dependency (the specification:
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>).
//!
//! Dimensions are few and fixed (cardinality is cost, and alarms need a stable set): the
//! function's name, and the resource and request type or the engine and step. Dimension values
//! are only values this module chose; no secret ARN, user name, id or request property ever
//! appears in a line (privacy): the companion log line carries those. Hand-written rather than a
//! crate: the format is two fixed JSON shapes, and the EMF crates pull in a metrics framework.

use serde_json::{Value, json};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const NAMESPACE: &str = "userkeeper";
/// A step or request type we did not recognise, as a dimension value.
pub const UNKNOWN: &str = "unknown";

/// The function's name (`AWS_LAMBDA_FUNCTION_NAME`), read once; `local` outside Lambda.
fn function_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("AWS_LAMBDA_FUNCTION_NAME")
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "local".into())
    })
}

/// What one custom-resource request came to.
pub struct Request<'a> {
    /// One of the registered types, or [`UNKNOWN`].
    pub resource_type: &'a str,
    /// Create, Update, Delete, or [`UNKNOWN`].
    pub request_type: &'a str,
    /// `None` for SUCCESS, the error code for FAILED.
    pub error_code: Option<&'a str>,
    /// From the request's first invocation to its answer.
    pub duration: Duration,
    pub continuations: u32,
}

/// What one rotation step came to.
pub struct Step<'a> {
    /// The rotator's engine, or [`UNKNOWN`].
    pub engine: &'a str,
    /// createSecret, setSecret, testSecret, finishSecret, or [`UNKNOWN`].
    pub step: &'a str,
    pub error_code: Option<&'a str>,
    pub duration: Duration,
    /// Whether the step logged in to the data store.
    pub logged_in: bool,
}

impl Request<'_> {
    pub fn line(&self) -> Value {
        let ok = self.error_code.is_none();
        let mut line = json!({
            "_aws": aws(
                &["ResourceType", "RequestType"],
                &[
                    ("RequestSucceeded", "Count"),
                    ("RequestFailed", "Count"),
                    ("RequestDuration", "Milliseconds"),
                    ("Continuations", "Count"),
                ],
            ),
            "Function": function_name(),
            "ResourceType": self.resource_type,
            "RequestType": self.request_type,
            "Outcome": if ok { "SUCCESS" } else { "FAILED" },
            "RequestSucceeded": u8::from(ok),
            "RequestFailed": u8::from(!ok),
            "RequestDuration": millis(self.duration),
            "Continuations": self.continuations,
        });
        if let Some(code) = self.error_code {
            line["ErrorCode"] = json!(safe_code(code));
        }
        line
    }
}

impl Step<'_> {
    pub fn line(&self) -> Value {
        let ok = self.error_code.is_none();
        let mut line = json!({
            "_aws": aws(
                &["Engine", "Step"],
                &[
                    ("RotationStepSucceeded", "Count"),
                    ("RotationStepFailed", "Count"),
                    ("RotationStepDuration", "Milliseconds"),
                    ("LoginTests", "Count"),
                ],
            ),
            "Function": function_name(),
            "Engine": self.engine,
            "Step": self.step,
            "Outcome": if ok { "succeeded" } else { "failed" },
            "RotationStepSucceeded": u8::from(ok),
            "RotationStepFailed": u8::from(!ok),
            "RotationStepDuration": millis(self.duration),
            "LoginTests": u8::from(self.logged_in),
        });
        if let Some(code) = self.error_code {
            line["ErrorCode"] = json!(safe_code(code));
        }
        line
    }
}

/// The `_aws` member: two dimension sets, the function alone (what alarms use) and the
/// function with the two dimensions of this line.
fn aws(dimensions: &[&str; 2], metrics: &[(&str, &str)]) -> Value {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    json!({
        "Timestamp": timestamp,
        "CloudWatchMetrics": [{
            "Namespace": NAMESPACE,
            "Dimensions": [["Function"], ["Function", dimensions[0], dimensions[1]]],
            "Metrics": metrics.iter().map(|(name, unit)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
        }],
    })
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Error codes come from AWS services or from userkeeper: letters, digits, `_` and `.`, at
/// most 64 characters. Anything else (which no service sends) is not written as is.
fn safe_code(code: &str) -> &str {
    let ok = code.len() <= 64
        && code.starts_with(|c: char| c.is_ascii_alphabetic())
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if ok { code } else { "Other" }
}

/// Writes `line` to stdout as one line. Straight to stdout, not through `tracing`: CloudWatch
/// reads a metric only from a line that is the EMF object itself. `println!` (not a raw write)
/// so that the test harness captures it.
#[allow(clippy::print_stdout)]
pub fn emit(line: &Value) {
    println!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_request_line_has_the_contracted_shape() {
        let line = Request {
            resource_type: "Custom::ElastiCacheUser",
            request_type: "Create",
            error_code: Some("InvalidUserStateFault"),
            duration: Duration::from_millis(1234),
            continuations: 2,
        }
        .line();
        let cw = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "userkeeper");
        assert_eq!(
            cw["Dimensions"],
            json!([["Function"], ["Function", "ResourceType", "RequestType"]])
        );
        // Every dimension and metric named is a member of the line.
        for d in ["Function", "ResourceType", "RequestType"] {
            assert!(line[d].is_string(), "{d}");
        }
        for m in cw["Metrics"].as_array().unwrap() {
            assert!(line[m["Name"].as_str().unwrap()].is_number(), "{m}");
        }
        assert_eq!(line["RequestFailed"], 1);
        assert_eq!(line["RequestSucceeded"], 0);
        assert_eq!(line["RequestDuration"], 1234);
        assert_eq!(line["Continuations"], 2);
        assert_eq!(line["Outcome"], "FAILED");
        assert_eq!(line["ErrorCode"], "InvalidUserStateFault");
        assert!(line["_aws"]["Timestamp"].as_u64().unwrap() > 1_700_000_000_000);
    }

    #[test]
    fn a_step_line_counts_the_login() {
        let line = Step {
            engine: "mq",
            step: "testSecret",
            error_code: None,
            duration: Duration::from_millis(7),
            logged_in: true,
        }
        .line();
        assert_eq!(line["RotationStepSucceeded"], 1);
        assert_eq!(line["LoginTests"], 1);
        assert_eq!(line["Outcome"], "succeeded");
        assert!(line.get("ErrorCode").is_none());
    }

    #[test]
    fn an_error_code_is_never_free_text() {
        assert_eq!(safe_code("Throttling"), "Throttling");
        assert_eq!(safe_code("user app-1 refused"), "Other");
        assert_eq!(safe_code(&"A".repeat(65)), "Other");
        assert_eq!(safe_code(""), "Other");
    }
}

//! The ground floor every other module builds its errors on: one line for an error and its
//! causes, the wording of a failed AWS call, and the error type every AWS adapter returns.
//! Built on the smithy runtime's `SdkError`, which every AWS SDK crate shares, so no module
//! borrows another service's crate for its error types.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::error::Error as StdError;

/// The error and its sources, each once, as one line.
pub fn chain(e: &(dyn StdError + 'static)) -> String {
    with_causes(e.to_string(), e.source())
}

/// `head`, then each cause in `source`'s chain that `head` does not already say, joined by
/// ": ". Display forms only: the Debug forms libraries print can carry request details.
pub fn with_causes(head: String, source: Option<&(dyn StdError + 'static)>) -> String {
    let mut out = head;
    let mut source = source;
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// A one-line account of an SDK error that is not a service error (no endpoint, timeout,
/// unreadable response), built from each cause's `Display` only: the `Debug` forms the SDK
/// prints elsewhere are long and can carry request details.
pub fn transport_message<E, R>(e: &SdkError<E, R>) -> String
where
    E: StdError + 'static,
    R: std::fmt::Debug,
{
    let what = match e {
        SdkError::DispatchFailure(_) => {
            "could not reach the service endpoint (a function in a VPC needs a route to it)"
        }
        SdkError::TimeoutError(_) => "the call timed out",
        SdkError::ResponseError(_) => "the service's response could not be read",
        SdkError::ConstructionFailure(_) => "the request could not be built",
        _ => "the call failed",
    };
    with_causes(what.to_owned(), StdError::source(e))
}

/// One line for a failed SDK call: the service's code and message when it answered, else
/// what went wrong on the way.
pub fn sdk_message<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: std::fmt::Debug,
{
    match (e.code(), e.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.to_owned(),
        _ => transport_message(e),
    }
}

/// Whether `e` is the service error `is` recognises (typed, so it works the same for the
/// service's wire format and for errors built in tests).
pub fn is<E, R>(e: &SdkError<E, R>, is: impl Fn(&E) -> bool) -> bool {
    e.as_service_error().is_some_and(is)
}

/// A failed AWS call: which service and operation, and what the service (or the way to it)
/// said. The service's error code is kept apart so that callers can tell transient refusals
/// from final ones without parsing the message.
#[derive(Debug, thiserror::Error)]
#[error("{service} {op} failed: {message}")]
pub struct ApiError {
    pub service: &'static str,
    pub op: &'static str,
    pub code: Option<String>,
    pub message: String,
}

impl ApiError {
    pub fn new<E, R>(service: &'static str, op: &'static str, e: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + StdError + 'static,
        R: std::fmt::Debug,
    {
        Self {
            service,
            op,
            code: e.code().map(str::to_owned),
            message: sdk_message(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);
    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner;

    #[test]
    fn chain_names_each_cause_once() {
        assert_eq!(chain(&Outer(Inner)), "outer: inner");
        assert_eq!(
            with_causes("outer: inner".into(), Some(&Inner)),
            "outer: inner"
        );
    }
}

//! userkeeper: one Lambda that keeps data-store users under CloudFormation and rotates their
//! passwords. `cfn` and `rotation` are the protocols; `services` the AWS services.

pub mod cfn;
pub mod dispatch;
pub mod logging;
pub mod login;
pub mod redact;
pub mod rotation;
pub mod secrets;
pub mod services;
pub mod wait;

/// A one-line account of an SDK error that is not a service error (no endpoint, timeout,
/// unreadable response), built from each cause's `Display` only: the `Debug` forms the SDK
/// prints elsewhere are long and can carry request details.
pub(crate) fn sdk_error_message<E, R>(e: &aws_sdk_secretsmanager::error::SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_secretsmanager::error::SdkError;
    let what = match e {
        SdkError::DispatchFailure(_) => {
            "could not reach the service endpoint (a function in a VPC needs a route to it)"
        }
        SdkError::TimeoutError(_) => "the call timed out",
        SdkError::ResponseError(_) => "the service's response could not be read",
        SdkError::ConstructionFailure(_) => "the request could not be built",
        _ => "the call failed",
    };
    cfn::resource::with_causes(what.to_owned(), std::error::Error::source(e))
}

/// One line for a failed SDK call: the service's code and message when it answered, else
/// what went wrong on the way.
pub(crate) fn api_error_message<E, R>(e: &aws_sdk_secretsmanager::error::SdkError<E, R>) -> String
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
    match (e.code(), e.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.to_owned(),
        _ => sdk_error_message(e),
    }
}

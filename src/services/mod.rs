//! The services userkeeper manages. Each module owns its resource types (and, later, its
//! rotator); adding a service is one module plus one line in [`register_all`].

pub mod elasticache;
pub mod memorydb;
pub mod mq;
pub(crate) mod rules;

use crate::cfn::Provider;
use crate::secrets::Secrets;

/// Registers every service's resource types with the custom-resource provider.
pub fn register_all(provider: &mut Provider, sdk: &aws_config::SdkConfig, secrets: &Secrets) {
    elasticache::register(provider, sdk, secrets);
    memorydb::register(provider, sdk, secrets);
    mq::register(provider, sdk, secrets);
}

/// Whether `e` is the service error `is` recognises (typed, so it works the same for the
/// service's wire format and for errors built in tests).
pub(crate) fn is<E, R>(
    e: &aws_sdk_secretsmanager::error::SdkError<E, R>,
    is: impl Fn(&E) -> bool,
) -> bool {
    e.as_service_error().is_some_and(is)
}

/// A failed AWS call: which service and operation, and what the service (or the way to it)
/// said.
#[derive(Debug, thiserror::Error)]
#[error("{service} {op} failed: {message}")]
pub struct ApiError {
    pub service: &'static str,
    pub op: &'static str,
    pub message: String,
}

pub(crate) fn api_error<E, R>(
    service: &'static str,
    op: &'static str,
    e: aws_sdk_secretsmanager::error::SdkError<E, R>,
) -> ApiError
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    ApiError {
        service,
        op,
        message: crate::api_error_message(&e),
    }
}

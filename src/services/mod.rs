//! The services userkeeper manages. Each module owns its resource types and its rotator;
//! adding a service is one module plus one line in [`register_all`].

pub mod elasticache;
pub mod memorydb;
pub mod mq;
pub(crate) mod rules;
pub(crate) mod two_passwords;

use crate::cfn::Provider;
use crate::login::Login;
use crate::rotation::Rotators;
use crate::secrets::Secrets;
use std::sync::Arc;

/// What every service is built from, once per execution environment.
pub struct Shared<'a> {
    pub sdk: &'a aws_config::SdkConfig,
    pub secrets: &'a Secrets,
    pub login: &'a Arc<Login>,
}

/// Where services register what they handle.
pub struct Registry<'a> {
    pub provider: &'a mut Provider,
    pub rotators: &'a mut Rotators,
}

/// Registers every service's resource types and rotator.
pub fn register_all(registry: &mut Registry<'_>, shared: &Shared<'_>) {
    elasticache::register(registry, shared);
    memorydb::register(registry, shared);
    mq::register(registry, shared);
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

//! The services userkeeper manages. Every service is one folder of the same shape: `mod.rs`
//! (its registration and its SDK adapters), one file per resource type, `rotator.rs`, and
//! where needed `rules.rs` (validation) and a module of API calls its resource and rotator
//! share. Adding a service is one folder plus one line in [`register_all`]. `common` is the
//! scaffolding services share; `error` the one error module they all answer with.

pub mod common;
pub mod elasticache;
pub mod error;
pub mod memorydb;
pub mod mq;
pub mod rabbitmq;

use crate::aws::Secrets;
use crate::cfn::Provider;
use crate::login::Login;
use crate::rotation::Rotators;
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
    rabbitmq::register(registry, shared);
}

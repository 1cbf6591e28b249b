//! Amazon MQ for RabbitMQ: `Custom::AmazonMQRabbitMQUser`, a user inside a RabbitMQ broker
//! with its tags and permissions, and the rotation of its password.
//!
//! Amazon MQ's user API is ActiveMQ only: a RabbitMQ broker's users live in RabbitMQ, managed
//! through its management HTTP API at the broker's console endpoint, as the broker
//! administrator whose credentials the template (or the rotated secret) names. The only
//! Amazon MQ call is `DescribeBroker`: engine, state, and where the endpoints are.
//!
//! Why the type's name: the others are `Custom::<service><noun>`, and `Custom::AmazonMQUser`
//! is the ActiveMQ user; this is the same service's user on the engine AWS calls RabbitMQ.

mod broker;
mod management;
mod ownership;
mod rotator;
mod rules;
mod user;

pub use rotator::Rotator;
pub use rules::Permission;
pub use user::{User, UserProps};

use super::{Registry, Shared};
use crate::aws::Lazy;
use aws_sdk_mq::Client;
use broker::Brokers;
use management::Management;
use std::sync::Arc;

/// Registers this service's resource type and rotator.
pub fn register(registry: &mut Registry<'_>, shared: &Shared<'_>) {
    let brokers = Brokers {
        client: Lazy::client(shared.sdk, Client::new),
    };
    let management = Arc::new(Management::new(shared.login.clone()));
    registry.provider.register(User {
        brokers: brokers.clone(),
        management: management.clone(),
        secrets: shared.secrets.clone(),
    });
    registry.rotators.register(Rotator {
        brokers,
        management,
        secrets: shared.secrets.clone(),
        login: shared.login.clone(),
    });
}

//! Amazon MQ (ActiveMQ): `Custom::AmazonMQUser`, a single broker user, which CloudFormation
//! itself cannot express (its users live only inside `AWS::AmazonMQ::Broker`), and the
//! rotation of a user's password.
//!
//! ActiveMQ applies user changes only at the broker's next reboot or maintenance window. By
//! default a change is left pending (and `PendingChange` says so); with `ApplyImmediately` the
//! broker is rebooted once per request and the operation waits until the change is live.
//!
//! MQ users carry no tags, so what userkeeper knows of a user it manages (owner, last request
//! sent, bound secret) is one broker tag per user: see `record`, and why a broker can hold at
//! most 50 managed users that way, less its own tags.

mod broker;
mod record;
mod rotator;
mod user;

pub use rotator::Rotator;
pub use user::{User, UserProps};

use super::{Registry, Shared};
use crate::aws::Lazy;
use crate::services::common::amazon_mq::api;
use aws_sdk_mq::Client;
use broker::Brokers;

/// Registers this service's resource type and rotator.
pub fn register(registry: &mut Registry<'_>, shared: &Shared<'_>) {
    let brokers = Brokers {
        client: Lazy::client(shared.sdk, Client::new),
    };
    registry
        .provider
        .register(User::new(brokers.clone(), shared.secrets.clone()));
    registry.rotators.register(Rotator {
        brokers,
        secrets: shared.secrets.clone(),
        login: shared.login.clone(),
    });
}

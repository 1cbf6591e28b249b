//! Scaffolding the services share where their logic really is the same: waiting for a
//! resource to settle, ownership and template tags, membership diffs, authentication from
//! properties, the Redis-family rules and the `two-passwords` rotation strategy. Resource
//! bodies (create, update, delete) stay in each service: their differences are domain rules.

pub(crate) mod amazon_mq;
pub(crate) mod auth;
pub mod binding;
pub mod lifecycle;
pub(crate) mod membership;
pub(crate) mod rules;
pub mod tags;
pub mod two_passwords;

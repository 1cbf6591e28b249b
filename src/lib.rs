//! userkeeper: one Lambda that keeps data-store users under CloudFormation and rotates their
//! passwords. `cfn` and `rotation` are the protocols; `services` the AWS services.

pub mod aws;
pub mod cfn;
pub mod dispatch;
pub mod error;
pub mod logging;
pub mod login;
pub mod metrics;
pub mod redact;
pub mod rotation;
pub mod services;
pub mod tls;
pub mod wait;

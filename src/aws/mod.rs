//! The AWS services userkeeper uses but does not manage: Secrets Manager (template passwords,
//! and the store the rotation protocol works on) and Lambda (continuing a wait in a new
//! invocation). The protocols reach them through their traits (`rotation::SecretStore`,
//! `cfn::continuation::Continuer`), so `cfn/` and `rotation/` stay free of AWS clients.

pub mod http;
pub mod lambda;
pub mod secrets;

pub use lambda::SelfInvoke;
pub use secrets::{SecretError, Secrets};

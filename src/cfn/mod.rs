//! The CloudFormation custom-resource protocol: request, response, budget, delivery, and the
//! provider that ties them together. Nothing here knows any AWS service.

pub mod budget;
pub mod continuation;
pub mod props;
pub mod provider;
pub mod request;
pub mod resource;
pub mod responder;
pub mod response;

pub use provider::{Invocation, Provider};
pub use request::Request;
pub use resource::{Cx, Outcome, Owner, Resource};

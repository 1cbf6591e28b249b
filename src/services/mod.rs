//! The services userkeeper manages. Each module owns its resource types (and, later, its
//! rotator); adding a service is one module plus one line in [`register_all`].

pub mod elasticache;

use crate::cfn::Provider;
use crate::secrets::Secrets;

/// Registers every service's resource types with the custom-resource provider.
pub fn register_all(provider: &mut Provider, sdk: &aws_config::SdkConfig, secrets: &Secrets) {
    elasticache::register(provider, sdk, secrets);
}

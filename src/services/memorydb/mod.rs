//! Amazon MemoryDB: `Custom::MemoryDBUser`, `Custom::MemoryDBACL`, and the rotation of a
//! user's passwords.

mod acl;
mod rotator;
mod user;

pub use acl::{Acl, AclProps};
pub use rotator::Rotator;
pub use user::{User, UserProps};

use super::common::tags::TagApi;
use super::{Registry, Shared};
use crate::aws::Lazy;
use crate::error::ApiError;
use async_trait::async_trait;
use aws_sdk_memorydb::Client;
use aws_sdk_memorydb::error::SdkError;
use aws_sdk_memorydb::types::Tag;

/// Registers this service's resource types and rotator.
pub fn register(registry: &mut Registry<'_>, shared: &Shared<'_>) {
    let client = Lazy::client(shared.sdk, Client::new);
    let user = || User::new(client.clone(), shared.secrets.clone());
    registry.provider.register(user());
    registry.provider.register(Acl::new(client.clone()));
    registry
        .rotators
        .register(Rotator::new(user(), shared.login.clone()));
}

/// A failed MemoryDB call.
fn api<E, R>(op: &'static str, e: SdkError<E, R>) -> ApiError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    ApiError::new("MemoryDB", op, &e)
}

fn sdk_tags(tags: Vec<(String, String)>) -> Vec<Tag> {
    tags.into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Users and ACLs are both tagged by ARN.
#[async_trait]
impl TagApi for Client {
    async fn list(&self, arn: &str) -> Result<Vec<(String, String)>, ApiError> {
        let out = self
            .list_tags()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| api("ListTags", e))?;
        Ok(out
            .tag_list()
            .iter()
            .map(|t| {
                let (k, v) = (t.key().unwrap_or_default(), t.value().unwrap_or_default());
                (k.to_owned(), v.to_owned())
            })
            .collect())
    }

    async fn add(&self, arn: &str, tags: Vec<(String, String)>) -> Result<(), ApiError> {
        self.tag_resource()
            .resource_arn(arn)
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .map_err(|e| api("TagResource", e))?;
        Ok(())
    }

    async fn remove(&self, arn: &str, keys: Vec<String>) -> Result<(), ApiError> {
        self.untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(keys))
            .send()
            .await
            .map_err(|e| api("UntagResource", e))?;
        Ok(())
    }
}

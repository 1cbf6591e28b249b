//! Amazon ElastiCache (Redis OSS and Valkey RBAC): `Custom::ElastiCacheUser`,
//! `Custom::ElastiCacheUserGroup`, and the rotation of a user's passwords.

mod rotator;
mod user;
mod user_group;

pub use rotator::Rotator;
pub use user::{User, UserProps};
pub use user_group::{UserGroup, UserGroupProps};

use super::common::tags::TagApi;
use super::{Registry, Shared};
use crate::aws::Lazy;
use crate::error::ApiError;
use async_trait::async_trait;
use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::error::SdkError;
use aws_sdk_elasticache::types::Tag;

/// Registers this service's resource types and rotator.
pub fn register(registry: &mut Registry<'_>, shared: &Shared<'_>) {
    let client = Lazy::client(shared.sdk, Client::new);
    let user = || User::new(client.clone(), shared.secrets.clone());
    registry.provider.register(user());
    registry.provider.register(UserGroup::new(client.clone()));
    registry
        .rotators
        .register(Rotator::new(user(), shared.login.clone()));
}

/// A failed ElastiCache call.
fn api<E, R>(op: &'static str, e: SdkError<E, R>) -> ApiError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    ApiError::new("ElastiCache", op, &e)
}

fn sdk_tags(tags: Vec<(String, String)>) -> Vec<Tag> {
    tags.into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Users and user groups are both tagged by ARN.
#[async_trait]
impl TagApi for Client {
    async fn list(&self, arn: &str) -> Result<Vec<(String, String)>, ApiError> {
        let out = self
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .map_err(|e| api("ListTagsForResource", e))?;
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
        self.add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .map_err(|e| api("AddTagsToResource", e))?;
        Ok(())
    }

    async fn remove(&self, arn: &str, keys: Vec<String>) -> Result<(), ApiError> {
        self.remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(keys))
            .send()
            .await
            .map_err(|e| api("RemoveTagsFromResource", e))?;
        Ok(())
    }
}

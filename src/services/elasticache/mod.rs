//! Amazon ElastiCache (Redis OSS and Valkey RBAC): `Custom::ElastiCacheUser` and
//! `Custom::ElastiCacheUserGroup`.

mod rotator;
mod user;
mod user_group;

pub use rotator::ElastiCacheRotator;
pub use user::{User, UserProps};
pub use user_group::{UserGroup, UserGroupProps};

use super::{Registry, Shared};
use crate::cfn::Owner;
use crate::cfn::props::{PropsError, Tag};
use crate::secrets::SecretError;

pub(crate) use super::is;
pub(crate) use super::rules::{check_id, check_passwords, check_tags, is_valid_id};
use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::error::{ProvideErrorMetadata, SdkError};

/// Registers this service's resource types.
pub fn register(registry: &mut Registry<'_>, shared: &Shared<'_>) {
    let client = Client::new(shared.sdk);
    let user = || User::new(client.clone(), shared.secrets.clone());
    registry.provider.register(user());
    registry.provider.register(UserGroup::new(client.clone()));
    registry.rotators.register(ElastiCacheRotator {
        client: client.clone(),
        users: user(),
        login: shared.login.clone(),
    });
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] crate::services::ApiError),
    #[error(
        "{kind} {id:?} already exists and is not managed by this stack and logical id (it lacks \
         the tags {stack_tag}/{logical_tag} naming them); pick another id, or delete the \
         existing {kind} first"
    , stack_tag = Owner::STACK_TAG, logical_tag = Owner::LOGICAL_TAG)]
    NotOwned { kind: &'static str, id: String },
    #[error(
        "changing {property} replaces the {kind}, and the replacement needs a new {id_property} \
         because ElastiCache identifies a {kind} by its {id_property}; change {id_property} \
         together with {property}"
    )]
    NeedsNewId {
        kind: &'static str,
        property: &'static str,
        id_property: &'static str,
    },
    #[error("{kind} {id:?} does not exist; it may have been deleted outside CloudFormation")]
    Missing { kind: &'static str, id: String },
    #[error(
        "user group {id:?} is still associated with replication group(s) {groups}; remove it \
         from their UserGroupIds (or delete them) before deleting the group"
    )]
    GroupInUse { id: String, groups: String },
    #[error(transparent)]
    Props(#[from] PropsError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// Turns an SDK error into one that says which call failed and why, with the service's code.
fn api<E, R>(op: &'static str, e: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    crate::services::api_error("ElastiCache", op, e).into()
}

/// The template's tags plus the ownership tags.
fn tags_with_owner(tags: &[Tag], owner: &Owner) -> Vec<aws_sdk_elasticache::types::Tag> {
    owner
        .tags()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain(tags.iter().map(|t| (t.key.clone(), t.value.clone())))
        .map(|(k, v)| {
            aws_sdk_elasticache::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
        })
        .collect()
}

/// Tag operations shared by users and groups (both are addressed by ARN).
struct Tags<'a>(&'a Client);

impl Tags<'_> {
    async fn list(&self, arn: &str) -> Result<Vec<(String, String)>, Error> {
        let out = self
            .0
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .map_err(|e| api("ListTagsForResource", e))?;
        Ok(out
            .tag_list()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                )
            })
            .collect())
    }

    async fn owned_by(&self, arn: &str, owner: &Owner) -> Result<bool, Error> {
        let tags = self.list(arn).await?;
        Ok(owner.owns(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
    }

    /// Makes the template's tags match `want`, leaving the ownership tags alone.
    async fn sync(&self, arn: &str, want: &[Tag]) -> Result<(), Error> {
        let (set, remove) = super::rules::tag_changes(&self.list(arn).await?, want);
        let add: Vec<_> = set
            .iter()
            .map(|t| {
                aws_sdk_elasticache::types::Tag::builder()
                    .key(&t.key)
                    .value(&t.value)
                    .build()
            })
            .collect();
        if !remove.is_empty() {
            self.0
                .remove_tags_from_resource()
                .resource_name(arn)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| api("RemoveTagsFromResource", e))?;
        }
        if !add.is_empty() {
            self.0
                .add_tags_to_resource()
                .resource_name(arn)
                .set_tags(Some(add))
                .send()
                .await
                .map_err(|e| api("AddTagsToResource", e))?;
        }
        Ok(())
    }
}
